/*
 * Length-delimited protobuf records (see delimited.h). The reader keeps one
 * buffer that grows to the largest record read, so a file of records is
 * read with one allocation per size doubling.
 */
#include "connectors/delimited.h"

#include <stdlib.h>

struct hearth_delimited_reader {
        FILE *fp;
        size_t max_record;
        uint8_t *buf;
        size_t cap;
        uint64_t offset;        /* bytes consumed so far */
};

size_t hearth_delimited_prefix(uint64_t len, uint8_t *out)
{
        size_t n = 0;

        while (len >= 0x80) {
                out[n++] = (uint8_t)(len | 0x80);
                len >>= 7;
        }
        out[n++] = (uint8_t)len;
        return n;
}

int hearth_delimited_write(FILE *fp, const void *data, size_t len)
{
        uint8_t prefix[HEARTH_DELIMITED_MAX_PREFIX];
        size_t n = hearth_delimited_prefix(len, prefix);

        if (fwrite(prefix, 1, n, fp) != n)
                return -1;
        if (len > 0 && fwrite(data, 1, len, fp) != len)
                return -1;
        return 0;
}

hearth_delimited_reader_t *hearth_delimited_reader_new(FILE *fp,
                                                       size_t max_record)
{
        hearth_delimited_reader_t *r = calloc(1, sizeof(*r));

        if (!r)
                return NULL;
        r->fp = fp;
        r->max_record = max_record ? max_record : HEARTH_DELIMITED_MAX_RECORD;
        return r;
}

/* Reads the varint prefix; EOF before its first byte is a clean end. */
static hearth_delimited_status_t read_prefix(hearth_delimited_reader_t *r,
                                             uint64_t *len)
{
        uint64_t value = 0;
        int c;

        for (int i = 0; i < HEARTH_DELIMITED_MAX_PREFIX; i++) {
                c = getc(r->fp);
                if (c == EOF) {
                        if (ferror(r->fp))
                                return HEARTH_DELIMITED_IO_ERROR;
                        return i == 0 ? HEARTH_DELIMITED_EOF
                                      : HEARTH_DELIMITED_TRUNCATED;
                }
                r->offset++;
                /* The tenth byte carries bit 63 only. */
                if (i == HEARTH_DELIMITED_MAX_PREFIX - 1 && (c & 0xfe) != 0)
                        return HEARTH_DELIMITED_BAD_PREFIX;
                value |= (uint64_t)(c & 0x7f) << (7 * i);
                if (!(c & 0x80)) {
                        *len = value;
                        return HEARTH_DELIMITED_OK;
                }
        }
        return HEARTH_DELIMITED_BAD_PREFIX;
}

static int reserve(hearth_delimited_reader_t *r, size_t len)
{
        size_t cap = r->cap ? r->cap : 256;
        uint8_t *buf;

        if (len <= r->cap)
                return 0;
        while (cap < len)
                cap *= 2;
        buf = realloc(r->buf, cap);
        if (!buf)
                return -1;
        r->buf = buf;
        r->cap = cap;
        return 0;
}

hearth_delimited_status_t hearth_delimited_next(hearth_delimited_reader_t *r,
                                                const uint8_t **data,
                                                size_t *len,
                                                uint64_t *offset)
{
        hearth_delimited_status_t st;
        uint64_t record_len = 0;
        size_t got;

        if (offset)
                *offset = r->offset;
        st = read_prefix(r, &record_len);
        if (st != HEARTH_DELIMITED_OK)
                return st;
        if (record_len > r->max_record)
                return HEARTH_DELIMITED_TOO_LARGE;
        if (reserve(r, record_len > 0 ? record_len : 1) != 0)
                return HEARTH_DELIMITED_IO_ERROR;

        got = fread(r->buf, 1, record_len, r->fp);
        r->offset += got;
        if (got < record_len)
                return ferror(r->fp) ? HEARTH_DELIMITED_IO_ERROR
                                     : HEARTH_DELIMITED_TRUNCATED;
        *data = r->buf;
        *len = record_len;
        return HEARTH_DELIMITED_OK;
}

const char *hearth_delimited_strerror(hearth_delimited_status_t status)
{
        switch (status) {
        case HEARTH_DELIMITED_OK: return "no error";
        case HEARTH_DELIMITED_EOF: return "end of input";
        case HEARTH_DELIMITED_TRUNCATED: return "truncated record";
        case HEARTH_DELIMITED_TOO_LARGE: return "record length too large";
        case HEARTH_DELIMITED_BAD_PREFIX: return "invalid length prefix";
        case HEARTH_DELIMITED_IO_ERROR: return "read error";
        }
        return "unknown status";
}

void hearth_delimited_reader_free(hearth_delimited_reader_t *r)
{
        if (!r)
                return;
        free(r->buf);
        free(r);
}
