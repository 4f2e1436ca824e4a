/*
 * Streaming CSV reader: a state machine over blocks read with fread.
 *
 * Runs of ordinary bytes are copied with one memcpy each, so the per-byte
 * work is only the scan for the next special byte. Where RFC 4180 is silent
 * or strict, these rules apply:
 *   - a blank line (nothing but a line end) is skipped and is no record;
 *   - a quote inside an unquoted field is kept as data;
 *   - a CR is a line end only before LF or at the end of the input, and is
 *     data anywhere else;
 *   - line numbers count LF bytes, so a lone CR does not start a line.
 *
 * A record that breaks a rule or a limit is still scanned to its end with
 * the quote state tracked, so the next call starts at the next record even
 * when the bad one has quoted line ends. Its fields are not stored.
 */
#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Bytes requested from fread at a time. The tests place fields across this
 * boundary, so keep them in step when changing it. */
#define BLOCK_SIZE (64 * 1024)

enum parse_state {
        FIELD_START, /* nothing of the current field read yet */
        UNQUOTED,    /* inside an unquoted field */
        QUOTED,      /* inside quotes */
        QUOTE_SEEN,  /* a quote inside quotes: closing, or first of "" */
};

enum step_result {
        STEP_CONTINUE,
        STEP_RECORD_END,
        STEP_EOF_IN_QUOTES,
        STEP_READ_ERROR,
};

struct hearth_csv {
        FILE *fp;
        hearth_csv_limits_t limits;

        char *block;      /* BLOCK_SIZE bytes read ahead */
        size_t pos;       /* next unread byte in block */
        size_t len;       /* bytes of block that hold input */
        bool input_ended; /* fread has reported end of file */
        bool read_failed; /* fread has reported an error */
        bool at_start;    /* nothing consumed yet: BOM allowed */
        bool finished;    /* EOF already returned, or will be next */
        uint64_t line;    /* physical line of the next unread byte */
        uint64_t records;

        /* The record being read. */
        enum parse_state state;
        const char *error;
        char *raw;
        size_t raw_len;   /* stored, at most max_record_bytes */
        size_t raw_total; /* seen, including bytes not stored */
        size_t raw_cap;
        char *data; /* fields, each followed by a NUL */
        size_t data_len;
        size_t data_cap;
        size_t field_len; /* bytes of the current field so far */
        char **fields;
        size_t *lengths;
        size_t nfields;
        size_t fields_cap;
        bool out_of_memory;
};

static size_t limit_or_default(size_t value, size_t fallback)
{
        return value != 0 ? value : fallback;
}

hearth_csv_t *hearth_csv_open(FILE *fp, const hearth_csv_limits_t *limits)
{
        hearth_csv_t *csv = calloc(1, sizeof(*csv));
        hearth_csv_limits_t requested = {0, 0, 0};

        if (csv == NULL)
                return NULL;
        csv->block = malloc(BLOCK_SIZE);
        if (csv->block == NULL) {
                free(csv);
                return NULL;
        }
        if (limits != NULL)
                requested = *limits;
        csv->limits.max_record_bytes = limit_or_default(
            requested.max_record_bytes, HEARTH_CSV_DEFAULT_MAX_RECORD_BYTES);
        csv->limits.max_field_bytes = limit_or_default(
            requested.max_field_bytes, HEARTH_CSV_DEFAULT_MAX_FIELD_BYTES);
        csv->limits.max_fields = limit_or_default(
            requested.max_fields, HEARTH_CSV_DEFAULT_MAX_FIELDS);
        csv->fp = fp;
        csv->at_start = true;
        csv->line = 1;
        return csv;
}

void hearth_csv_close(hearth_csv_t *csv)
{
        if (csv == NULL)
                return;
        free(csv->block);
        free(csv->raw);
        free(csv->data);
        free(csv->fields);
        free(csv->lengths);
        free(csv);
}

/*
 * Makes at least want unread bytes available unless the input ends first,
 * and returns how many are available. Moves the unread tail to the front of
 * the block, so pointers into the block do not survive a call.
 */
static size_t fill(hearth_csv_t *csv, size_t want)
{
        size_t have = csv->len - csv->pos;

        if (have >= want || csv->input_ended)
                return have;
        memmove(csv->block, csv->block + csv->pos, have);
        csv->pos = 0;
        csv->len = have;
        while (csv->len < want && !csv->input_ended) {
                size_t room = BLOCK_SIZE - csv->len;
                size_t got = fread(csv->block + csv->len, 1, room, csv->fp);

                csv->len += got;
                /* fread returns short only at end of file or on error. */
                if (got < room) {
                        csv->input_ended = true;
                        csv->read_failed = ferror(csv->fp) != 0;
                }
        }
        return csv->len - csv->pos;
}

/* Grows *buf to hold at least need bytes. Returns false when out of memory. */
static bool reserve(char **buf, size_t *cap, size_t need)
{
        size_t size = *cap != 0 ? *cap : 256;
        char *grown;

        if (need <= *cap)
                return true;
        while (size < need)
                size *= 2;
        grown = realloc(*buf, size);
        if (grown == NULL)
                return false;
        *buf = grown;
        *cap = size;
        return true;
}

static void mark_bad(hearth_csv_t *csv, const char *reason)
{
        if (csv->error == NULL)
                csv->error = reason;
}

/* Stores the raw bytes that still fit under max_record_bytes. */
static void add_raw(hearth_csv_t *csv, const char *bytes, size_t n)
{
        size_t max = csv->limits.max_record_bytes;
        size_t keep = 0;

        if (csv->raw_len < max)
                keep = max - csv->raw_len < n ? max - csv->raw_len : n;
        if (keep > 0) {
                if (!reserve(&csv->raw, &csv->raw_cap, csv->raw_len + keep))
                        csv->out_of_memory = true;
                else {
                        memcpy(csv->raw + csv->raw_len, bytes, keep);
                        csv->raw_len += keep;
                }
        }
        csv->raw_total += n;
}

/*
 * Adds n bytes that belong to the raw record and, when to_field is set, to
 * the current field. The first limit the bytes cross decides the reason.
 */
static void add_bytes(hearth_csv_t *csv, const char *bytes, size_t n,
                      bool to_field)
{
        size_t record_room = csv->limits.max_record_bytes - csv->raw_total;
        size_t field_room = csv->limits.max_field_bytes - csv->field_len;

        if (csv->raw_total + n > csv->limits.max_record_bytes) {
                if (!to_field || field_room >= record_room)
                        mark_bad(csv, "record_too_long");
        }
        if (to_field && csv->field_len + n > csv->limits.max_field_bytes)
                mark_bad(csv, "field_too_long");
        add_raw(csv, bytes, n);
        if (!to_field || csv->error != NULL)
                return;
        if (!reserve(&csv->data, &csv->data_cap, csv->data_len + n + 1)) {
                csv->out_of_memory = true;
                return;
        }
        memcpy(csv->data + csv->data_len, bytes, n);
        csv->data_len += n;
        csv->field_len += n;
}

static bool grow_field_arrays(hearth_csv_t *csv)
{
        size_t cap = csv->fields_cap != 0 ? csv->fields_cap * 2 : 16;
        size_t *lengths = realloc(csv->lengths, cap * sizeof(*lengths));
        char **fields;

        if (lengths == NULL)
                return false;
        csv->lengths = lengths;
        fields = realloc(csv->fields, cap * sizeof(*fields));
        if (fields == NULL)
                return false;
        csv->fields = fields;
        csv->fields_cap = cap;
        return true;
}

static void end_field(hearth_csv_t *csv)
{
        size_t need = csv->nfields + 1;

        if (csv->error != NULL)
                return;
        if (csv->nfields == csv->limits.max_fields) {
                mark_bad(csv, "too_many_fields");
                return;
        }
        if (need > csv->fields_cap && !grow_field_arrays(csv)) {
                csv->out_of_memory = true;
                return;
        }
        /* add_bytes reserved room for this NUL, but an empty field gets
         * here without calling it. */
        if (!reserve(&csv->data, &csv->data_cap, csv->data_len + 1)) {
                csv->out_of_memory = true;
                return;
        }
        csv->data[csv->data_len++] = '\0';
        csv->lengths[csv->nfields++] = csv->field_len;
        csv->field_len = 0;
}

/*
 * Consumes a line end that starts with the CR at the read position: CR LF,
 * or a CR that is the last byte of the input. Returns false, consuming
 * nothing, when the CR is followed by anything else.
 */
static bool take_cr_line_end(hearth_csv_t *csv)
{
        size_t have = fill(csv, 2);

        if (have >= 2 && csv->block[csv->pos + 1] == '\n') {
                csv->pos += 2;
                csv->line++;
                return true;
        }
        if (have == 1) {
                csv->pos++;
                return true;
        }
        return false;
}

/* Returns the length of the leading run of bytes other than , CR and LF. */
static size_t scan_unquoted(const char *p, size_t n)
{
        size_t i = 0;

        while (i < n && p[i] != ',' && p[i] != '\n' && p[i] != '\r')
                i++;
        return i;
}

static uint64_t count_lf(const char *p, size_t n)
{
        uint64_t count = 0;
        const char *end = p + n;

        while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
                count++;
                p++;
        }
        return count;
}

/* Handles the byte after a field or a closing quote: , CR or LF. */
static enum step_result step_separator(hearth_csv_t *csv, char c)
{
        if (c == ',') {
                add_bytes(csv, ",", 1, false);
                csv->pos++;
                end_field(csv);
                csv->state = FIELD_START;
                return STEP_CONTINUE;
        }
        if (c == '\n') {
                csv->pos++;
                csv->line++;
                end_field(csv);
                return STEP_RECORD_END;
        }
        if (take_cr_line_end(csv)) {
                end_field(csv);
                return STEP_RECORD_END;
        }
        /* A lone CR: data in an unquoted field, an error after quotes. */
        if (csv->state == QUOTE_SEEN)
                mark_bad(csv, "invalid_quote");
        add_bytes(csv, "\r", 1, true);
        csv->pos++;
        csv->state = UNQUOTED;
        return STEP_CONTINUE;
}

static enum step_result step_unquoted(hearth_csv_t *csv)
{
        const char *p = csv->block + csv->pos;
        size_t run = scan_unquoted(p, csv->len - csv->pos);

        add_bytes(csv, p, run, true);
        csv->pos += run;
        if (csv->pos == csv->len)
                return STEP_CONTINUE;
        return step_separator(csv, csv->block[csv->pos]);
}

static enum step_result step_quoted(hearth_csv_t *csv)
{
        const char *p = csv->block + csv->pos;
        size_t avail = csv->len - csv->pos;
        const char *quote = memchr(p, '"', avail);
        size_t run = quote != NULL ? (size_t)(quote - p) : avail;

        csv->line += count_lf(p, run);
        add_bytes(csv, p, run, true);
        csv->pos += run;
        if (quote != NULL) {
                add_bytes(csv, "\"", 1, false);
                csv->pos++;
                csv->state = QUOTE_SEEN;
        }
        return STEP_CONTINUE;
}

static enum step_result step_quote_seen(hearth_csv_t *csv)
{
        char c = csv->block[csv->pos];

        if (c == '"') {
                /* The first quote of the pair went to the raw record only;
                 * this one goes to both. */
                add_bytes(csv, "\"", 1, true);
                csv->pos++;
                csv->state = QUOTED;
                return STEP_CONTINUE;
        }
        if (c == ',' || c == '\n' || c == '\r')
                return step_separator(csv, c);
        /* Text after a closing quote: the rest of the field is scanned as
         * unquoted, so the record ends at the next line end. */
        mark_bad(csv, "invalid_quote");
        csv->state = UNQUOTED;
        return STEP_CONTINUE;
}

static enum step_result step(hearth_csv_t *csv)
{
        switch (csv->state) {
        case FIELD_START:
                if (csv->block[csv->pos] == '"') {
                        add_bytes(csv, "\"", 1, false);
                        csv->pos++;
                        csv->state = QUOTED;
                        return STEP_CONTINUE;
                }
                csv->state = UNQUOTED;
                return step_unquoted(csv);
        case UNQUOTED: return step_unquoted(csv);
        case QUOTED: return step_quoted(csv);
        case QUOTE_SEEN: return step_quote_seen(csv);
        }
        return STEP_CONTINUE;
}

/* Runs the state machine to the end of the record or of the input. */
static enum step_result parse_record(hearth_csv_t *csv)
{
        for (;;) {
                enum step_result result;

                if (fill(csv, 1) == 0) {
                        if (csv->read_failed)
                                return STEP_READ_ERROR;
                        if (csv->state == QUOTED)
                                return STEP_EOF_IN_QUOTES;
                        end_field(csv);
                        return STEP_RECORD_END;
                }
                result = step(csv);
                if (result != STEP_CONTINUE)
                        return result;
        }
}

/*
 * Skips a UTF-8 BOM at the start of the input and any blank lines. Returns
 * false when the input ends first.
 */
static bool skip_to_record(hearth_csv_t *csv)
{
        if (csv->at_start) {
                csv->at_start = false;
                if (fill(csv, 3) >= 3 &&
                    memcmp(csv->block + csv->pos, "\xEF\xBB\xBF", 3) == 0)
                        csv->pos += 3;
        }
        while (fill(csv, 1) > 0) {
                char c = csv->block[csv->pos];

                if (c == '\n') {
                        csv->pos++;
                        csv->line++;
                } else if (c != '\r' || !take_cr_line_end(csv)) {
                        return true;
                }
        }
        return false;
}

static void reset_record(hearth_csv_t *csv)
{
        csv->state = FIELD_START;
        csv->error = NULL;
        csv->raw_len = 0;
        csv->raw_total = 0;
        csv->data_len = 0;
        csv->field_len = 0;
        csv->nfields = 0;
}

/* Points the record's field array at the NUL-separated field bytes. */
static void publish_fields(hearth_csv_t *csv, hearth_csv_record_t *record)
{
        char *p = csv->data;

        for (size_t i = 0; i < csv->nfields; i++) {
                csv->fields[i] = p;
                p += csv->lengths[i] + 1;
        }
        record->nfields = csv->nfields;
        record->fields = csv->fields;
        record->lengths = csv->lengths;
}

static hearth_csv_status_t finish_record(hearth_csv_t *csv,
                                         hearth_csv_record_t *record)
{
        static const char empty[1] = "";

        record->raw = csv->raw != NULL ? csv->raw : empty;
        record->raw_len = csv->raw_len;
        record->error = csv->error;
        record->nfields = 0;
        record->fields = NULL;
        record->lengths = NULL;
        if (csv->out_of_memory) {
                errno = ENOMEM;
                return HEARTH_CSV_IO_ERROR;
        }
        if (csv->error != NULL)
                return HEARTH_CSV_BAD_RECORD;
        publish_fields(csv, record);
        return HEARTH_CSV_OK;
}

hearth_csv_status_t hearth_csv_next(hearth_csv_t *csv,
                                    hearth_csv_record_t *record)
{
        enum step_result result;

        memset(record, 0, sizeof(*record));
        if (csv->out_of_memory)
                return HEARTH_CSV_IO_ERROR;
        if (csv->finished || !skip_to_record(csv)) {
                csv->finished = true;
                return csv->read_failed ? HEARTH_CSV_IO_ERROR : HEARTH_CSV_EOF;
        }
        reset_record(csv);
        record->record_number = ++csv->records;
        record->line_number = csv->line;
        result = parse_record(csv);
        /* A record cut short by a read error is not returned. */
        if (result == STEP_READ_ERROR) {
                csv->finished = true;
                return HEARTH_CSV_IO_ERROR;
        }
        if (result == STEP_EOF_IN_QUOTES) {
                mark_bad(csv, "unterminated_quote");
                csv->finished = true;
        }
        return finish_record(csv, record);
}
