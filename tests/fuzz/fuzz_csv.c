/*
 * libFuzzer target for the streaming CSV reader (connectors/csv.h).
 *
 * The input is one CSV stream, read through fmemopen with small limits so
 * that every limit is reachable within libFuzzer's default input size. Each
 * record is checked against the contract in csv.h. An OK record has 1 to
 * max_fields NUL-terminated fields of at most max_field_bytes each. A bad
 * record has a reason code and no fields. Raw bytes stay within
 * max_record_bytes, and record numbers count up by one. A broken contract
 * aborts, so libFuzzer reports it like a crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/csv.h"

#define MAX_RECORD_BYTES 512
#define MAX_FIELD_BYTES 128
#define MAX_FIELDS 16

static void check(int ok, const char *condition)
{
        if (!ok) {
                fprintf(stderr, "fuzz_csv: contract broken: %s\n",
                        condition);
                abort();
        }
}

/* Reads every byte of the record, so ASan detects any read out of bounds. */
static unsigned touch_record(const hearth_csv_record_t *r)
{
        unsigned sum = 0;

        for (size_t i = 0; i < r->raw_len; i++)
                sum += (unsigned char)r->raw[i];
        for (size_t i = 0; i < r->nfields; i++)
                for (size_t k = 0; k <= r->lengths[i]; k++)
                        sum += (unsigned char)r->fields[i][k];
        return sum;
}

static void check_record(hearth_csv_status_t st, const hearth_csv_record_t *r,
                         uint64_t expected_number, size_t input_size)
{
        check(r->record_number == expected_number,
              "record numbers count up by one");
        check(r->line_number >= 1 && r->line_number <= input_size + 1,
              "line number within the input");
        check(r->raw != NULL, "raw is set");
        check(r->raw_len <= MAX_RECORD_BYTES, "raw_len <= max_record_bytes");
        if (st == HEARTH_CSV_BAD_RECORD) {
                check(r->error != NULL, "a bad record has a reason code");
                check(r->nfields == 0 && r->fields == NULL &&
                              r->lengths == NULL,
                      "a bad record has no fields");
                return;
        }
        check(r->error == NULL, "an OK record has no reason code");
        check(r->nfields >= 1 && r->nfields <= MAX_FIELDS,
              "an OK record has 1 to max_fields fields");
        for (size_t i = 0; i < r->nfields; i++) {
                check(r->lengths[i] <= MAX_FIELD_BYTES,
                      "field length <= max_field_bytes");
                check(r->fields[i][r->lengths[i]] == '\0',
                      "field is NUL-terminated");
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const hearth_csv_limits_t limits = {
                .max_record_bytes = MAX_RECORD_BYTES,
                .max_field_bytes = MAX_FIELD_BYTES,
                .max_fields = MAX_FIELDS,
        };
        FILE *fp = fmemopen((void *)data, size, "r");
        hearth_csv_t *csv;
        hearth_csv_record_t record;
        hearth_csv_status_t st;
        uint64_t records = 0;
        volatile unsigned sink = 0;

        check(fp != NULL, "fmemopen succeeds");
        csv = hearth_csv_open(fp, &limits);
        check(csv != NULL, "hearth_csv_open succeeds");
        for (;;) {
                st = hearth_csv_next(csv, &record);
                if (st == HEARTH_CSV_EOF || st == HEARTH_CSV_IO_ERROR)
                        break;
                records++;
                /* Every record consumes at least one input byte. */
                check(records <= size, "reader makes progress");
                check_record(st, &record, records, size);
                sink += touch_record(&record);
        }
        check(st == HEARTH_CSV_EOF, "a memory stream ends with EOF");
        /* EOF is sticky: the next call returns it again. */
        check(hearth_csv_next(csv, &record) == HEARTH_CSV_EOF,
              "EOF repeats");
        hearth_csv_close(csv);
        fclose(fp);
        (void)sink;
        return 0;
}
