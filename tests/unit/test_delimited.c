/*
 * Tests for connectors/delimited.c: the varint length prefix, a round trip
 * through a file, and the inputs a reader must reject without reading past
 * them (truncated records, lengths above the max, overlong prefixes).
 */
#include "connectors/delimited.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static FILE *input_fp;

static hearth_delimited_reader_t *open_bytes(const void *bytes, size_t len,
                                             size_t max_record)
{
        hearth_delimited_reader_t *r;

        input_fp = tmpfile();
        ck_assert_ptr_nonnull(input_fp);
        ck_assert_uint_eq(fwrite(bytes, 1, len, input_fp), len);
        rewind(input_fp);
        r = hearth_delimited_reader_new(input_fp, max_record);
        ck_assert_ptr_nonnull(r);
        return r;
}

#define OPEN(bytes, max) open_bytes((bytes), sizeof(bytes) - 1, (max))

static void close_input(hearth_delimited_reader_t *r)
{
        hearth_delimited_reader_free(r);
        fclose(input_fp);
        input_fp = NULL;
}

START_TEST(prefix_encodes_varint)
{
        static const struct {
                uint64_t len;
                size_t n;
                uint8_t bytes[10];
        } cases[] = {
                {0, 1, {0x00}},
                {1, 1, {0x01}},
                {127, 1, {0x7f}},
                {128, 2, {0x80, 0x01}},
                {300, 2, {0xac, 0x02}},
                {16384, 3, {0x80, 0x80, 0x01}},
                {UINT64_MAX, 10, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0x01}},
        };
        uint8_t out[HEARTH_DELIMITED_MAX_PREFIX];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                size_t n = hearth_delimited_prefix(cases[i].len, out);

                ck_assert_uint_eq(n, cases[i].n);
                ck_assert_mem_eq(out, cases[i].bytes, n);
        }
}
END_TEST

START_TEST(round_trip_three_records)
{
        static const char *records[] = {"abc", "", "a record of 300"};
        hearth_delimited_reader_t *r;
        char big[300];
        const uint8_t *data;
        size_t len;
        uint64_t offset;

        memset(big, 'x', sizeof(big));
        input_fp = tmpfile();
        ck_assert_ptr_nonnull(input_fp);
        ck_assert_int_eq(hearth_delimited_write(input_fp, records[0], 3), 0);
        ck_assert_int_eq(hearth_delimited_write(input_fp, records[1], 0), 0);
        ck_assert_int_eq(hearth_delimited_write(input_fp, big, 300), 0);
        ck_assert_int_eq(ftell(input_fp), 1 + 3 + 1 + 2 + 300);
        rewind(input_fp);
        r = hearth_delimited_reader_new(input_fp, 0);

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, &offset),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 3);
        ck_assert_mem_eq(data, "abc", 3);
        ck_assert_uint_eq(offset, 0);

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, &offset),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 0);
        ck_assert_uint_eq(offset, 4);

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, &offset),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 300);
        ck_assert_mem_eq(data, big, 300);
        ck_assert_uint_eq(offset, 5);

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, &offset),
                         HEARTH_DELIMITED_EOF);
        ck_assert_uint_eq(offset, 307);
        close_input(r);
}
END_TEST

START_TEST(empty_input_is_eof)
{
        hearth_delimited_reader_t *r = open_bytes("", 0, 0);
        const uint8_t *data;
        size_t len;

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_EOF);
        close_input(r);
}
END_TEST

/* Zero-length records between others: each is a record, not an end. */
START_TEST(zero_length_records_kept)
{
        hearth_delimited_reader_t *r = OPEN("\x00\x00\x02hi\x00", 0);
        const uint8_t *data;
        size_t len = 99;

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 0);
        len = 99;
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 2);
        ck_assert_mem_eq(data, "hi", 2);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 0);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_EOF);
        close_input(r);
}
END_TEST

START_TEST(truncated_body_rejected)
{
        /* A length of 5 with 3 bytes after it. */
        hearth_delimited_reader_t *r = OPEN("\x02ok\x05" "abc", 0);
        const uint8_t *data;
        size_t len;

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_TRUNCATED);
        close_input(r);
}
END_TEST

START_TEST(truncated_prefix_rejected)
{
        /* The continuation bit is set on the last byte of the input. */
        hearth_delimited_reader_t *r = OPEN("\x01x\x80", 0);
        const uint8_t *data;
        size_t len;

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_TRUNCATED);
        close_input(r);
}
END_TEST

START_TEST(oversized_length_rejected)
{
        /* 300 (0xac 0x02) is above a max of 299, with 300 bytes present. */
        char bytes[2 + 300];
        hearth_delimited_reader_t *r;
        const uint8_t *data;
        size_t len;

        bytes[0] = (char)0xac;
        bytes[1] = 0x02;
        memset(bytes + 2, 'y', 300);
        r = open_bytes(bytes, sizeof(bytes), 299);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_TOO_LARGE);
        close_input(r);

        /* The same record fits a max of 300. */
        r = open_bytes(bytes, sizeof(bytes), 300);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_OK);
        ck_assert_uint_eq(len, 300);
        close_input(r);
}
END_TEST

/* A 2^63 length would overflow size_t arithmetic if it were not rejected
 * before allocation. */
START_TEST(huge_length_rejected)
{
        hearth_delimited_reader_t *r =
                OPEN("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 0);
        const uint8_t *data;
        size_t len;

        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_TOO_LARGE);
        close_input(r);
}
END_TEST

START_TEST(overlong_prefix_rejected)
{
        hearth_delimited_reader_t *r;
        const uint8_t *data;
        size_t len;

        /* Eleven continuation bytes. */
        r = OPEN("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", 0);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_BAD_PREFIX);
        close_input(r);

        /* A tenth byte with bits above bit 63. */
        r = OPEN("\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", 0);
        ck_assert_int_eq(hearth_delimited_next(r, &data, &len, NULL),
                         HEARTH_DELIMITED_BAD_PREFIX);
        close_input(r);
}
END_TEST

Suite *hearth_test_delimited_suite(void)
{
        Suite *s = suite_create("delimited");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, prefix_encodes_varint);
        tcase_add_test(tc, round_trip_three_records);
        tcase_add_test(tc, empty_input_is_eof);
        tcase_add_test(tc, zero_length_records_kept);
        tcase_add_test(tc, truncated_body_rejected);
        tcase_add_test(tc, truncated_prefix_rejected);
        tcase_add_test(tc, oversized_length_rejected);
        tcase_add_test(tc, huge_length_rejected);
        tcase_add_test(tc, overlong_prefix_rejected);
        suite_add_tcase(s, tc);
        return s;
}
