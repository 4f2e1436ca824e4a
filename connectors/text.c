/*
 * UTF-8 validation and iconv conversion of connector input to UTF-8.
 *
 * The converter opens iconv without //TRANSLIT or //IGNORE, so a byte
 * sequence that is invalid in the source encoding fails the conversion
 * instead of being replaced or dropped.
 */
#include "text.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hearth_text_converter {
        iconv_t cd;
};

/*
 * Returns the length of the well-formed multi-byte sequence at s (at most
 * len bytes), or 0. The ranges follow RFC 3629, section 4: the second byte's
 * range after E0, ED, F0 and F4 excludes overlong forms, surrogates and code
 * points above U+10FFFF.
 */
static size_t utf8_sequence_length(const unsigned char *s, size_t len)
{
        unsigned char lead = s[0];
        unsigned char low = 0x80;
        unsigned char high = 0xBF;
        size_t need;

        if (lead >= 0xC2 && lead <= 0xDF)
                need = 2;
        else if (lead >= 0xE0 && lead <= 0xEF)
                need = 3;
        else if (lead >= 0xF0 && lead <= 0xF4)
                need = 4;
        else
                return 0;
        if (lead == 0xE0)
                low = 0xA0;
        else if (lead == 0xED)
                high = 0x9F;
        else if (lead == 0xF0)
                low = 0x90;
        else if (lead == 0xF4)
                high = 0x8F;
        if (len < need || s[1] < low || s[1] > high)
                return 0;
        for (size_t i = 2; i < need; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
        }
        return need;
}

bool hearth_utf8_valid(const char *s, size_t len)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        while (i < len) {
                size_t n;

                if (p[i] >= 0x01 && p[i] <= 0x7F) {
                        i++;
                        continue;
                }
                /* A NUL lead byte also ends up here and is rejected. */
                n = utf8_sequence_length(p + i, len - i);
                if (n == 0)
                        return false;
                i += n;
        }
        return true;
}

static void set_error(char *errstr, size_t errstr_size, const char *from,
                      int err)
{
        if (errstr == NULL || errstr_size == 0)
                return;
        snprintf(errstr, errstr_size,
                 "cannot convert from encoding \"%s\" to UTF-8: %s",
                 from != NULL ? from : "(null)", strerror(err));
}

hearth_text_converter_t *
hearth_text_converter_new(const char *from, char *errstr, size_t errstr_size)
{
        hearth_text_converter_t *conv;

        if (from == NULL) {
                set_error(errstr, errstr_size, from, EINVAL);
                return NULL;
        }
        conv = malloc(sizeof(*conv));
        if (conv == NULL) {
                set_error(errstr, errstr_size, from, ENOMEM);
                return NULL;
        }
        conv->cd = iconv_open("UTF-8", from);
        if (conv->cd == (iconv_t)-1) {
                set_error(errstr, errstr_size, from, errno);
                free(conv);
                return NULL;
        }
        return conv;
}

/* Doubles the capacity of *buf, keeping its bytes. Returns false when out
 * of memory. */
static bool grow_output(char **buf, size_t *cap)
{
        char *grown;

        if (*cap > SIZE_MAX / 2)
                return false;
        grown = realloc(*buf, *cap * 2);
        if (grown == NULL)
                return false;
        *buf = grown;
        *cap *= 2;
        return true;
}

/*
 * Runs iconv over the input, then with a NULL input to flush the shift
 * state of stateful encodings, growing the output on E2BIG. Returns the
 * output length, or -1 on invalid or truncated input or out of memory.
 */
static long long run_iconv(iconv_t cd, const char *in, size_t len, char **buf,
                           size_t *cap)
{
        char *inp = (char *)in;
        size_t inleft = len;
        size_t used = 0;
        bool flushing = false;

        for (;;) {
                char *outp = *buf + used;
                /* One byte stays free for the terminating NUL. */
                size_t outleft = *cap - used - 1;
                size_t rc = flushing
                                ? iconv(cd, NULL, NULL, &outp, &outleft)
                                : iconv(cd, &inp, &inleft, &outp, &outleft);
                int err = errno;

                used = (size_t)(outp - *buf);
                if (rc != (size_t)-1) {
                        if (flushing)
                                return (long long)used;
                        flushing = true;
                        continue;
                }
                if (err != E2BIG || !grow_output(buf, cap))
                        return -1;
        }
}

int hearth_text_convert(hearth_text_converter_t *conv, const char *in,
                        size_t len, char **out, size_t *out_len)
{
        /* Enough for ASCII. CJK text from a double-byte encoding needs
         * more and takes the E2BIG path. */
        size_t cap = len + 16;
        char *buf = malloc(cap);
        long long used;
        int rc = -1;

        if (buf == NULL)
                goto out;
        /* Reset the shift state a failed earlier call may have left. */
        iconv(conv->cd, NULL, NULL, NULL, NULL);
        used = run_iconv(conv->cd, in, len, &buf, &cap);
        if (used < 0)
                goto out;
        buf[used] = '\0';
        *out = buf;
        *out_len = (size_t)used;
        buf = NULL;
        rc = 0;
out:
        free(buf);
        return rc;
}

void hearth_text_converter_free(hearth_text_converter_t *conv)
{
        if (conv == NULL)
                return;
        iconv_close(conv->cd);
        free(conv);
}
