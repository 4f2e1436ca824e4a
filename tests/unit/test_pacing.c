/*
 * Tests for connectors/pacing.c: the send offsets of a replay for given
 * event times, in each pacing mode.
 */
#include "connectors/pacing.h"

#include <check.h>
#include <stdint.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MS INT64_C(1000000)     /* nanoseconds per millisecond */
#define HOUR_MS INT64_C(3600000)

static const int64_t t0 = INT64_C(1709280000000); /* 2024-03-01T08:00Z */

START_TEST(max_speed_all_zero)
{
        const int64_t times[] = {t0, t0 + HOUR_MS, t0 + 5 * HOUR_MS};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_MAX, 0, times, N(times), out);
        for (size_t i = 0; i < N(times); i++)
                ck_assert_int_eq(out[i], 0);
}
END_TEST

START_TEST(speed_divides_gaps)
{
        /* 3600: one hour of event time per second. */
        const int64_t times[] = {t0, t0 + HOUR_MS, t0 + HOUR_MS,
                                 t0 + HOUR_MS + 1800000, t0 + 3 * HOUR_MS};
        const int64_t expected[] = {0, 1000 * MS, 1000 * MS, 1500 * MS,
                                    3000 * MS};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 3600, times, N(times), out);
        for (size_t i = 0; i < N(times); i++)
                ck_assert_int_eq(out[i], expected[i]);
}
END_TEST

START_TEST(speed_below_one_slows)
{
        const int64_t times[] = {t0, t0 + 10};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 0.5, times, N(times), out);
        ck_assert_int_eq(out[0], 0);
        ck_assert_int_eq(out[1], 20 * MS);
}
END_TEST

/* Offsets count from the first event, not from the epoch. */
START_TEST(speed_starts_at_first_event)
{
        const int64_t times[] = {t0 + 7 * HOUR_MS, t0 + 8 * HOUR_MS};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 3600, times, N(times), out);
        ck_assert_int_eq(out[0], 0);
        ck_assert_int_eq(out[1], 1000 * MS);
}
END_TEST

/* In input order a late event is due at once, and the events after it
 * keep their own times. */
START_TEST(speed_late_event_not_earlier)
{
        const int64_t times[] = {t0, t0 + 2000, t0 + 500, t0 - 9000,
                                 t0 + 3000};
        const int64_t expected[] = {0, 2000 * MS, 2000 * MS, 2000 * MS,
                                    3000 * MS};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 1, times, N(times), out);
        for (size_t i = 0; i < N(times); i++)
                ck_assert_int_eq(out[i], expected[i]);
}
END_TEST

START_TEST(rate_ignores_event_times)
{
        const int64_t times[] = {t0, t0, t0 + 5 * HOUR_MS, t0 - HOUR_MS};
        const int64_t expected[] = {0, 1 * MS, 2 * MS, 3 * MS};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_RATE, 1000, times, N(times), out);
        for (size_t i = 0; i < N(times); i++)
                ck_assert_int_eq(out[i], expected[i]);
}
END_TEST

/* A fractional rate: 3 events per second are 333,333,333 ns apart, and
 * rounding does not accumulate. */
START_TEST(rate_fractional_no_drift)
{
        hearth_pacing_t p;
        int64_t offset = 0;

        hearth_pacing_init(&p, HEARTH_PACE_RATE, 3);
        for (int i = 0; i <= 3000; i++)
                offset = hearth_pacing_next(&p, t0);
        ck_assert_int_eq(offset, INT64_C(1000) * 1000 * MS);

        hearth_pacing_init(&p, HEARTH_PACE_RATE, 3);
        hearth_pacing_next(&p, t0);
        ck_assert_int_eq(hearth_pacing_next(&p, t0), INT64_C(333333333));
}
END_TEST

/* A span and speed whose offset exceeds int64 nanoseconds saturates. */
START_TEST(speed_offset_saturates)
{
        const int64_t times[] = {0, INT64_C(9000000000000000)};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 0.001, times, N(times),
                               out);
        ck_assert_int_eq(out[0], 0);
        ck_assert_int_eq(out[1], INT64_MAX);
}
END_TEST

/* Ten years of event time at speed 1 fit: 3.2e17 ns. */
START_TEST(speed_long_history_exact)
{
        const int64_t ten_years_ms = INT64_C(315360000000);
        const int64_t times[] = {t0, t0 + ten_years_ms};
        int64_t out[N(times)];

        hearth_pacing_schedule(HEARTH_PACE_SPEED, 1, times, N(times), out);
        ck_assert_int_eq(out[1], ten_years_ms * MS);
}
END_TEST

Suite *hearth_test_pacing_suite(void)
{
        Suite *s = suite_create("pacing");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, max_speed_all_zero);
        tcase_add_test(tc, speed_divides_gaps);
        tcase_add_test(tc, speed_below_one_slows);
        tcase_add_test(tc, speed_starts_at_first_event);
        tcase_add_test(tc, speed_late_event_not_earlier);
        tcase_add_test(tc, rate_ignores_event_times);
        tcase_add_test(tc, rate_fractional_no_drift);
        tcase_add_test(tc, speed_offset_saturates);
        tcase_add_test(tc, speed_long_history_exact);
        suite_add_tcase(s, tc);
        return s;
}
