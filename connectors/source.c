/*
 * CSV and JSON Lines record sources.
 */
#include "connectors/source.h"

#include <stdlib.h>
#include <string.h>

#include "connectors/csv.h"
#include "connectors/text.h"

struct hearth_source {
        hearth_profile_t *profile;
        FILE *fp;
        hearth_csv_t *csv;
        uint64_t records;       /* data records returned so far */
        char *line;             /* JSON Lines buffer */
        size_t line_cap;
        json_t *object;
};

static int bind_header(hearth_source_t *src, hearth_csv_record_t *header,
                       char *errstr, size_t errstr_size)
{
        hearth_profile_t *p = src->profile;
        hearth_text_converter_t *conv = NULL;
        char **names = calloc(header->nfields + 1, sizeof(*names));
        size_t *lengths = calloc(header->nfields + 1, sizeof(*lengths));
        int rc = -1;

        if (p->encoding && strcasecmp(p->encoding, "UTF-8") != 0 &&
            strcasecmp(p->encoding, "UTF8") != 0) {
                conv = hearth_text_converter_new(p->encoding, errstr,
                                                 errstr_size);
                if (!conv)
                        goto out;
        }
        for (size_t i = 0; i < header->nfields; i++) {
                if (conv && hearth_text_convert(conv, header->fields[i],
                                                header->lengths[i], &names[i],
                                                &lengths[i]) != 0) {
                        snprintf(errstr, errstr_size,
                                 "header column %zu is not valid %s", i + 1,
                                 p->encoding);
                        goto out;
                }
                if (!conv) {
                        names[i] = strndup(header->fields[i],
                                           header->lengths[i]);
                        /* strndup stops at a NUL byte inside the field. */
                        lengths[i] = strlen(names[i]);
                }
        }
        rc = hearth_profile_bind_header(p, names, lengths, header->nfields,
                                        errstr, errstr_size);
out:
        for (size_t i = 0; i < header->nfields; i++)
                free(names[i]);
        free(names);
        free(lengths);
        if (conv)
                hearth_text_converter_free(conv);
        return rc;
}

static int open_csv(hearth_source_t *src, char *errstr, size_t errstr_size)
{
        hearth_csv_record_t header;
        hearth_csv_status_t st;

        src->csv = hearth_csv_open(src->fp, &src->profile->limits);
        if (!src->csv) {
                snprintf(errstr, errstr_size, "out of memory");
                return -1;
        }
        if (!src->profile->header)
                return 0;
        st = hearth_csv_next(src->csv, &header);
        if (st == HEARTH_CSV_EOF) {
                snprintf(errstr, errstr_size, "input is empty: no header");
                return -1;
        }
        if (st != HEARTH_CSV_OK) {
                snprintf(errstr, errstr_size, "cannot read the header: %s",
                         st == HEARTH_CSV_BAD_RECORD ? header.error
                                                     : "read error");
                return -1;
        }
        return bind_header(src, &header, errstr, errstr_size);
}

hearth_source_t *hearth_source_open(FILE *fp, hearth_profile_t *profile,
                                    char *errstr, size_t errstr_size)
{
        hearth_source_t *src = calloc(1, sizeof(*src));

        src->profile = profile;
        src->fp = fp;
        if (profile->format == HEARTH_FORMAT_CSV &&
            open_csv(src, errstr, errstr_size) != 0) {
                hearth_source_close(src);
                return NULL;
        }
        return src;
}

static hearth_source_status_t next_csv(hearth_source_t *src,
                                       hearth_source_record_t *rec)
{
        hearth_csv_record_t r;
        hearth_csv_status_t st = hearth_csv_next(src->csv, &r);

        if (st == HEARTH_CSV_EOF)
                return HEARTH_SOURCE_EOF;
        if (st == HEARTH_CSV_IO_ERROR)
                return HEARTH_SOURCE_IO_ERROR;
        rec->record_number = ++src->records;
        rec->raw = r.raw;
        rec->raw_len = r.raw_len;
        if (st == HEARTH_CSV_BAD_RECORD) {
                rec->reason = r.error;
                return HEARTH_SOURCE_BAD;
        }
        rec->row.fields = r.fields;
        rec->row.lengths = r.lengths;
        rec->row.nfields = r.nfields;
        return HEARTH_SOURCE_OK;
}

/* Reads one line of at most max bytes; longer lines are skipped whole. */
static ssize_t read_line(hearth_source_t *src, size_t max, int *too_long)
{
        ssize_t n;

        *too_long = 0;
        n = getline(&src->line, &src->line_cap, src->fp);
        if (n < 0)
                return n;
        while (n > 0 && (src->line[n - 1] == '\n' || src->line[n - 1] == '\r'))
                src->line[--n] = '\0';
        if ((size_t)n > max)
                *too_long = 1;
        return n;
}

static hearth_source_status_t next_jsonl(hearth_source_t *src,
                                         hearth_source_record_t *rec)
{
        size_t max = src->profile->limits.max_record_bytes;
        json_error_t jerr;
        int too_long;
        ssize_t n;

        do {
                n = read_line(src, max, &too_long);
                if (n < 0)
                        return ferror(src->fp) ? HEARTH_SOURCE_IO_ERROR
                                               : HEARTH_SOURCE_EOF;
        } while (n == 0);
        rec->record_number = ++src->records;
        rec->raw = src->line;
        rec->raw_len = (size_t)n < max ? (size_t)n : max;
        if (too_long) {
                rec->reason = "record_too_long";
                return HEARTH_SOURCE_BAD;
        }
        if (!hearth_utf8_valid(src->line, (size_t)n)) {
                rec->reason = "invalid_utf8";
                return HEARTH_SOURCE_BAD;
        }
        src->object = json_loadb(src->line, (size_t)n, JSON_REJECT_DUPLICATES,
                                 &jerr);
        if (!src->object || !json_is_object(src->object)) {
                rec->reason = src->object ? "not_an_object" : "invalid_json";
                return HEARTH_SOURCE_BAD;
        }
        rec->row.object = src->object;
        return HEARTH_SOURCE_OK;
}

hearth_source_status_t hearth_source_next(hearth_source_t *src,
                                          hearth_source_record_t *rec)
{
        memset(rec, 0, sizeof(*rec));
        if (src->object) {
                json_decref(src->object);
                src->object = NULL;
        }
        if (src->profile->format == HEARTH_FORMAT_CSV)
                return next_csv(src, rec);
        return next_jsonl(src, rec);
}

void hearth_source_close(hearth_source_t *src)
{
        if (!src)
                return;
        if (src->csv)
                hearth_csv_close(src->csv);
        if (src->object)
                json_decref(src->object);
        free(src->line);
        free(src);
}
