/*
 * Length-delimited protobuf records, the framing of Java's
 * writeDelimitedTo() and parseDelimitedFrom(): each record is its length
 * as a base-128 varint (at most 10 bytes, least significant group first)
 * followed by that many bytes of one packed message. A file of records has
 * no header and no trailer. A zero length is a valid record: the packed
 * form of a message whose fields all have their default values.
 */
#ifndef HEARTH_DELIMITED_H
#define HEARTH_DELIMITED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Largest record the reader accepts by default: Kafka's default
 * message.max.bytes (1048588) rounded down to 1 MiB. */
#define HEARTH_DELIMITED_MAX_RECORD (1024 * 1024)

/* Maximum length of the varint prefix of a 64-bit length. */
#define HEARTH_DELIMITED_MAX_PREFIX 10

typedef enum hearth_delimited_status {
        HEARTH_DELIMITED_OK = 0,
        HEARTH_DELIMITED_EOF,           /* clean end: no byte of a record */
        HEARTH_DELIMITED_TRUNCATED,     /* input ends inside a record */
        HEARTH_DELIMITED_TOO_LARGE,     /* length above the reader's max */
        HEARTH_DELIMITED_BAD_PREFIX,    /* varint longer than 10 bytes */
        HEARTH_DELIMITED_IO_ERROR       /* see errno */
} hearth_delimited_status_t;

typedef struct hearth_delimited_reader hearth_delimited_reader_t;

/*
 * Writes the varint prefix of len to out (at least
 * HEARTH_DELIMITED_MAX_PREFIX bytes); returns the number of bytes written.
 */
size_t hearth_delimited_prefix(uint64_t len, uint8_t *out);

/* Writes one record to fp; returns 0, or -1 when a write failed. */
int hearth_delimited_write(FILE *fp, const void *data, size_t len);

/*
 * Creates a reader on fp, which stays the caller's. Records longer than
 * max_record bytes are rejected with HEARTH_DELIMITED_TOO_LARGE; 0 selects
 * HEARTH_DELIMITED_MAX_RECORD.
 */
hearth_delimited_reader_t *hearth_delimited_reader_new(FILE *fp,
                                                       size_t max_record);

/*
 * Reads the next record. On HEARTH_DELIMITED_OK, *data points to its *len
 * bytes, valid until the next call. After any other status the reader
 * cannot resynchronize, so the caller stops. *offset (when not NULL) is
 * the byte offset of the record's prefix in the input.
 */
hearth_delimited_status_t hearth_delimited_next(hearth_delimited_reader_t *r,
                                                const uint8_t **data,
                                                size_t *len,
                                                uint64_t *offset);

/* Describes a status in a few words, e.g. "truncated record". */
const char *hearth_delimited_strerror(hearth_delimited_status_t status);

void hearth_delimited_reader_free(hearth_delimited_reader_t *r);

#endif
