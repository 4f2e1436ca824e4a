/*
 * Tests for engine/alertfmt.c. Every alert and incident here is made up.
 * Epoch values were computed with GNU date, e.g.
 * `date -u -d 2018-05-03T14:00:00Z +%s` gives 1525356000.
 */
#include "engine/alertfmt.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MS_2018_05_03_1400_UTC INT64_C(1525356000000)
#define MS_2018_05_10_0900_UTC INT64_C(1525942800000)
#define MS_2024_02_29_0830_UTC INT64_C(1709195400000)

#define LINE_SIZE 1024

static char *two_ids[] = {"INC-0001", "INC-0002"};
static Hearth__V1__Reason first_reason = {
        PROTOBUF_C_MESSAGE_INIT(&hearth__v1__reason__descriptor),
        "repeat_calls.30d", "3 calls from one household in 30 days"};
static Hearth__V1__Reason second_reason = {
        PROTOBUF_C_MESSAGE_INIT(&hearth__v1__reason__descriptor),
        "escalation", "injury reported on the last call"};
static Hearth__V1__Reason *two_reasons[] = {&first_reason, &second_reason};

/* Fills a with a made-up P2 alert whose window is 2018-05-03T14:00Z to
 * 2018-05-10T09:00Z. */
static void make_alert(Hearth__V1__Alert *a)
{
        hearth__v1__alert__init(a);
        a->alert_id = "0123456789abcdef0123456789abcdef";
        a->model = "repeat_calls";
        a->priority = HEARTH__V1__PRIORITY__P2;
        a->score = 0.75;
        a->subject_kind = HEARTH__V1__SUBJECT_KIND__HOUSEHOLD;
        a->subject_key = "k1:AAAAAAAAAAAAAAAAAAAAAA";
        a->province_code = "330000";
        a->city_code = "330100";
        a->district_code = "330106";
        a->window_start_ms = MS_2018_05_03_1400_UTC;
        a->window_end_ms = MS_2018_05_10_0900_UTC;
        a->count = 3;
        a->n_incident_ids = 2;
        a->incident_ids = two_ids;
        a->n_reasons = 2;
        a->reasons = two_reasons;
        a->rule_version = "rules-7";
        a->engine_version = "0.1.0";
        a->event_time_ms = MS_2018_05_10_0900_UTC;
        a->emitted_at_ms = MS_2018_05_10_0900_UTC + 1500;
        a->trigger_incident_id = "INC-0002";
}

static const char *utc(int64_t ms)
{
        static char buf[HEARTH_UTC_TIME_SIZE];

        ck_assert_int_eq(hearth_format_utc_ms(ms, buf, sizeof(buf)), 0);
        return buf;
}

static const char *string_member(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);

        ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
        return json_string_value(v);
}

static json_int_t integer_member(json_t *obj, const char *key)
{
        json_t *v = json_object_get(obj, key);

        ck_assert_msg(json_is_integer(v), "\"%s\" is not an integer", key);
        return json_integer_value(v);
}

static int format_line(const Hearth__V1__Alert *a, int color, char *buf)
{
        return hearth_alert_format_line(a, color, buf, LINE_SIZE);
}

START_TEST(utc_whole_seconds)
{
        ck_assert_str_eq(utc(MS_2018_05_03_1400_UTC), "2018-05-03T14:00:00Z");
        ck_assert_str_eq(utc(MS_2024_02_29_0830_UTC), "2024-02-29T08:30:00Z");
        ck_assert_str_eq(utc(0), "1970-01-01T00:00:00Z");
}
END_TEST

START_TEST(utc_milliseconds)
{
        ck_assert_str_eq(utc(MS_2018_05_03_1400_UTC + 250),
                         "2018-05-03T14:00:00.250Z");
        ck_assert_str_eq(utc(MS_2018_05_03_1400_UTC + 1),
                         "2018-05-03T14:00:00.001Z");
}
END_TEST

START_TEST(utc_before_epoch)
{
        ck_assert_str_eq(utc(-1), "1969-12-31T23:59:59.999Z");
        ck_assert_str_eq(utc(-1000), "1969-12-31T23:59:59Z");
}
END_TEST

START_TEST(utc_year_range)
{
        char buf[HEARTH_UTC_TIME_SIZE];

        ck_assert_str_eq(utc(INT64_C(253402300799000)),
                         "9999-12-31T23:59:59Z");
        ck_assert_int_eq(hearth_format_utc_ms(INT64_C(253402300800000), buf,
                                              sizeof(buf)),
                         -1);
        ck_assert_str_eq(buf, "");
        ck_assert_int_eq(hearth_format_utc_ms(INT64_MAX, buf, sizeof(buf)),
                         -1);
        ck_assert_int_eq(hearth_format_utc_ms(INT64_MIN, buf, sizeof(buf)),
                         -1);
}
END_TEST

START_TEST(utc_small_buffer)
{
        char buf[8] = "x";

        ck_assert_int_eq(hearth_format_utc_ms(0, buf, sizeof(buf)), -1);
        ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(alert_json_scalars)
{
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        doc = hearth_alert_to_json(&a);
        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(string_member(doc, "alert_id"), a.alert_id);
        ck_assert_str_eq(string_member(doc, "model"), "repeat_calls");
        ck_assert_str_eq(string_member(doc, "priority"), "P2");
        ck_assert(json_is_real(json_object_get(doc, "score")));
        ck_assert_double_eq(json_real_value(json_object_get(doc, "score")),
                            0.75);
        ck_assert_str_eq(string_member(doc, "subject_kind"), "HOUSEHOLD");
        ck_assert_str_eq(string_member(doc, "subject_key"), a.subject_key);
        ck_assert_str_eq(string_member(doc, "province_code"), "330000");
        ck_assert_str_eq(string_member(doc, "city_code"), "330100");
        ck_assert_str_eq(string_member(doc, "district_code"), "330106");
        ck_assert_int_eq(integer_member(doc, "count"), 3);
        ck_assert_str_eq(string_member(doc, "rule_version"), "rules-7");
        ck_assert_str_eq(string_member(doc, "engine_version"), "0.1.0");
        ck_assert_str_eq(string_member(doc, "trigger_incident_id"),
                         "INC-0002");
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_times)
{
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        doc = hearth_alert_to_json(&a);
        ck_assert_int_eq(integer_member(doc, "window_start_ms"),
                         MS_2018_05_03_1400_UTC);
        ck_assert_str_eq(string_member(doc, "window_start"),
                         "2018-05-03T14:00:00Z");
        ck_assert_int_eq(integer_member(doc, "window_end_ms"),
                         MS_2018_05_10_0900_UTC);
        ck_assert_str_eq(string_member(doc, "window_end"),
                         "2018-05-10T09:00:00Z");
        ck_assert_int_eq(integer_member(doc, "event_time_ms"),
                         MS_2018_05_10_0900_UTC);
        ck_assert_str_eq(string_member(doc, "event_time"),
                         "2018-05-10T09:00:00Z");
        ck_assert_int_eq(integer_member(doc, "emitted_at_ms"),
                         MS_2018_05_10_0900_UTC + 1500);
        /* 20 proto fields and 3 ISO 8601 twins. */
        ck_assert_int_eq(json_object_size(doc), 23);
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_lists)
{
        Hearth__V1__Alert a;
        json_t *doc, *ids, *reasons, *reason;

        make_alert(&a);
        doc = hearth_alert_to_json(&a);
        ids = json_object_get(doc, "incident_ids");
        ck_assert(json_is_array(ids));
        ck_assert_int_eq(json_array_size(ids), 2);
        ck_assert_str_eq(json_string_value(json_array_get(ids, 0)),
                         "INC-0001");
        ck_assert_str_eq(json_string_value(json_array_get(ids, 1)),
                         "INC-0002");
        reasons = json_object_get(doc, "reasons");
        ck_assert(json_is_array(reasons));
        ck_assert_int_eq(json_array_size(reasons), 2);
        reason = json_array_get(reasons, 1);
        ck_assert_int_eq(json_object_size(reason), 2);
        ck_assert_str_eq(string_member(reason, "code"), "escalation");
        ck_assert_str_eq(string_member(reason, "text"),
                         "injury reported on the last call");
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_priority_names)
{
        static const char *names[] = {"PRIORITY_UNSPECIFIED", "P1", "P2",
                                      "P3", "P4"};
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        for (int p = 0; p <= 4; p++) {
                a.priority = (Hearth__V1__Priority)p;
                doc = hearth_alert_to_json(&a);
                ck_assert_str_eq(string_member(doc, "priority"), names[p]);
                json_decref(doc);
        }
        /* A number the schema does not list stays a number. */
        a.priority = (Hearth__V1__Priority)9;
        doc = hearth_alert_to_json(&a);
        ck_assert_int_eq(integer_member(doc, "priority"), 9);
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_empty_alert)
{
        Hearth__V1__Alert a;
        json_t *doc;

        hearth__v1__alert__init(&a);
        doc = hearth_alert_to_json(&a);
        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(string_member(doc, "model"), "");
        ck_assert_str_eq(string_member(doc, "subject_kind"),
                         "SUBJECT_KIND_UNSPECIFIED");
        ck_assert_str_eq(string_member(doc, "window_start"),
                         "1970-01-01T00:00:00Z");
        ck_assert_int_eq(json_array_size(json_object_get(doc, "reasons")), 0);
        json_decref(doc);
        ck_assert_ptr_null(hearth_alert_to_json(NULL));
}
END_TEST

START_TEST(alert_json_non_finite_score)
{
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        a.score = NAN;
        doc = hearth_alert_to_json(&a);
        ck_assert_ptr_nonnull(doc);
        ck_assert(json_is_null(json_object_get(doc, "score")));
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_invalid_utf8)
{
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        a.model = "bad\xff\xfe" "model";
        doc = hearth_alert_to_json(&a);
        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(string_member(doc, "model"), "bad??model");
        json_decref(doc);
}
END_TEST

START_TEST(alert_json_window_out_of_range)
{
        Hearth__V1__Alert a;
        json_t *doc;

        make_alert(&a);
        a.window_end_ms = INT64_MAX;
        doc = hearth_alert_to_json(&a);
        ck_assert_int_eq(integer_member(doc, "window_end_ms"), INT64_MAX);
        ck_assert(json_is_null(json_object_get(doc, "window_end")));
        json_decref(doc);
}
END_TEST

static Hearth__V1__Party victim = {
        PROTOBUF_C_MESSAGE_INIT(&hearth__v1__party__descriptor),
        HEARTH__V1__PARTY_ROLE__VICTIM, "k1:BBBBBBBBBBBBBBBBBBBBBB",
        HEARTH__V1__AGE_BAND__AGE_30_44, HEARTH__V1__SEX__FEMALE, 1, 0, 0};
static Hearth__V1__Party *one_party[] = {&victim};

/* Fills e, cat, risk and src with a made-up disposed incident. */
static void make_incident(Hearth__V1__IncidentEvent *e,
                          Hearth__V1__Category *cat,
                          Hearth__V1__RiskFlags *risk, Hearth__V1__Source *src)
{
        hearth__v1__incident_event__init(e);
        hearth__v1__category__init(cat);
        hearth__v1__risk_flags__init(risk);
        hearth__v1__source__init(src);
        cat->code = "DV01";
        cat->text = "domestic dispute";
        risk->strangulation = 1;
        risk->children_present = 1;
        src->profile = "example";
        src->record_number = 42;
        src->file = "calls.csv";
        e->incident_id = "INC-0042";
        e->event_type = HEARTH__V1__EVENT_TYPE__DISPOSED;
        e->event_time_ms = MS_2024_02_29_0830_UTC;
        e->ingest_time_ms = MS_2024_02_29_0830_UTC + 60000;
        e->district_code = "330106";
        e->lat = 30.25;
        e->lon = 120.125;
        e->has_coordinates = 1;
        e->category = cat;
        e->is_domestic = 1;
        e->n_parties = 1;
        e->parties = one_party;
        e->risk = risk;
        e->disposition = HEARTH__V1__DISPOSITION__WARNED;
        e->source = src;
}

START_TEST(incident_json_scalars)
{
        Hearth__V1__IncidentEvent e;
        Hearth__V1__Category cat;
        Hearth__V1__RiskFlags risk;
        Hearth__V1__Source src;
        json_t *doc;

        make_incident(&e, &cat, &risk, &src);
        doc = hearth_incident_to_json(&e);
        ck_assert_ptr_nonnull(doc);
        ck_assert_str_eq(string_member(doc, "incident_id"), "INC-0042");
        ck_assert_str_eq(string_member(doc, "event_type"), "DISPOSED");
        ck_assert_str_eq(string_member(doc, "event_time"),
                         "2024-02-29T08:30:00Z");
        ck_assert_str_eq(string_member(doc, "ingest_time"),
                         "2024-02-29T08:31:00Z");
        ck_assert_int_eq(integer_member(doc, "ingest_time_ms"),
                         MS_2024_02_29_0830_UTC + 60000);
        ck_assert_str_eq(string_member(doc, "district_code"), "330106");
        ck_assert_str_eq(string_member(doc, "grid_id"), "");
        ck_assert_double_eq(json_real_value(json_object_get(doc, "lat")),
                            30.25);
        ck_assert(json_is_true(json_object_get(doc, "has_coordinates")));
        ck_assert(json_is_false(json_object_get(doc, "location_withheld")));
        ck_assert_str_eq(string_member(doc, "disposition"), "WARNED");
        /* 25 proto fields and 2 ISO 8601 twins. */
        ck_assert_int_eq(json_object_size(doc), 27);
        json_decref(doc);
}
END_TEST

START_TEST(incident_json_nested)
{
        Hearth__V1__IncidentEvent e;
        Hearth__V1__Category cat;
        Hearth__V1__RiskFlags risk;
        Hearth__V1__Source src;
        json_t *doc, *party, *flags, *source;

        make_incident(&e, &cat, &risk, &src);
        doc = hearth_incident_to_json(&e);
        ck_assert_str_eq(string_member(json_object_get(doc, "category"),
                                       "text"),
                         "domestic dispute");
        party = json_array_get(json_object_get(doc, "parties"), 0);
        ck_assert_str_eq(string_member(party, "role"), "VICTIM");
        ck_assert_str_eq(string_member(party, "age_band"), "AGE_30_44");
        ck_assert_str_eq(string_member(party, "sex"), "FEMALE");
        ck_assert(json_is_true(json_object_get(party, "pregnant")));
        flags = json_object_get(doc, "risk");
        ck_assert_int_eq(json_object_size(flags), 13);
        ck_assert(json_is_true(json_object_get(flags, "strangulation")));
        ck_assert(json_is_false(json_object_get(flags, "firearm")));
        source = json_object_get(doc, "source");
        ck_assert_int_eq(integer_member(source, "record_number"), 42);
        ck_assert_str_eq(string_member(source, "file"), "calls.csv");
        json_decref(doc);
}
END_TEST

START_TEST(incident_json_absent_messages)
{
        Hearth__V1__IncidentEvent e;
        json_t *doc;

        hearth__v1__incident_event__init(&e);
        doc = hearth_incident_to_json(&e);
        ck_assert_ptr_nonnull(doc);
        ck_assert(json_is_null(json_object_get(doc, "category")));
        ck_assert(json_is_null(json_object_get(doc, "risk")));
        ck_assert(json_is_null(json_object_get(doc, "source")));
        ck_assert_str_eq(string_member(doc, "event_type"),
                         "EVENT_TYPE_UNSPECIFIED");
        json_decref(doc);
}
END_TEST

START_TEST(line_plain)
{
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];
        const char *expected =
                "P2 repeat_calls region=330100/330106 count=3 "
                "window=2018-05-03T14:00:00Z/2018-05-10T09:00:00Z "
                "\"3 calls from one household in 30 days\" "
                "incidents=INC-0001,INC-0002";
        int n;

        make_alert(&a);
        n = format_line(&a, 0, buf);
        ck_assert_str_eq(buf, expected);
        ck_assert_int_eq(n, strlen(expected));
}
END_TEST

START_TEST(line_without_reasons_or_ids)
{
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];

        make_alert(&a);
        a.n_reasons = 0;
        a.n_incident_ids = 0;
        a.district_code = "";
        format_line(&a, 0, buf);
        ck_assert_str_eq(buf, "P2 repeat_calls region=330100/- count=3 "
                              "window=2018-05-03T14:00:00Z/"
                              "2018-05-10T09:00:00Z");
}
END_TEST

START_TEST(line_truncates_ids)
{
        static char id_text[13][8];
        static char *ids[13];
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];
        const char *tail;

        for (int i = 0; i < 13; i++) {
                snprintf(id_text[i], sizeof(id_text[i]), "I%02d", i + 1);
                ids[i] = id_text[i];
        }
        make_alert(&a);
        a.incident_ids = ids;
        a.n_incident_ids = 13;
        format_line(&a, 0, buf);
        tail = strstr(buf, " incidents=");
        ck_assert_ptr_nonnull(tail);
        ck_assert_str_eq(tail, " incidents=I01,I02,I03,I04,I05,I06,I07,"
                               "I08,I09,I10 +3 more");

        a.n_incident_ids = HEARTH_ALERT_LINE_MAX_IDS;
        format_line(&a, 0, buf);
        ck_assert_ptr_null(strstr(buf, "more"));
        ck_assert_ptr_nonnull(strstr(buf, ",I10"));
}
END_TEST

START_TEST(line_color_by_priority)
{
        static const char *codes[] = {NULL, "\033[1;31m", "\033[31m",
                                      "\033[33m", "\033[36m"};
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];
        size_t len;

        make_alert(&a);
        for (int p = 1; p <= 4; p++) {
                a.priority = (Hearth__V1__Priority)p;
                format_line(&a, 1, buf);
                ck_assert_msg(strncmp(buf, codes[p], strlen(codes[p])) == 0,
                              "P%d line does not start with its color", p);
                len = strlen(buf);
                ck_assert_str_eq(buf + len - 4, "\033[0m");
        }
}
END_TEST

START_TEST(line_no_color_unless_asked)
{
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];

        make_alert(&a);
        for (int p = 1; p <= 4; p++) {
                a.priority = (Hearth__V1__Priority)p;
                format_line(&a, 0, buf);
                ck_assert_ptr_null(strchr(buf, '\033'));
        }
        /* An unspecified priority has no color even when asked. */
        a.priority = HEARTH__V1__PRIORITY__PRIORITY_UNSPECIFIED;
        format_line(&a, 1, buf);
        ck_assert_ptr_null(strchr(buf, '\033'));
}
END_TEST

START_TEST(line_control_characters_replaced)
{
        Hearth__V1__Reason reason = {
                PROTOBUF_C_MESSAGE_INIT(&hearth__v1__reason__descriptor),
                "x", "two\nlines\033[2J"};
        Hearth__V1__Reason *reasons[] = {&reason};
        Hearth__V1__Alert a;
        char buf[LINE_SIZE];

        make_alert(&a);
        a.reasons = reasons;
        a.n_reasons = 1;
        format_line(&a, 0, buf);
        ck_assert_ptr_null(strchr(buf, '\n'));
        ck_assert_ptr_null(strchr(buf, '\033'));
        ck_assert_ptr_nonnull(strstr(buf, "\"two lines [2J\""));
}
END_TEST

START_TEST(line_small_buffer)
{
        Hearth__V1__Alert a;
        char full[LINE_SIZE], small[20];
        int n;

        make_alert(&a);
        n = hearth_alert_format_line(&a, 1, small, sizeof(small));
        ck_assert_int_eq(n, format_line(&a, 1, full));
        ck_assert_int_eq(strlen(small), sizeof(small) - 1);
        ck_assert_int_eq(strncmp(small, full, sizeof(small) - 1), 0);
        ck_assert_int_eq(hearth_alert_format_line(&a, 0, NULL, 0),
                         format_line(&a, 0, full));
}
END_TEST

Suite *hearth_test_alertfmt_suite(void)
{
        Suite *s = suite_create("alertfmt");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, utc_whole_seconds);
        tcase_add_test(tc, utc_milliseconds);
        tcase_add_test(tc, utc_before_epoch);
        tcase_add_test(tc, utc_year_range);
        tcase_add_test(tc, utc_small_buffer);
        tcase_add_test(tc, alert_json_scalars);
        tcase_add_test(tc, alert_json_times);
        tcase_add_test(tc, alert_json_lists);
        tcase_add_test(tc, alert_json_priority_names);
        tcase_add_test(tc, alert_json_empty_alert);
        tcase_add_test(tc, alert_json_non_finite_score);
        tcase_add_test(tc, alert_json_invalid_utf8);
        tcase_add_test(tc, alert_json_window_out_of_range);
        tcase_add_test(tc, incident_json_scalars);
        tcase_add_test(tc, incident_json_nested);
        tcase_add_test(tc, incident_json_absent_messages);
        tcase_add_test(tc, line_plain);
        tcase_add_test(tc, line_without_reasons_or_ids);
        tcase_add_test(tc, line_truncates_ids);
        tcase_add_test(tc, line_color_by_priority);
        tcase_add_test(tc, line_no_color_unless_asked);
        tcase_add_test(tc, line_control_characters_replaced);
        tcase_add_test(tc, line_small_buffer);
        suite_add_tcase(s, tc);
        return s;
}
