/*
 * Tests for hearth_alert_id and hearth_topic_from_template (engine/engine.c).
 * The expected alert ids were computed outside this code with Python:
 *
 *   hashlib.sha256(b"repeat_calls\0k1:house-0001\0" b"2\0"
 *                  b"CN110-20240301-0001").hexdigest()[:32]
 */
#include "engine/engine.h"

#include <check.h>
#include <string.h>

#define MODEL "repeat_calls"
#define SUBJECT "k1:house-0001"
#define INCIDENT "CN110-20240301-0001"

/* Returns the alert id in a static buffer. */
static const char *alert_id(const char *model, const char *subject,
                            int priority, const char *incident)
{
        static char out[33];

        memset(out, 'Z', sizeof(out));
        hearth_alert_id(model, subject, priority, incident, out);
        return out;
}

/* Returns the expanded topic in a static buffer. */
static const char *topic(const char *tmpl, const char *name,
                         const char *value)
{
        static char out[256];

        hearth_topic_from_template(tmpl, name, value, out, sizeof(out));
        return out;
}

START_TEST(alert_id_known_answer)
{
        ck_assert_str_eq(alert_id(MODEL, SUBJECT, 2, INCIDENT),
                         "135ffe995e31939906a75a22665d074d");
}
END_TEST

START_TEST(alert_id_known_answer_priority_3)
{
        ck_assert_str_eq(alert_id(MODEL, SUBJECT, 3, INCIDENT),
                         "3072e80d22d026c3547666d08176369c");
}
END_TEST

START_TEST(alert_id_known_answer_empty)
{
        ck_assert_str_eq(alert_id("", "", 0, ""),
                         "73d049f6dc618e4cfdbbb16f78e5de18");
}
END_TEST

START_TEST(alert_id_is_32_hex_chars)
{
        const char *id = alert_id(MODEL, SUBJECT, 2, INCIDENT);

        ck_assert_uint_eq(strlen(id), 32);
        ck_assert_uint_eq(strspn(id, "0123456789abcdef"), 32);
}
END_TEST

START_TEST(alert_id_is_deterministic)
{
        char first[33];

        memcpy(first, alert_id(MODEL, SUBJECT, 2, INCIDENT), sizeof(first));
        ck_assert_str_eq(alert_id(MODEL, SUBJECT, 2, INCIDENT), first);
}
END_TEST

START_TEST(alert_id_changes_with_each_input)
{
        char base[33];

        memcpy(base, alert_id(MODEL, SUBJECT, 2, INCIDENT), sizeof(base));
        ck_assert_str_ne(alert_id("other_model", SUBJECT, 2, INCIDENT), base);
        ck_assert_str_ne(alert_id(MODEL, "k1:house-0002", 2, INCIDENT), base);
        ck_assert_str_ne(alert_id(MODEL, SUBJECT, 1, INCIDENT), base);
        ck_assert_str_ne(alert_id(MODEL, SUBJECT, 2, "CN110-20240301-0002"),
                         base);
}
END_TEST

/* The NUL separators keep ("ab", "c") apart from ("a", "bc"). */
START_TEST(alert_id_separates_fields)
{
        char a[33];

        memcpy(a, alert_id("ab", "c", 1, "x"), sizeof(a));
        ck_assert_str_ne(alert_id("a", "bc", 1, "x"), a);
        memcpy(a, alert_id("m", "s", 1, "2x"), sizeof(a));
        ck_assert_str_ne(alert_id("m", "s", 12, "x"), a);
}
END_TEST

/*
 * The id covers the whole incident id. Two 600-byte ids that differ only
 * in their last byte must give different alert ids.
 */
START_TEST(alert_id_long_incident_differs)
{
        char inc_a[601], inc_b[601], a[33];

        memset(inc_a, 'A', 600);
        inc_a[600] = '\0';
        memcpy(inc_b, inc_a, sizeof(inc_b));
        inc_b[599] = 'B';
        memcpy(a, alert_id(MODEL, SUBJECT, 2, inc_a), sizeof(a));
        ck_assert_str_ne(alert_id(MODEL, SUBJECT, 2, inc_b), a);
}
END_TEST

START_TEST(topic_region_city)
{
        ck_assert_str_eq(topic("hearth.alerts.region.{city}", "{city}",
                               "330100"),
                         "hearth.alerts.region.330100");
}
END_TEST

START_TEST(topic_priority)
{
        ck_assert_str_eq(topic("hearth.alerts.p{priority}", "{priority}", "1"),
                         "hearth.alerts.p1");
}
END_TEST

START_TEST(topic_placeholder_in_middle)
{
        ck_assert_str_eq(topic("alerts.{city}.v1", "{city}", "330100"),
                         "alerts.330100.v1");
}
END_TEST

START_TEST(topic_allowed_chars_kept)
{
        ck_assert_str_eq(topic("t.{city}", "{city}", "aZ09._-"), "t.aZ09._-");
}
END_TEST

START_TEST(topic_invalid_chars_replaced)
{
        ck_assert_str_eq(topic("t.{city}", "{city}", "33 01/00"),
                         "t.33_01_00");
        ck_assert_str_eq(topic("t.{city}", "{city}", "a:b*c{d}"),
                         "t.a_b_c_d_");
}
END_TEST

/* Each byte of a multi-byte character becomes one '_'. */
START_TEST(topic_utf8_bytes_replaced)
{
        /* 杭州 is six bytes in UTF-8. */
        ck_assert_str_eq(topic("t.{city}", "{city}",
                               "\xe6\x9d\xad\xe5\xb7\x9e"),
                         "t.______");
}
END_TEST

START_TEST(topic_without_placeholder_copied)
{
        ck_assert_str_eq(topic("hearth.alerts.all", "{city}", "330100"),
                         "hearth.alerts.all");
}
END_TEST

START_TEST(topic_empty_value)
{
        ck_assert_str_eq(topic("hearth.alerts.region.{city}", "{city}", ""),
                         "hearth.alerts.region.");
}
END_TEST

START_TEST(topic_truncated_in_prefix)
{
        char out[32];

        memset(out, 'Z', sizeof(out));
        hearth_topic_from_template("hearth.alerts.region.{city}", "{city}",
                                   "330100", out, 12);
        ck_assert_str_eq(out, "hearth.aler");
        ck_assert_int_eq(out[12], 'Z');
}
END_TEST

START_TEST(topic_truncated_in_value)
{
        char out[32];

        memset(out, 'Z', sizeof(out));
        hearth_topic_from_template("t.{city}.x", "{city}", "330100", out, 6);
        ck_assert_str_eq(out, "t.330");
        ck_assert_int_eq(out[6], 'Z');
}
END_TEST

Suite *hearth_test_alertid_suite(void)
{
        Suite *s = suite_create("alertid");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, alert_id_known_answer);
        tcase_add_test(tc, alert_id_known_answer_priority_3);
        tcase_add_test(tc, alert_id_known_answer_empty);
        tcase_add_test(tc, alert_id_is_32_hex_chars);
        tcase_add_test(tc, alert_id_is_deterministic);
        tcase_add_test(tc, alert_id_changes_with_each_input);
        tcase_add_test(tc, alert_id_separates_fields);
        tcase_add_test(tc, alert_id_long_incident_differs);
        tcase_add_test(tc, topic_region_city);
        tcase_add_test(tc, topic_priority);
        tcase_add_test(tc, topic_placeholder_in_middle);
        tcase_add_test(tc, topic_allowed_chars_kept);
        tcase_add_test(tc, topic_invalid_chars_replaced);
        tcase_add_test(tc, topic_utf8_bytes_replaced);
        tcase_add_test(tc, topic_without_placeholder_copied);
        tcase_add_test(tc, topic_empty_value);
        tcase_add_test(tc, topic_truncated_in_prefix);
        tcase_add_test(tc, topic_truncated_in_value);
        suite_add_tcase(s, tc);
        return s;
}
