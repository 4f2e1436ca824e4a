/*
 * Tests for connectors/text.c. The GB18030 bytes were produced with
 * iconv(1) from the UTF-8 text shown next to them.
 */
#include "connectors/text.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* 警情通报 ("incident report") */
#define REPORT_UTF8    "\xe8\xad\xa6\xe6\x83\x85\xe9\x80\x9a\xe6\x8a\xa5"
#define REPORT_GB18030 "\xbe\xaf\xc7\xe9\xcd\xa8\xb1\xa8"
/* 盗窃 ("theft") */
#define THEFT_UTF8    "\xe7\x9b\x97\xe7\xaa\x83"
#define THEFT_GB18030 "\xb5\xc1\xc7\xd4"

static bool valid(const char *bytes)
{
        return hearth_utf8_valid(bytes, strlen(bytes));
}

START_TEST(utf8_ascii_valid)
{
        ck_assert(valid("CALL 2019-000123, PRIORITY 2"));
        ck_assert(hearth_utf8_valid("", 0));
}
END_TEST

START_TEST(utf8_chinese_valid)
{
        ck_assert(valid(REPORT_UTF8 "\xef\xbc\x9a" THEFT_UTF8));
        ck_assert(valid("Unit 7 " THEFT_UTF8 " 3F"));
}
END_TEST

START_TEST(utf8_boundary_code_points)
{
        ck_assert(valid("\xc2\x80"));         /* U+0080 */
        ck_assert(valid("\xed\x9f\xbf"));     /* U+D7FF */
        ck_assert(valid("\xee\x80\x80"));     /* U+E000 */
        ck_assert(valid("\xef\xbf\xbf"));     /* U+FFFF */
        ck_assert(valid("\xf0\x9f\x98\x80")); /* U+1F600 */
        ck_assert(valid("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
}
END_TEST

START_TEST(utf8_rejects_overlong)
{
        ck_assert(!valid("\xc0\xaf")); /* '/' in two bytes */
        ck_assert(!valid("\xc1\xbf"));
        ck_assert(!valid("\xe0\x80\xaf"));     /* '/' in three bytes */
        ck_assert(!valid("\xe0\x9f\xbf"));     /* U+07FF in three */
        ck_assert(!valid("\xf0\x80\x80\xaf")); /* '/' in four bytes */
        ck_assert(!valid("\xf0\x8f\xbf\xbf")); /* U+FFFF in four */
}
END_TEST

START_TEST(utf8_rejects_surrogates)
{
        ck_assert(!valid("\xed\xa0\x80"));             /* U+D800 */
        ck_assert(!valid("\xed\xbf\xbf"));             /* U+DFFF */
        ck_assert(!valid("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
}
END_TEST

START_TEST(utf8_rejects_above_max)
{
        ck_assert(!valid("\xf4\x90\x80\x80")); /* U+110000 */
        ck_assert(!valid("\xf5\x80\x80\x80"));
        ck_assert(!valid("\xf8\x88\x80\x80\x80"));
        ck_assert(!valid("\xff"));
}
END_TEST

START_TEST(utf8_rejects_truncated)
{
        ck_assert(!valid("\xe8\xad"));
        ck_assert(!valid("\xe8\xad"
                         "A"));
        ck_assert(!valid("\xf0\x9f\x98"));
        ck_assert(!valid("ok \xc3"));
        /* A complete character cut short by the length argument. */
        ck_assert(!hearth_utf8_valid(THEFT_UTF8, 2));
}
END_TEST

START_TEST(utf8_rejects_bare_continuation)
{
        ck_assert(!valid("\x80"));
        ck_assert(!valid("A\xbf"
                         "B"));
        ck_assert(!valid(THEFT_UTF8 "\x83"));
}
END_TEST

START_TEST(utf8_rejects_nul)
{
        ck_assert(!hearth_utf8_valid("AB\0CD", 5));
        ck_assert(!hearth_utf8_valid("\0", 1));
        ck_assert(hearth_utf8_valid("AB\0CD", 2));
}
END_TEST

/* Converts with a new converter and checks the exact output bytes. */
static void assert_converts(const char *from, const char *in, size_t len,
                            const char *expected, size_t expected_len)
{
        char err[128] = "";
        hearth_text_converter_t *conv =
            hearth_text_converter_new(from, err, sizeof(err));
        char *out = NULL;
        size_t out_len = 0;

        ck_assert_msg(conv != NULL, "converter for %s: %s", from, err);
        ck_assert_int_eq(hearth_text_convert(conv, in, len, &out, &out_len), 0);
        ck_assert_uint_eq(out_len, expected_len);
        ck_assert_mem_eq(out, expected, expected_len);
        ck_assert_int_eq(out[out_len], '\0');
        free(out);
        hearth_text_converter_free(conv);
}

static int convert_rc(const char *from, const char *in, size_t len)
{
        hearth_text_converter_t *conv =
            hearth_text_converter_new(from, NULL, 0);
        char *out = NULL;
        size_t out_len = 0;
        int rc;

        ck_assert_ptr_nonnull(conv);
        rc = hearth_text_convert(conv, in, len, &out, &out_len);
        if (rc == 0)
                free(out);
        hearth_text_converter_free(conv);
        return rc;
}

START_TEST(convert_gb18030_words)
{
        assert_converts("GB18030", REPORT_GB18030, 8, REPORT_UTF8, 12);
        assert_converts("GB18030", THEFT_GB18030, 4, THEFT_UTF8, 6);
}
END_TEST

START_TEST(convert_gb18030_mixed_ascii)
{
        const char in[] = "12 " THEFT_GB18030 ", 3F";
        const char expected[] = "12 " THEFT_UTF8 ", 3F";

        assert_converts("GB18030", in, sizeof(in) - 1, expected,
                        sizeof(expected) - 1);
}
END_TEST

START_TEST(convert_gb18030_four_byte)
{
        /* U+1F600 has no two-byte GB18030 form. */
        assert_converts("GB18030", "\x94\x39\xfc\x36", 4, "\xf0\x9f\x98\x80",
                        4);
}
END_TEST

START_TEST(convert_gbk_and_latin1)
{
        assert_converts("GBK", THEFT_GB18030, 4, THEFT_UTF8, 6);
        assert_converts("ISO-8859-1", "caf\xe9", 4, "caf\xc3\xa9", 5);
}
END_TEST

START_TEST(convert_rejects_invalid_gb18030)
{
        /* 0xFF is never a GB18030 byte, and 0x20 is no valid trail byte
         * after 0x81. */
        ck_assert_int_eq(convert_rc("GB18030", THEFT_GB18030 "\xff\xff", 6),
                         -1);
        ck_assert_int_eq(convert_rc("GB18030", "\x81\x20", 2), -1);
}
END_TEST

START_TEST(convert_rejects_truncated_gb18030)
{
        ck_assert_int_eq(convert_rc("GB18030", "\xb5", 1), -1);
        ck_assert_int_eq(convert_rc("GB18030", THEFT_GB18030 "\x81\x30\x81", 7),
                         -1);
}
END_TEST

START_TEST(convert_grows_output)
{
        /* 3 UTF-8 bytes for every 2 GB18030 bytes outgrow the first guess
         * many times over. */
        enum { REPEAT = 5000 };
        char *in = malloc(REPEAT * 8);
        char *expected = malloc(REPEAT * 12);

        ck_assert_ptr_nonnull(in);
        ck_assert_ptr_nonnull(expected);
        for (int i = 0; i < REPEAT; i++) {
                memcpy(in + i * 8, REPORT_GB18030, 8);
                memcpy(expected + i * 12, REPORT_UTF8, 12);
        }
        assert_converts("GB18030", in, REPEAT * 8, expected, REPEAT * 12);
        free(in);
        free(expected);
}
END_TEST

START_TEST(convert_empty_input)
{
        assert_converts("GB18030", "", 0, "", 0);
}
END_TEST

START_TEST(convert_reusable_after_failure)
{
        hearth_text_converter_t *conv =
            hearth_text_converter_new("GB18030", NULL, 0);
        char *out = NULL;
        size_t out_len = 0;

        ck_assert_ptr_nonnull(conv);
        ck_assert_int_eq(hearth_text_convert(conv, "\xb5", 1, &out, &out_len),
                         -1);
        ck_assert_int_eq(
            hearth_text_convert(conv, THEFT_GB18030, 4, &out, &out_len), 0);
        ck_assert_uint_eq(out_len, 6);
        ck_assert_mem_eq(out, THEFT_UTF8, 6);
        free(out);
        hearth_text_converter_free(conv);
}
END_TEST

START_TEST(converter_unknown_encoding)
{
        char err[128] = "";

        ck_assert_ptr_null(
            hearth_text_converter_new("NO-SUCH-CHARSET", err, sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "NO-SUCH-CHARSET"));
        ck_assert_ptr_null(
            hearth_text_converter_new("NO-SUCH-CHARSET", NULL, 0));
}
END_TEST

Suite *hearth_test_text_suite(void)
{
        Suite *s = suite_create("text");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, utf8_ascii_valid);
        tcase_add_test(tc, utf8_chinese_valid);
        tcase_add_test(tc, utf8_boundary_code_points);
        tcase_add_test(tc, utf8_rejects_overlong);
        tcase_add_test(tc, utf8_rejects_surrogates);
        tcase_add_test(tc, utf8_rejects_above_max);
        tcase_add_test(tc, utf8_rejects_truncated);
        tcase_add_test(tc, utf8_rejects_bare_continuation);
        tcase_add_test(tc, utf8_rejects_nul);
        tcase_add_test(tc, convert_gb18030_words);
        tcase_add_test(tc, convert_gb18030_mixed_ascii);
        tcase_add_test(tc, convert_gb18030_four_byte);
        tcase_add_test(tc, convert_gbk_and_latin1);
        tcase_add_test(tc, convert_rejects_invalid_gb18030);
        tcase_add_test(tc, convert_rejects_truncated_gb18030);
        tcase_add_test(tc, convert_grows_output);
        tcase_add_test(tc, convert_empty_input);
        tcase_add_test(tc, convert_reusable_after_failure);
        tcase_add_test(tc, converter_unknown_encoding);
        suite_add_tcase(s, tc);
        return s;
}
