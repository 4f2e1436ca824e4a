/*
 * Tests for connectors/csv.c. Inputs are written to a temporary file, so the
 * reader goes through fread as it does on real exports. The fixtures under
 * tests/data/csv are invented call records.
 */
#include "connectors/csv.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fread block size in csv.c, which the boundary tests straddle. */
#define BLOCK_SIZE (64 * 1024)

static FILE *input_fp;

static hearth_csv_t *open_bytes(const char *bytes, size_t len,
                                const hearth_csv_limits_t *limits)
{
        hearth_csv_t *csv;

        input_fp = tmpfile();
        ck_assert_ptr_nonnull(input_fp);
        ck_assert_uint_eq(fwrite(bytes, 1, len, input_fp), len);
        rewind(input_fp);
        csv = hearth_csv_open(input_fp, limits);
        ck_assert_ptr_nonnull(csv);
        return csv;
}

/* Opens a string literal. sizeof keeps any NUL bytes inside it. */
#define OPEN(text, limits) open_bytes((text), sizeof(text) - 1, (limits))

static hearth_csv_t *open_fixture(const char *name)
{
        char path[256];
        hearth_csv_t *csv;

        snprintf(path, sizeof(path), "tests/data/csv/%s", name);
        input_fp = fopen(path, "rb");
        ck_assert_msg(input_fp != NULL, "cannot open %s", path);
        csv = hearth_csv_open(input_fp, NULL);
        ck_assert_ptr_nonnull(csv);
        return csv;
}

static void close_input(hearth_csv_t *csv)
{
        hearth_csv_close(csv);
        fclose(input_fp);
        input_fp = NULL;
}

static hearth_csv_record_t next_ok(hearth_csv_t *csv)
{
        hearth_csv_record_t rec;
        hearth_csv_status_t status = hearth_csv_next(csv, &rec);

        ck_assert_msg(status == HEARTH_CSV_OK,
                      "record %llu: status %d, error %s",
                      (unsigned long long)rec.record_number, (int)status,
                      rec.error != NULL ? rec.error : "none");
        return rec;
}

static hearth_csv_record_t next_bad(hearth_csv_t *csv, const char *reason)
{
        hearth_csv_record_t rec;

        ck_assert_int_eq(hearth_csv_next(csv, &rec), HEARTH_CSV_BAD_RECORD);
        ck_assert_ptr_nonnull(rec.error);
        ck_assert_str_eq(rec.error, reason);
        ck_assert_uint_eq(rec.nfields, 0);
        return rec;
}

static void expect_eof(hearth_csv_t *csv)
{
        hearth_csv_record_t rec;

        ck_assert_int_eq(hearth_csv_next(csv, &rec), HEARTH_CSV_EOF);
        /* EOF is sticky. */
        ck_assert_int_eq(hearth_csv_next(csv, &rec), HEARTH_CSV_EOF);
}

static void assert_field(const hearth_csv_record_t *rec, size_t i,
                         const char *expected, size_t len)
{
        ck_assert_msg(rec->lengths[i] == len,
                      "field %zu: length %zu, expected %zu", i, rec->lengths[i],
                      len);
        ck_assert_mem_eq(rec->fields[i], expected, len);
        ck_assert_int_eq(rec->fields[i][len], '\0');
}

static void assert_fields(const hearth_csv_record_t *rec,
                          const char *const *expected, size_t n)
{
        ck_assert_uint_eq(rec->nfields, n);
        for (size_t i = 0; i < n; i++)
                assert_field(rec, i, expected[i], strlen(expected[i]));
}

#define EXPECT_FIELDS(rec, ...)                                                \
        assert_fields(&(rec), (const char *const[]){__VA_ARGS__},              \
                      sizeof((const char *const[]){__VA_ARGS__}) /             \
                          sizeof(const char *))

static void assert_raw(const hearth_csv_record_t *rec, const char *expected)
{
        size_t len = strlen(expected);

        ck_assert_uint_eq(rec->raw_len, len);
        ck_assert_mem_eq(rec->raw, expected, len);
}

START_TEST(plain_records)
{
        hearth_csv_t *csv = OPEN("type,priority\nTHEFT,2\nFIRE,1\n", NULL);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "type", "priority");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "THEFT", "2");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "FIRE", "1");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(quoted_comma)
{
        hearth_csv_t *csv = OPEN("\"BURGLARY, RESIDENTIAL\",2\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "BURGLARY, RESIDENTIAL", "2");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(doubled_quote)
{
        hearth_csv_t *csv =
            OPEN("\"caller said \"\"stop\"\"\",\"\"\"\"\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "caller said \"stop\"", "\"");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(quoted_lf_multiline)
{
        hearth_csv_t *csv = OPEN("id,address\n"
                                 "7,\"100 BLOCK MAPLE AV\nSpringfield, ZZ\n"
                                 "(10.01, -20.02)\"\n"
                                 "8,PARK\n",
                                 NULL);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "7",
                      "100 BLOCK MAPLE AV\nSpringfield, ZZ\n"
                      "(10.01, -20.02)");
        ck_assert_uint_eq(rec.line_number, 2);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "8", "PARK");
        ck_assert_uint_eq(rec.line_number, 5);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(quoted_crlf_multiline)
{
        hearth_csv_t *csv = OPEN("7,\"100 BLOCK MAPLE AV\r\nSpringfield, ZZ"
                                 "\r\n(10.01, -20.02)\"\r\n8,PARK\r\n",
                                 NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "7",
                      "100 BLOCK MAPLE AV\r\nSpringfield, ZZ\r\n"
                      "(10.01, -20.02)");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "8", "PARK");
        ck_assert_uint_eq(rec.line_number, 4);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(quoted_lone_cr_kept)
{
        hearth_csv_t *csv = OPEN("\"a\rb\",c\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "a\rb", "c");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(crlf_file)
{
        hearth_csv_t *csv = open_fixture("calls_crlf.csv");
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "call_id", "received", "type", "address",
                      "priority");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "2019-000101", "03/13/2019 02:05:00 PM", "THEFT",
                      "100 BLOCK MAPLE AV\r\nSpringfield, ZZ\r\n"
                      "(10.01, -20.02)",
                      "2");
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 2);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "2019-000102", "03/13/2019 02:09:30 PM",
                      "NOISE, LOUD MUSIC", "", "3");
        ck_assert_uint_eq(rec.record_number, 3);
        ck_assert_uint_eq(rec.line_number, 5);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(lf_file_with_bom)
{
        hearth_csv_t *csv = open_fixture("calls_bom_lf.csv");
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "call_id", "type", "note");
        assert_raw(&rec, "call_id,type,note");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "2019-000201", "WELFARE CHECK",
                      "caller says \"door open\"");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "2019-000202", "PARKING", "");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(bom_only_at_start)
{
        hearth_csv_t *csv = OPEN("\xef\xbb\xbf"
                                 "a\n\xef\xbb\xbf"
                                 "b\n",
                                 NULL);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "a");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "\xef\xbb\xbf"
                           "b");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(no_trailing_newline)
{
        hearth_csv_t *csv = OPEN("a,b\n1,\"2\"", NULL);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "1", "2");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(lone_cr_at_end)
{
        hearth_csv_t *csv = OPEN("a,b\n1,2\r", NULL);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "1", "2");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(lone_cr_inside_is_data)
{
        hearth_csv_t *csv = OPEN("a\rb,c\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "a\rb", "c");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(empty_fields)
{
        hearth_csv_t *csv = OPEN(",,\n\"\",x,\"\"\na,\n", NULL);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "", "", "");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "", "x", "");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "a", "");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(blank_lines_skipped)
{
        hearth_csv_t *csv = OPEN("\n\nh\n\r\n\nx\n\n\r\n", NULL);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "h");
        ck_assert_uint_eq(rec.record_number, 1);
        ck_assert_uint_eq(rec.line_number, 3);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "x");
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 6);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(space_line_is_record)
{
        hearth_csv_t *csv = OPEN(" \n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, " ");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(empty_inputs)
{
        static const char *const inputs[] = {"", "\xef\xbb\xbf", "\n\r\n\n",
                                             "\r"};

        for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
                hearth_csv_t *csv =
                    open_bytes(inputs[i], strlen(inputs[i]), NULL);

                expect_eof(csv);
                close_input(csv);
        }
}
END_TEST

START_TEST(quote_in_unquoted_kept)
{
        hearth_csv_t *csv = OPEN("12\" TV,a\"b\"c\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        EXPECT_FIELDS(rec, "12\" TV", "a\"b\"c");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(nul_byte_in_field)
{
        hearth_csv_t *csv = OPEN("a\0b,\"c\0\"\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        ck_assert_uint_eq(rec.nfields, 2);
        assert_field(&rec, 0, "a\0b", 3);
        assert_field(&rec, 1, "c\0", 2);
        close_input(csv);
}
END_TEST

START_TEST(raw_bytes_of_record)
{
        hearth_csv_t *csv = OPEN("\"a,\"\"b\",\"x\ny\"\r\nc\n", NULL);
        hearth_csv_record_t rec = next_ok(csv);

        assert_raw(&rec, "\"a,\"\"b\",\"x\ny\"");
        rec = next_ok(csv);
        assert_raw(&rec, "c");
        close_input(csv);
}
END_TEST

START_TEST(invalid_quote)
{
        hearth_csv_t *csv = OPEN("h\n\"abc\"x,def\nnext,1\n", NULL);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_bad(csv, "invalid_quote");
        assert_raw(&rec, "\"abc\"x,def");
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 2);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "next", "1");
        ck_assert_uint_eq(rec.record_number, 3);
        ck_assert_uint_eq(rec.line_number, 3);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(invalid_quote_lone_cr)
{
        hearth_csv_t *csv = OPEN("\"abc\"\rx\nnext\n", NULL);
        hearth_csv_record_t rec;

        rec = next_bad(csv, "invalid_quote");
        assert_raw(&rec, "\"abc\"\rx");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "next");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(unterminated_quote)
{
        hearth_csv_t *csv = OPEN("a,b\n1,\"open\nstill open,\n", NULL);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_bad(csv, "unterminated_quote");
        assert_raw(&rec, "1,\"open\nstill open,\n");
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 2);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(record_too_long_resyncs)
{
        const hearth_csv_limits_t limits = {.max_record_bytes = 16};
        hearth_csv_t *csv = OPEN("ok,1\n"
                                 "bad,\"long text\nwith, a line\nend\",x\n"
                                 "after,2\n",
                                 &limits);
        hearth_csv_record_t rec;

        next_ok(csv);
        rec = next_bad(csv, "record_too_long");
        /* raw keeps the first max_record_bytes bytes. */
        assert_raw(&rec, "bad,\"long text\nw");
        ck_assert_uint_eq(rec.line_number, 2);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "after", "2");
        ck_assert_uint_eq(rec.record_number, 3);
        ck_assert_uint_eq(rec.line_number, 5);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(record_at_limit_accepted)
{
        const hearth_csv_limits_t limits = {.max_record_bytes = 7};
        hearth_csv_t *csv = OPEN("\"a\nb\",c\r\n\"a\nb\",cd\n", &limits);
        hearth_csv_record_t rec;

        /* The line end does not count toward the limit. */
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "a\nb", "c");
        rec = next_bad(csv, "record_too_long");
        assert_raw(&rec, "\"a\nb\",c");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(field_too_long_resyncs)
{
        const hearth_csv_limits_t limits = {.max_field_bytes = 8};
        hearth_csv_t *csv = OPEN("\"0123\n5678\",x\n"
                                 "ok,\"\"\"2345678\",12345678\n",
                                 &limits);
        hearth_csv_record_t rec;

        rec = next_bad(csv, "field_too_long");
        assert_raw(&rec, "\"0123\n5678\",x");
        ck_assert_uint_eq(rec.line_number, 1);
        /* Eight bytes after unquoting fit, although the raw field has
         * more. */
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "ok", "\"2345678", "12345678");
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 3);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(too_many_fields_resyncs)
{
        const hearth_csv_limits_t limits = {.max_fields = 3};
        hearth_csv_t *csv = OPEN("a,b,c\n"
                                 "a,b,c,\"d\ne,f\"\n"
                                 "x,y,z\n",
                                 &limits);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "a", "b", "c");
        rec = next_bad(csv, "too_many_fields");
        assert_raw(&rec, "a,b,c,\"d\ne,f\"");
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "x", "y", "z");
        ck_assert_uint_eq(rec.record_number, 3);
        ck_assert_uint_eq(rec.line_number, 4);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(first_limit_crossed_wins)
{
        const hearth_csv_limits_t limits = {.max_record_bytes = 10,
                                            .max_field_bytes = 4};
        hearth_csv_t *csv = OPEN("abcdefghijklmn\nabc,def,ghij\n", &limits);

        /* The first run of bytes crosses the field limit at its 5th byte,
         * before the record limit at its 11th. In the second record every
         * field fits, but together they pass the record limit. */
        next_bad(csv, "field_too_long");
        next_bad(csv, "record_too_long");
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(zero_limits_take_defaults)
{
        const hearth_csv_limits_t limits = {0, 0, 0};
        const size_t max = HEARTH_CSV_DEFAULT_MAX_FIELD_BYTES;
        char *buf = malloc(2 * max + 4);
        hearth_csv_t *csv;
        hearth_csv_record_t rec;

        ck_assert_ptr_nonnull(buf);
        /* One field at the default maximum, then one a byte over it. */
        memset(buf, 'a', max);
        buf[max] = '\n';
        memset(buf + max + 1, 'b', max + 1);
        buf[2 * max + 2] = '\n';
        csv = open_bytes(buf, 2 * max + 3, &limits);
        rec = next_ok(csv);
        ck_assert_uint_eq(rec.lengths[0], max);
        next_bad(csv, "field_too_long");
        expect_eof(csv);
        close_input(csv);
        free(buf);
}
END_TEST

START_TEST(record_and_line_numbers)
{
        hearth_csv_t *csv = OPEN("h1,h2\n"
                                 "\n"
                                 "1,\"two\nlines\"\n"
                                 "\"bad\"x\n"
                                 "\r\n"
                                 "3,\"a\r\nb\r\nc\"\r\n"
                                 "4,end",
                                 NULL);
        hearth_csv_record_t rec;

        rec = next_ok(csv);
        ck_assert_uint_eq(rec.record_number, 1);
        ck_assert_uint_eq(rec.line_number, 1);
        rec = next_ok(csv);
        ck_assert_uint_eq(rec.record_number, 2);
        ck_assert_uint_eq(rec.line_number, 3);
        rec = next_bad(csv, "invalid_quote");
        ck_assert_uint_eq(rec.record_number, 3);
        ck_assert_uint_eq(rec.line_number, 5);
        rec = next_ok(csv);
        ck_assert_uint_eq(rec.record_number, 4);
        ck_assert_uint_eq(rec.line_number, 7);
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "4", "end");
        ck_assert_uint_eq(rec.record_number, 5);
        ck_assert_uint_eq(rec.line_number, 10);
        expect_eof(csv);
        close_input(csv);
}
END_TEST

START_TEST(read_error_reported)
{
        /* Reading a directory stream fails with EISDIR. */
        FILE *fp = fopen("tests/data/csv", "r");
        hearth_csv_t *csv;
        hearth_csv_record_t rec;

        ck_assert_ptr_nonnull(fp);
        csv = hearth_csv_open(fp, NULL);
        ck_assert_ptr_nonnull(csv);
        ck_assert_int_eq(hearth_csv_next(csv, &rec), HEARTH_CSV_IO_ERROR);
        ck_assert_int_eq(hearth_csv_next(csv, &rec), HEARTH_CSV_IO_ERROR);
        hearth_csv_close(csv);
        fclose(fp);
}
END_TEST

/*
 * Writes filler records "fff...f\n" that take exactly len bytes (len >= 2,
 * so no filler is a blank line) and sets *count to their number.
 */
static size_t fill_records(char *buf, size_t len, size_t *count)
{
        size_t pos = 0;

        *count = 0;
        while (pos < len) {
                size_t line = len - pos > 200 ? 100 : len - pos;

                memset(buf + pos, 'f', line - 1);
                buf[pos + line - 1] = '\n';
                pos += line;
                (*count)++;
        }
        return pos;
}

START_TEST(block_boundary_every_split)
{
        static const char tail[] = "\"12 ELM ST\r\nUnit \"\"B\"\", 2F\",a\rb,"
                                   "\"\"\r\nnext,1\n";
        const size_t tail_len = sizeof(tail) - 1;
        char *buf = malloc(BLOCK_SIZE + tail_len);

        ck_assert_ptr_nonnull(buf);
        /* Move the tail across the block boundary one byte at a time, so
         * every byte of it, the CR LF pairs and the "" pairs included, is
         * once the last byte of a block. */
        for (size_t split = 0; split <= tail_len; split++) {
                size_t fillers;
                size_t prefix = fill_records(buf, BLOCK_SIZE - split, &fillers);
                hearth_csv_t *csv;
                hearth_csv_record_t rec;

                memcpy(buf + prefix, tail, tail_len);
                csv = open_bytes(buf, prefix + tail_len, NULL);
                for (size_t i = 0; i < fillers; i++)
                        next_ok(csv);
                rec = next_ok(csv);
                EXPECT_FIELDS(rec, "12 ELM ST\r\nUnit \"B\", 2F", "a\rb", "");
                ck_assert_uint_eq(rec.line_number, fillers + 1);
                rec = next_ok(csv);
                EXPECT_FIELDS(rec, "next", "1");
                ck_assert_uint_eq(rec.line_number, fillers + 3);
                expect_eof(csv);
                close_input(csv);
        }
        free(buf);
}
END_TEST

START_TEST(bad_record_across_boundary)
{
        const hearth_csv_limits_t limits = {.max_record_bytes = 1000};
        const size_t field_len = 3000;
        size_t fillers;
        size_t prefix;
        char *buf = malloc(BLOCK_SIZE + field_len + 64);
        hearth_csv_t *csv;
        hearth_csv_record_t rec;

        ck_assert_ptr_nonnull(buf);
        /* A too-long quoted field with line ends starts before the
         * boundary and ends after it. */
        prefix = fill_records(buf, BLOCK_SIZE - 1500, &fillers);
        buf[prefix++] = '"';
        for (size_t i = 0; i < field_len; i++)
                buf[prefix++] = i % 100 == 99 ? '\n' : 'q';
        memcpy(buf + prefix, "\",x\nafter,1\n", 12);
        csv = open_bytes(buf, prefix + 12, &limits);
        for (size_t i = 0; i < fillers; i++)
                next_ok(csv);
        rec = next_bad(csv, "record_too_long");
        ck_assert_uint_eq(rec.raw_len, 1000);
        ck_assert_int_eq(rec.raw[0], '"');
        rec = next_ok(csv);
        EXPECT_FIELDS(rec, "after", "1");
        ck_assert_uint_eq(rec.line_number, fillers + 1 + field_len / 100 + 1);
        expect_eof(csv);
        close_input(csv);
        free(buf);
}
END_TEST

/*
 * A reproducible generator of records for the large-input test: each call
 * with the same state sequence yields the same fields and line end.
 */
struct gen {
        uint64_t state;
        char field[4096];
};

static uint32_t gen_next(struct gen *g)
{
        /* A 64-bit LCG with Knuth's MMIX constants. Its high bits are the
         * most random, so those are returned. */
        g->state = g->state * 6364136223846793005ULL + 1442695040888963407ULL;
        return (uint32_t)(g->state >> 33);
}

/* Generates one field's content into g->field and returns its length. */
static size_t gen_field(struct gen *g)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "
                                       "/-.:";
        static const char specials[] = ",\"\n\r";
        uint32_t kind = gen_next(g) % 10;
        size_t len = kind == 0 ? 0 : gen_next(g) % 40;

        if (kind == 9)
                len = 500 + gen_next(g) % 3000;
        for (size_t i = 0; i < len; i++) {
                uint32_t r = gen_next(g);

                if (kind >= 7 && r % 8 == 0)
                        g->field[i] = specials[(r >> 3) % 4];
                else
                        g->field[i] = alphabet[(r >> 3) % 41];
        }
        return len;
}

static bool needs_quotes(const char *s, size_t len)
{
        return len > 0 && (memchr(s, ',', len) || memchr(s, '"', len) ||
                           memchr(s, '\n', len) || memchr(s, '\r', len));
}

static void write_field(FILE *fp, const char *s, size_t len, bool quote)
{
        if (!quote) {
                fwrite(s, 1, len, fp);
                return;
        }
        fputc('"', fp);
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '"')
                        fputc('"', fp);
                fputc(s[i], fp);
        }
        fputc('"', fp);
}

static size_t count_byte(const char *s, size_t len, char c)
{
        size_t n = 0;

        for (size_t i = 0; i < len; i++)
                n += s[i] == c;
        return n;
}

enum { LARGE_RECORDS = 20000 };

/* Writes the generated records and returns the byte count. */
static long write_large_input(FILE *fp, uint64_t seed)
{
        struct gen g = {.state = seed};

        for (int r = 0; r < LARGE_RECORDS; r++) {
                uint32_t nfields = 1 + gen_next(&g) % 12;

                for (uint32_t f = 0; f < nfields; f++) {
                        size_t len = gen_field(&g);
                        bool quote = gen_next(&g) % 4 == 0;

                        /* An empty lone field would be a blank line. */
                        quote = quote || needs_quotes(g.field, len) ||
                                (nfields == 1 && len == 0);

                        if (f > 0)
                                fputc(',', fp);
                        write_field(fp, g.field, len, quote);
                }
                fputs(gen_next(&g) % 2 ? "\r\n" : "\n", fp);
        }
        return ftell(fp);
}

START_TEST(large_generated_input)
{
        const uint64_t seed = 20190313;
        struct gen g = {.state = seed};
        hearth_csv_t *csv;
        uint64_t line = 1;
        long size;

        input_fp = tmpfile();
        ck_assert_ptr_nonnull(input_fp);
        size = write_large_input(input_fp, seed);
        /* Several blocks, so fields cross boundaries at many offsets. */
        ck_assert_int_gt(size, 8 * BLOCK_SIZE);
        rewind(input_fp);
        csv = hearth_csv_open(input_fp, NULL);
        ck_assert_ptr_nonnull(csv);
        for (int r = 0; r < LARGE_RECORDS; r++) {
                hearth_csv_record_t rec = next_ok(csv);
                uint32_t nfields = 1 + gen_next(&g) % 12;
                uint64_t start_line = line;

                ck_assert_uint_eq(rec.nfields, nfields);
                for (uint32_t f = 0; f < nfields; f++) {
                        size_t len = gen_field(&g);

                        gen_next(&g); /* the quoting choice */
                        assert_field(&rec, f, g.field, len);
                        line += count_byte(g.field, len, '\n');
                }
                gen_next(&g); /* the line end choice */
                line++;
                ck_assert_uint_eq(rec.record_number, (uint64_t)r + 1);
                ck_assert_uint_eq(rec.line_number, start_line);
        }
        expect_eof(csv);
        close_input(csv);
}
END_TEST

Suite *hearth_test_csv_suite(void)
{
        Suite *s = suite_create("csv");
        TCase *tc = tcase_create("core");

        /* The generated and boundary cases are slow under valgrind. */
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, plain_records);
        tcase_add_test(tc, quoted_comma);
        tcase_add_test(tc, doubled_quote);
        tcase_add_test(tc, quoted_lf_multiline);
        tcase_add_test(tc, quoted_crlf_multiline);
        tcase_add_test(tc, quoted_lone_cr_kept);
        tcase_add_test(tc, crlf_file);
        tcase_add_test(tc, lf_file_with_bom);
        tcase_add_test(tc, bom_only_at_start);
        tcase_add_test(tc, no_trailing_newline);
        tcase_add_test(tc, lone_cr_at_end);
        tcase_add_test(tc, lone_cr_inside_is_data);
        tcase_add_test(tc, empty_fields);
        tcase_add_test(tc, blank_lines_skipped);
        tcase_add_test(tc, space_line_is_record);
        tcase_add_test(tc, empty_inputs);
        tcase_add_test(tc, quote_in_unquoted_kept);
        tcase_add_test(tc, nul_byte_in_field);
        tcase_add_test(tc, raw_bytes_of_record);
        tcase_add_test(tc, invalid_quote);
        tcase_add_test(tc, invalid_quote_lone_cr);
        tcase_add_test(tc, unterminated_quote);
        tcase_add_test(tc, record_too_long_resyncs);
        tcase_add_test(tc, record_at_limit_accepted);
        tcase_add_test(tc, field_too_long_resyncs);
        tcase_add_test(tc, too_many_fields_resyncs);
        tcase_add_test(tc, first_limit_crossed_wins);
        tcase_add_test(tc, zero_limits_take_defaults);
        tcase_add_test(tc, record_and_line_numbers);
        tcase_add_test(tc, read_error_reported);
        tcase_add_test(tc, block_boundary_every_split);
        tcase_add_test(tc, bad_record_across_boundary);
        tcase_add_test(tc, large_generated_input);
        suite_add_tcase(s, tc);
        return s;
}
