/*
 * Tests for the crash-point parser and setup (engine/crash.c). No test
 * reaches an armed pass, so the runner also works without fork (valgrind).
 */
#include "engine/crash.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static char errstr[256];

/* Parses spec; returns the parser's result. */
static int parse(const char *spec, hearth_crash_point_t *point, long *count)
{
        errstr[0] = '\0';
        return hearth_crash_parse(spec, point, count, errstr, sizeof(errstr));
}

START_TEST(crash_parse_names)
{
        static const struct {
                const char *spec;
                hearth_crash_point_t point;
        } cases[] = {
                {"after_poll", HEARTH_CRASH_AFTER_POLL},
                {"before_redis_commit", HEARTH_CRASH_BEFORE_REDIS_COMMIT},
                {"after_redis_commit", HEARTH_CRASH_AFTER_REDIS_COMMIT},
                {"after_produce", HEARTH_CRASH_AFTER_PRODUCE},
        };

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                hearth_crash_point_t point = HEARTH_CRASH_NONE;
                long count = 0;

                ck_assert_int_eq(parse(cases[i].spec, &point, &count), 0);
                ck_assert_int_eq(point, cases[i].point);
                ck_assert_int_eq(count, 1);
        }
}
END_TEST

START_TEST(crash_parse_count)
{
        hearth_crash_point_t point = HEARTH_CRASH_NONE;
        long count = 0;

        ck_assert_int_eq(parse("after_produce:7", &point, &count), 0);
        ck_assert_int_eq(point, HEARTH_CRASH_AFTER_PRODUCE);
        ck_assert_int_eq(count, 7);
        ck_assert_int_eq(parse("after_poll:1000000000", &point, &count), 0);
        ck_assert_int_eq(count, 1000000000L);
}
END_TEST

START_TEST(crash_parse_rejects_invalid)
{
        static const char *const specs[] = {
                "after", "after_poll_", "AFTER_POLL", "after_poll:",
                "after_poll:0", "after_poll:-1", "after_poll:+2",
                "after_poll: 2", "after_poll:2x", "after_poll:1000000001",
                "after_poll:99999999999999999999", ":3", "after_poll:2:3",
        };

        for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
                hearth_crash_point_t point = HEARTH_CRASH_NONE;
                long count = 0;

                ck_assert_msg(parse(specs[i], &point, &count) == -1,
                              "'%s' accepted", specs[i]);
                ck_assert_msg(strstr(errstr, "invalid count") ||
                                      strstr(errstr, "unknown crash point"),
                              "'%s': message '%s'", specs[i], errstr);
        }
}
END_TEST

START_TEST(crash_parse_message_names_value)
{
        hearth_crash_point_t point;
        long count;

        ck_assert_int_eq(parse("after_pol:2", &point, &count), -1);
        ck_assert_ptr_nonnull(strstr(errstr, "'after_pol'"));
        ck_assert_int_eq(parse("after_poll:zero", &point, &count), -1);
        ck_assert_ptr_nonnull(strstr(errstr, "'zero'"));
}
END_TEST

START_TEST(crash_setup_unset_disarms)
{
        unsetenv("HEARTH_CRASH_POINT");
        ck_assert_int_eq(hearth_crash_setup(errstr, sizeof(errstr)), 0);
        ck_assert_int_eq(hearth_crash_armed, HEARTH_CRASH_NONE);
        setenv("HEARTH_CRASH_POINT", "", 1);
        ck_assert_int_eq(hearth_crash_setup(errstr, sizeof(errstr)), 0);
        ck_assert_int_eq(hearth_crash_armed, HEARTH_CRASH_NONE);
        unsetenv("HEARTH_CRASH_POINT");
}
END_TEST

START_TEST(crash_setup_arms_point)
{
        setenv("HEARTH_CRASH_POINT", "after_redis_commit:3", 1);
        ck_assert_int_eq(hearth_crash_setup(errstr, sizeof(errstr)), 0);
        ck_assert_int_eq(hearth_crash_armed, HEARTH_CRASH_AFTER_REDIS_COMMIT);
        /* Other points never count; the armed one crashes on pass 3. */
        hearth_crash_at(HEARTH_CRASH_AFTER_POLL);
        hearth_crash_at(HEARTH_CRASH_AFTER_PRODUCE);
        hearth_crash_at(HEARTH_CRASH_AFTER_REDIS_COMMIT);
        hearth_crash_at(HEARTH_CRASH_AFTER_REDIS_COMMIT);
        hearth_crash_armed = HEARTH_CRASH_NONE;
        unsetenv("HEARTH_CRASH_POINT");
}
END_TEST

START_TEST(crash_setup_rejects_invalid)
{
        setenv("HEARTH_CRASH_POINT", "before_commit", 1);
        ck_assert_int_eq(hearth_crash_setup(errstr, sizeof(errstr)), -1);
        ck_assert_int_eq(hearth_crash_armed, HEARTH_CRASH_NONE);
        ck_assert_ptr_nonnull(strstr(errstr, "'before_commit'"));
        unsetenv("HEARTH_CRASH_POINT");
}
END_TEST

Suite *hearth_test_crash_suite(void)
{
        Suite *s = suite_create("crash");
        TCase *tc = tcase_create("parse");

        tcase_add_test(tc, crash_parse_names);
        tcase_add_test(tc, crash_parse_count);
        tcase_add_test(tc, crash_parse_rejects_invalid);
        tcase_add_test(tc, crash_parse_message_names_value);
        tcase_add_test(tc, crash_setup_unset_disarms);
        tcase_add_test(tc, crash_setup_arms_point);
        tcase_add_test(tc, crash_setup_rejects_invalid);
        suite_add_tcase(s, tc);
        return s;
}
