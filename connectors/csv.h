/*
 * Streaming CSV reader (RFC 4180) with input limits enforced while reading.
 *
 * Accepts quoted fields containing commas, quotes ("" inside quotes) and
 * newlines, CRLF or LF line ends, and a UTF-8 byte order mark at the start of
 * the input (skipped). Blank lines are skipped and count as no record.
 * Bytes are returned as they are: encoding checks and conversion happen in
 * the caller (see hearth_utf8_valid and hearth_text_convert in text.h). A
 * record that breaks a limit or the quoting rules is reported as
 * HEARTH_CSV_BAD_RECORD with a reason code, and the reader continues with
 * the next record.
 *
 * Thread safety: a reader is used by one thread at a time.
 */
#ifndef HEARTH_CSV_H
#define HEARTH_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hearth_csv hearth_csv_t;

/* A member left 0 takes its default. */
typedef struct hearth_csv_limits {
        size_t max_record_bytes;        /* raw bytes of one record */
        size_t max_field_bytes;         /* bytes of one field after unquoting */
        size_t max_fields;              /* fields in one record */
} hearth_csv_limits_t;

/* Defaults: 64 KiB per record, 16 KiB per field, 256 fields. */
#define HEARTH_CSV_DEFAULT_MAX_RECORD_BYTES (64 * 1024)
#define HEARTH_CSV_DEFAULT_MAX_FIELD_BYTES (16 * 1024)
#define HEARTH_CSV_DEFAULT_MAX_FIELDS 256

typedef enum hearth_csv_status {
        HEARTH_CSV_OK = 0,
        HEARTH_CSV_EOF,
        HEARTH_CSV_BAD_RECORD,  /* see record->error; the next call goes on */
        HEARTH_CSV_IO_ERROR     /* read error on the stream, or out of
                                 * memory (errno is ENOMEM); stop */
} hearth_csv_status_t;

/*
 * One record. Pointers stay valid until the next hearth_csv_next() or
 * hearth_csv_close() on the same reader. Each field is NUL-terminated and
 * may also contain NUL bytes (lengths[] is authoritative). A bad record has
 * nfields 0 and NULL fields, but its raw bytes, numbers and error are set.
 */
typedef struct hearth_csv_record {
        size_t nfields;
        char **fields;
        size_t *lengths;
        uint64_t record_number;  /* 1-based, counting the header record too */
        uint64_t line_number;    /* 1-based physical line the record starts on */
        const char *error;       /* reason code when HEARTH_CSV_BAD_RECORD:
                                  * "record_too_long", "field_too_long",
                                  * "too_many_fields", "unterminated_quote",
                                  * "invalid_quote" */
        const char *raw;         /* raw bytes of the record, without the line
                                  * end; truncated to max_record_bytes */
        size_t raw_len;
} hearth_csv_record_t;

/*
 * Creates a reader on fp; limits may be NULL for the defaults. The reader
 * does not own fp. Returns NULL only when out of memory.
 */
hearth_csv_t *hearth_csv_open(FILE *fp, const hearth_csv_limits_t *limits);

hearth_csv_status_t hearth_csv_next(hearth_csv_t *csv,
                                    hearth_csv_record_t *record);

void hearth_csv_close(hearth_csv_t *csv);

#endif
