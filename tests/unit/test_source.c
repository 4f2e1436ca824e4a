/*
 * Record sources: JSON Lines input and GB18030 CSV input, read through
 * hearth_source and mapped with hearth_mapper.
 */
#include <check.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/mapper.h"
#include "connectors/source.h"
#include "hearth/v1/incident.pb-c.h"

static const unsigned char test_key[32] = "unit-test-key-0123456789abcdefgh";

static const char jsonl_profile[] =
        "{\"name\": \"jsonl_test\", \"format\": \"jsonl\","
        " \"time_zone\": \"UTC\", \"limits\": {\"max_record_bytes\": 200},"
        " \"incident_id\": \"id\","
        " \"region\": {\"district_code\": \"district\"},"
        " \"category\": {\"code\": \"type\"},"
        " \"domestic\": {\"column\": \"type\", \"values\": [\"DV\"]},"
        " \"events\": [{\"type\": \"CALL_RECEIVED\","
        "   \"time\": {\"column\": \"time\", \"format\": \"iso8601\"}}]}";

typedef struct result {
        int n_ok;
        int n_bad;
        char reasons[8][32];
        Hearth__V1__IncidentEvent *events[8];
} result_t;

/* Reads every record of input with the profile; fills res. */
static void run(const char *profile_json, const char *input, size_t len,
                result_t *res)
{
        char errstr[256];
        hearth_profile_t *p = hearth_profile_parse(
                profile_json, strlen(profile_json), errstr, sizeof(errstr));
        hearth_pseudo_t *ps = hearth_pseudo_new(test_key, 32, "k1");
        FILE *fp = fmemopen((void *)input, len, "r");
        hearth_source_t *src;
        hearth_mapper_t *m;
        hearth_source_record_t rec;
        hearth_source_status_t st;

        memset(res, 0, sizeof(*res));
        ck_assert_msg(p != NULL, "%s", errstr);
        src = hearth_source_open(fp, p, errstr, sizeof(errstr));
        ck_assert_msg(src != NULL, "%s", errstr);
        m = hearth_mapper_new(p, ps, "test", errstr, sizeof(errstr));
        ck_assert_ptr_nonnull(m);
        while ((st = hearth_source_next(src, &rec)) != HEARTH_SOURCE_EOF) {
                hearth_mapped_event_t ev[HEARTH_MAPPER_MAX_EVENTS];
                hearth_map_error_t err;
                int n;

                ck_assert_int_ne(st, HEARTH_SOURCE_IO_ERROR);
                n = st == HEARTH_SOURCE_OK
                            ? hearth_mapper_map(m, &rec.row, rec.record_number,
                                                0, ev, &err)
                            : -1;
                if (n < 0) {
                        snprintf(res->reasons[res->n_bad++], 32, "%s",
                                 st == HEARTH_SOURCE_OK ? err.reason
                                                        : rec.reason);
                        continue;
                }
                ck_assert_int_eq(n, 1);
                res->events[res->n_ok++] = hearth__v1__incident_event__unpack(
                        NULL, ev[0].payload_len, ev[0].payload);
                hearth_mapped_event_clear(&ev[0]);
        }
        hearth_mapper_free(m);
        hearth_source_close(src);
        fclose(fp);
        hearth_pseudo_free(ps);
        hearth_profile_free(p);
}

static void free_result(result_t *res)
{
        for (int i = 0; i < res->n_ok; i++)
                hearth__v1__incident_event__free_unpacked(res->events[i],
                                                          NULL);
}

START_TEST(jsonl_valid_records)
{
        const char in[] =
                "{\"id\": \"A1\", \"time\": \"2024-03-01T08:00:00Z\","
                " \"type\": \"DV\", \"district\": 330102}\n"
                "\n"
                "{\"id\": 42, \"time\": \"2024-03-01T09:00:00+08:00\","
                " \"type\": \"THEFT\", \"district\": \"330103\"}\n";
        result_t res;

        run(jsonl_profile, in, strlen(in), &res);
        ck_assert_int_eq(res.n_ok, 2);
        ck_assert_int_eq(res.n_bad, 0);
        ck_assert_str_eq(res.events[0]->incident_id, "A1");
        ck_assert_str_eq(res.events[0]->district_code, "330102");
        ck_assert(res.events[0]->is_domestic);
        ck_assert_int_eq(res.events[0]->event_time_ms, 1709280000000);
        ck_assert_str_eq(res.events[1]->incident_id, "42");
        ck_assert(!res.events[1]->is_domestic);
        ck_assert_int_eq(res.events[1]->event_time_ms, 1709254800000);
        free_result(&res);
}
END_TEST

START_TEST(jsonl_bad_records)
{
        const char in[] =
                "{\"id\": \"A1\", \"time\": \"2024-03-01T08:00:00Z\"\n"
                "[1, 2, 3]\n"
                "{\"id\": \"A2\", \"time\": \"2024-03-01T08:00:00Z\","
                " \"type\": {\"nested\": 1}}\n"
                "{\"id\": \"A3\", \"time\": \"yesterday\", \"type\": \"DV\"}\n"
                "{\"id\": \"A4\", \"time\": \"2024-03-01T08:00:00Z\","
                " \"type\": \"DV\", \"pad\": \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                "xxxxxxxxxxxxxxxxxxx\"}\n"
                "{\"id\": \"A5\", \"time\": \"2024-03-01T08:00:00Z\","
                " \"type\": \"\xc3\x28\"}\n"
                "{\"id\": \"A6\", \"time\": \"2024-03-01T08:00:00Z\","
                " \"type\": \"DV\"}\n";
        result_t res;

        run(jsonl_profile, in, strlen(in), &res);
        ck_assert_int_eq(res.n_ok, 1);
        ck_assert_str_eq(res.events[0]->incident_id, "A6");
        ck_assert_int_eq(res.n_bad, 6);
        ck_assert_str_eq(res.reasons[0], "invalid_json");
        ck_assert_str_eq(res.reasons[1], "not_an_object");
        ck_assert_str_eq(res.reasons[2], "invalid_field_type");
        ck_assert_str_eq(res.reasons[3], "invalid_time");
        ck_assert_str_eq(res.reasons[4], "record_too_long");
        ck_assert_str_eq(res.reasons[5], "invalid_utf8");
        free_result(&res);
}
END_TEST

static const char gb_profile[] =
        "{\"name\": \"gb_test\", \"encoding\": \"GB18030\","
        " \"time_zone\": \"Asia/Shanghai\", \"incident_id\": \"编号\","
        " \"category\": {\"code\": \"类别\", \"text\": \"类别\"},"
        " \"domestic\": {\"column\": \"类别\", \"regex\": \"家庭暴力\"},"
        " \"events\": [{\"type\": \"CALL_RECEIVED\","
        "   \"time\": {\"column\": \"时间\","
        "              \"format\": \"%Y-%m-%d %H:%M:%S\"}}]}";

/* Converts UTF-8 text to GB18030 with iconv; the caller frees. */
static char *to_gb18030(const char *utf8, size_t *out_len)
{
        iconv_t cd = iconv_open("GB18030", "UTF-8");
        size_t in_left = strlen(utf8), out_left = in_left * 2 + 16;
        char *out = malloc(out_left), *in = (char *)utf8, *at = out;

        ck_assert(cd != (iconv_t)-1);
        ck_assert(iconv(cd, &in, &in_left, &at, &out_left) != (size_t)-1);
        iconv_close(cd);
        *out_len = (size_t)(at - out);
        return out;
}

START_TEST(gb18030_converted_to_utf8)
{
        size_t len;
        char *in = to_gb18030("编号,时间,类别\r\n"
                              "JQ1,2024-03-01 08:00:00,家庭暴力\r\n"
                              "JQ2,2024-03-01 09:00:00,盗窃\r\n",
                              &len);
        result_t res;

        run(gb_profile, in, len, &res);
        ck_assert_int_eq(res.n_ok, 2);
        ck_assert_str_eq(res.events[0]->category->text, "家庭暴力");
        ck_assert(res.events[0]->is_domestic);
        ck_assert_int_eq(res.events[0]->event_time_ms, 1709251200000);
        ck_assert_str_eq(res.events[1]->category->text, "盗窃");
        ck_assert(!res.events[1]->is_domestic);
        free_result(&res);
        free(in);
}
END_TEST

START_TEST(gb18030_invalid_bytes_rejected)
{
        size_t len;
        char *head = to_gb18030("编号,时间,类别\r\n", &len);
        char in[256];
        result_t res;

        memcpy(in, head, len);
        /* 0x81 0x20 is not a GB18030 sequence. */
        memcpy(in + len, "JQ1,2024-03-01 08:00:00,\x81\x20\r\n", 28);
        run(gb_profile, in, len + 28, &res);
        ck_assert_int_eq(res.n_ok, 0);
        ck_assert_int_eq(res.n_bad, 1);
        ck_assert_str_eq(res.reasons[0], "invalid_encoding");
        free(head);
}
END_TEST

START_TEST(header_with_nul_byte_reports_missing_column)
{
        static const char in[] = "\0\0,time,type\nA1,x,DV\n";
        char errstr[256];
        const char *profile =
                "{\"name\": \"nul\", \"incident_id\": \"id\","
                " \"domestic\": true, \"events\": [{\"type\":"
                " \"CALL_RECEIVED\", \"time\": {\"column\": \"time\"}}]}";
        hearth_profile_t *p = hearth_profile_parse(profile, strlen(profile),
                                                   errstr, sizeof(errstr));
        FILE *fp = fmemopen((void *)in, sizeof(in) - 1, "r");
        hearth_source_t *src;

        ck_assert_ptr_nonnull(p);
        src = hearth_source_open(fp, p, errstr, sizeof(errstr));
        ck_assert_ptr_null(src);
        ck_assert_ptr_nonnull(strstr(errstr, "column \"id\""));
        fclose(fp);
        hearth_profile_free(p);
}
END_TEST

START_TEST(stacked_regex_quantifiers_rejected)
{
        char errstr[256];
        const char *profile =
                "{\"name\": \"re\", \"incident_id\": \"id\","
                " \"domestic\": {\"column\": \"c\", \"regex\": \"t+++r\"},"
                " \"events\": [{\"type\": \"CALL_RECEIVED\","
                " \"time\": {\"column\": \"t\"}}]}";
        const char *escaped =
                "{\"name\": \"re\", \"incident_id\": \"id\","
                " \"domestic\": {\"column\": \"c\", \"regex\": \"a\\\\++\"},"
                " \"events\": [{\"type\": \"CALL_RECEIVED\","
                " \"time\": {\"column\": \"t\"}}]}";
        hearth_profile_t *p;

        p = hearth_profile_parse(profile, strlen(profile), errstr,
                                 sizeof(errstr));
        ck_assert_ptr_null(p);
        ck_assert_ptr_nonnull(strstr(errstr, "domestic.regex"));
        ck_assert_ptr_nonnull(strstr(errstr, "quantifier"));
        p = hearth_profile_parse(escaped, strlen(escaped), errstr,
                                 sizeof(errstr));
        ck_assert_msg(p != NULL, "%s", errstr);
        hearth_profile_free(p);
}
END_TEST

START_TEST(misspelled_nested_option_rejected)
{
        static const char *const cases[][2] = {
                {"\"address\": {\"column\": \"a\", \"withheld_value\": []}",
                 "address: unknown option \"withheld_value\""},
                {"\"region\": {\"provice_code\": \"x\"}",
                 "region: unknown option \"provice_code\""},
                {"\"coordinates\": {\"lat\": \"y\", \"lon\": \"x\","
                 " \"bbx\": [1, 2, 3, 4]}",
                 "coordinates: unknown option \"bbx\""},
                {"\"category\": {\"code\": {\"colum\": \"c\"}}",
                 "category.code: unknown option \"colum\""},
        };
        char json[512], errstr[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                hearth_profile_t *p;

                snprintf(json, sizeof(json),
                         "{\"name\": \"typo\", \"incident_id\": \"id\","
                         " \"domestic\": true, %s, \"events\": [{\"type\":"
                         " \"CALL_RECEIVED\", \"time\": {\"column\": \"t\"}}]}",
                         cases[i][0]);
                p = hearth_profile_parse(json, strlen(json), errstr,
                                         sizeof(errstr));
                ck_assert_msg(p == NULL, "case %zu accepted", i);
                ck_assert_msg(strstr(errstr, cases[i][1]) != NULL,
                              "case %zu: \"%s\" lacks \"%s\"", i, errstr,
                              cases[i][1]);
        }
}
END_TEST

Suite *hearth_test_source_suite(void)
{
        Suite *s = suite_create("source");
        TCase *tc = tcase_create("formats");

        tcase_add_test(tc, jsonl_valid_records);
        tcase_add_test(tc, jsonl_bad_records);
        tcase_add_test(tc, gb18030_converted_to_utf8);
        tcase_add_test(tc, gb18030_invalid_bytes_rejected);
        tcase_add_test(tc, header_with_nul_byte_reports_missing_column);
        tcase_add_test(tc, stacked_regex_quantifiers_rejected);
        tcase_add_test(tc, misspelled_nested_option_rejected);
        suite_add_tcase(s, tc);
        return s;
}
