/*
 * Text helpers for connector input: UTF-8 validation and conversion of a
 * field from a legacy encoding (GB18030, GBK, Latin-1, ...) to UTF-8.
 */
#ifndef HEARTH_TEXT_H
#define HEARTH_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Returns true when the len bytes at s are well-formed UTF-8 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF) with no NUL.
 */
bool hearth_utf8_valid(const char *s, size_t len);

typedef struct hearth_text_converter hearth_text_converter_t;

/*
 * Creates a converter from the iconv encoding name "from" (e.g. "GB18030")
 * to UTF-8. Returns NULL and fills errstr if iconv does not know the name.
 */
hearth_text_converter_t *hearth_text_converter_new(const char *from,
                                                   char *errstr,
                                                   size_t errstr_size);

/*
 * Converts len bytes at in. On success returns 0 and sets *out (a malloc'd,
 * NUL-terminated string the caller frees) and *out_len. Returns -1 when the
 * input is not valid in the source encoding.
 */
int hearth_text_convert(hearth_text_converter_t *conv, const char *in,
                        size_t len, char **out, size_t *out_len);

void hearth_text_converter_free(hearth_text_converter_t *conv);

#endif
