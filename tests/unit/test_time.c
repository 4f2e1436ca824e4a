/*
 * Tests for connectors/timeparse.c. Expected instants were worked out by
 * hand from the zone's UTC offset on that date (CST -6, CDT -5, PDT -7,
 * China +8) and checked against GNU date.
 */
#include "connectors/timeparse.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define YMD_HMS "%Y-%m-%d %H:%M:%S"

/* 2019-03-13T14:05:00Z, the instant most cases below convert to. */
#define MS_2019_03_13_1405_UTC INT64_C(1552485900000)

static int64_t parse_or_fail(const char *text, const char *format,
                             const char *zone)
{
        int64_t ms = INT64_MIN;

        ck_assert_msg(hearth_time_parse(text, format, zone, &ms) == 0,
                      "\"%s\" with \"%s\" in %s was rejected", text, format,
                      zone);
        return ms;
}

static int parse_rc(const char *text, const char *format, const char *zone)
{
        int64_t ms;

        return hearth_time_parse(text, format, zone, &ms);
}

START_TEST(pattern_in_utc)
{
        ck_assert_int_eq(parse_or_fail("2019-03-13 14:05:00", YMD_HMS, "UTC"),
                         MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(pattern_in_shanghai)
{
        /* 14:05 at +08:00 is 06:05Z. */
        ck_assert_int_eq(
            parse_or_fail("2019-03-13 14:05:00", YMD_HMS, "Asia/Shanghai"),
            MS_2019_03_13_1405_UTC - 8 * 3600 * 1000);
}
END_TEST

START_TEST(pattern_in_chicago_summer)
{
        /* CDT: 00:00:14 at -05:00 is 05:00:14Z. */
        ck_assert_int_eq(
            parse_or_fail("2018-05-01 00:00:14", YMD_HMS, "America/Chicago"),
            INT64_C(1525150814000));
}
END_TEST

START_TEST(pattern_in_chicago_winter)
{
        /* CST: 09:05 at -06:00 is 15:05Z. */
        ck_assert_int_eq(parse_or_fail("1/25/2022 9:05", "%m/%d/%Y %H:%M",
                                       "America/Chicago"),
                         INT64_C(1643123100000));
}
END_TEST

START_TEST(pattern_non_padded_fields)
{
        ck_assert_int_eq(
            parse_or_fail("1/25/2022 9:05", "%m/%d/%Y %H:%M", "UTC"),
            INT64_C(1643101500000));
}
END_TEST

START_TEST(pattern_twelve_hour_clock)
{
        ck_assert_int_eq(parse_or_fail("03/13/2019 02:05:00 PM",
                                       "%m/%d/%Y %I:%M:%S %p", "UTC"),
                         MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(pattern_own_offset_wins)
{
        ck_assert_int_eq(parse_or_fail("2019-03-13 22:05:00 +0800",
                                       YMD_HMS " %z", "America/Chicago"),
                         MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(fixed_offset_zones)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13 22:05:00", YMD_HMS, "+08:00"),
            MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(parse_or_fail("2019-03-13 09:05:00", YMD_HMS, "-0500"),
                         MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(parse_or_fail("2019-03-13 14:05:00", YMD_HMS, "Z"),
                         MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(parse_or_fail("2019-03-13 14:05:00", YMD_HMS, NULL),
                         MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(zone_switching)
{
        const int64_t chicago = MS_2019_03_13_1405_UTC + 5 * 3600 * 1000;
        const int64_t shanghai = MS_2019_03_13_1405_UTC - 8 * 3600 * 1000;

        /* Alternating zones must reset TZ each time, not reuse the last. */
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(parse_or_fail("2019-03-13 14:05:00", YMD_HMS,
                                               "America/Chicago"),
                                 chicago);
                ck_assert_int_eq(parse_or_fail("2019-03-13 14:05:00", YMD_HMS,
                                               "Asia/Shanghai"),
                                 shanghai);
                ck_assert_int_eq(
                    parse_or_fail("2019-03-13 14:05:00", YMD_HMS, "UTC"),
                    MS_2019_03_13_1405_UTC);
        }
}
END_TEST

struct zone_worker {
        const char *zone;
        int64_t expected;
        int mismatches;
};

static void *parse_repeatedly(void *arg)
{
        struct zone_worker *w = arg;

        for (int i = 0; i < 2000; i++) {
                int64_t ms = 0;

                if (hearth_time_parse("2019-03-13 14:05:00", YMD_HMS, w->zone,
                                      &ms) != 0 ||
                    ms != w->expected)
                        w->mismatches++;
        }
        return NULL;
}

START_TEST(threads_in_different_zones)
{
        struct zone_worker workers[2] = {
            {"America/Chicago", MS_2019_03_13_1405_UTC + 5 * 3600 * 1000, 0},
            {"Asia/Shanghai", MS_2019_03_13_1405_UTC - 8 * 3600 * 1000, 0},
        };
        pthread_t threads[2];

        /* Each parse must see its own zone while the other thread keeps
         * switching TZ. */
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(pthread_create(&threads[i], NULL,
                                                parse_repeatedly, &workers[i]),
                                 0);
        for (int i = 0; i < 2; i++)
                ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
        ck_assert_int_eq(workers[0].mismatches, 0);
        ck_assert_int_eq(workers[1].mismatches, 0);
}
END_TEST

START_TEST(iso8601_utc)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T14:05:00Z", "iso8601", "America/Chicago"),
            MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(iso8601_fraction)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T14:05:00.123Z", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC + 123);
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T14:05:00.5Z", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC + 500);
        /* Digits past milliseconds are truncated, not rounded. */
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T14:05:00.123999Z", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC + 123);
}
END_TEST

START_TEST(iso8601_offset)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T22:05:00+08:00", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T09:05:00.250-05:00", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC + 250);
}
END_TEST

START_TEST(iso8601_space_separator)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13 14:05:00Z", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(iso8601_without_seconds)
{
        ck_assert_int_eq(parse_or_fail("2019-03-13T14:05Z", "iso8601", "UTC"),
                         MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T22:05+08:00", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(iso8601_without_offset_uses_zone)
{
        ck_assert_int_eq(
            parse_or_fail("2019-03-13T14:05:00", "iso8601", "America/Chicago"),
            MS_2019_03_13_1405_UTC + 5 * 3600 * 1000);
}
END_TEST

START_TEST(iso8601_malformed)
{
        ck_assert_int_eq(parse_rc("2019-3-13T14:05:00Z", "iso8601", "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-03-13X14:05:00Z", "iso8601", "UTC"),
                         -1);
        ck_assert_int_eq(parse_rc("2019-03-13T14:05:00.Z", "iso8601", "UTC"),
                         -1);
        ck_assert_int_eq(parse_rc("2019-03-13T14:05:00+8", "iso8601", "UTC"),
                         -1);
        ck_assert_int_eq(parse_rc("2019-03-13", "iso8601", "UTC"), -1);
}
END_TEST

START_TEST(epoch_seconds)
{
        ck_assert_int_eq(parse_or_fail("1552485900", "epoch_s", NULL),
                         MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(parse_or_fail("+1552485900", "epoch_s", NULL),
                         MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(parse_or_fail(" 1552485900 ", "epoch_s", NULL),
                         MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(epoch_milliseconds)
{
        ck_assert_int_eq(parse_or_fail("1552485900123", "epoch_ms", NULL),
                         MS_2019_03_13_1405_UTC + 123);
        ck_assert_int_eq(parse_or_fail("0", "epoch_ms", NULL), 0);
}
END_TEST

START_TEST(epoch_rejects_non_digits)
{
        ck_assert_int_eq(parse_rc("1552485900.5", "epoch_s", NULL), -1);
        ck_assert_int_eq(parse_rc("15524859OO", "epoch_s", NULL), -1);
        ck_assert_int_eq(parse_rc("", "epoch_s", NULL), -1);
        ck_assert_int_eq(parse_rc("-", "epoch_ms", NULL), -1);
        ck_assert_int_eq(parse_rc("1e9", "epoch_s", NULL), -1);
}
END_TEST

START_TEST(epoch_out_of_range)
{
        /* Before 1970, from 2101 on, and far past int64 overflow. */
        ck_assert_int_eq(parse_rc("-1", "epoch_s", NULL), -1);
        ck_assert_int_eq(parse_rc("4133980800", "epoch_s", NULL), -1);
        ck_assert_int_eq(parse_rc("4133980800000", "epoch_ms", NULL), -1);
        ck_assert_int_eq(parse_rc("99999999999999999999999", "epoch_s", NULL),
                         -1);
        ck_assert_int_eq(parse_or_fail("4133980799", "epoch_s", NULL),
                         INT64_C(4133980799000));
}
END_TEST

START_TEST(dst_repeated_hour_earlier)
{
        /* 01:30 happens at -05:00 (CDT) and again at -06:00 (CST). The
         * CDT one, 06:30Z, comes first. */
        ck_assert_int_eq(
            parse_or_fail("2018-11-04 01:30:00", YMD_HMS, "America/Chicago"),
            INT64_C(1541313000000));
        ck_assert_int_eq(
            parse_or_fail("2018-11-04 02:00:00", YMD_HMS, "America/Chicago"),
            INT64_C(1541318400000));
}
END_TEST

START_TEST(dst_skipped_hour_rejected)
{
        ck_assert_int_eq(
            parse_rc("2018-03-11 02:30:00", YMD_HMS, "America/Chicago"), -1);
        ck_assert_int_eq(
            parse_rc("2018-03-11 02:00:00", YMD_HMS, "America/Chicago"), -1);
        /* The seconds either side of the gap are one second apart. */
        ck_assert_int_eq(
            parse_or_fail("2018-03-11 01:59:59", YMD_HMS, "America/Chicago"),
            INT64_C(1520755199000));
        ck_assert_int_eq(
            parse_or_fail("2018-03-11 03:00:00", YMD_HMS, "America/Chicago"),
            INT64_C(1520755200000));
}
END_TEST

START_TEST(invalid_dates_rejected)
{
        ck_assert_int_eq(parse_rc("2019-13-01 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-02-30 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-02-29 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-04-31 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-04-00 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-04-01 24:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-04-01 23:59:60", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-02-30T00:00:00Z", "iso8601", "UTC"),
                         -1);
        ck_assert_int_eq(
            parse_rc("2019-02-30 00:00:00", YMD_HMS, "America/Chicago"), -1);
}
END_TEST

START_TEST(leap_day_accepted)
{
        ck_assert_int_eq(parse_or_fail("2024-02-29 12:00:00", YMD_HMS, "UTC"),
                         INT64_C(1709208000000));
}
END_TEST

START_TEST(trailing_garbage_rejected)
{
        ck_assert_int_eq(parse_rc("2019-03-13 14:05:00x", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2019-03-13 14:05:00 PM", YMD_HMS, "UTC"),
                         -1);
        ck_assert_int_eq(parse_rc("2019-03-13T14:05:00Zx", "iso8601", "UTC"),
                         -1);
        ck_assert_int_eq(parse_rc("2019-03-13T14:05:00 Z", "iso8601", "UTC"),
                         -1);
}
END_TEST

START_TEST(surrounding_spaces_ignored)
{
        ck_assert_int_eq(
            parse_or_fail("  2019-03-13 14:05:00\t", YMD_HMS, "UTC"),
            MS_2019_03_13_1405_UTC);
        ck_assert_int_eq(
            parse_or_fail(" 2019-03-13T14:05:00Z ", "iso8601", "UTC"),
            MS_2019_03_13_1405_UTC);
}
END_TEST

START_TEST(year_range_enforced)
{
        ck_assert_int_eq(parse_rc("1969-12-31 23:59:59", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("2101-01-01 00:00:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_rc("0219-03-13 14:05:00", YMD_HMS, "UTC"), -1);
        ck_assert_int_eq(parse_or_fail("1970-01-01 00:00:00", YMD_HMS, "UTC"),
                         0);
        ck_assert_int_eq(parse_or_fail("2100-12-31 23:59:59", YMD_HMS, "UTC"),
                         INT64_C(4133980799000));
}
END_TEST

START_TEST(pattern_without_date_rejected)
{
        ck_assert_int_eq(parse_rc("14:05", "%H:%M", "UTC"), -1);
        ck_assert_int_eq(parse_rc("03/13 14:05", "%m/%d %H:%M", "UTC"), -1);
}
END_TEST

START_TEST(unknown_zone_rejected)
{
        ck_assert_int_eq(
            parse_rc("2019-03-13 14:05:00", YMD_HMS, "Mars/Olympus_Mons"), -1);
        ck_assert_int_eq(parse_rc("2019-03-13 14:05:00", YMD_HMS, "+25:00"),
                         -1);
}
END_TEST

START_TEST(unknown_zone_in_environment_rejected)
{
        const char *old = getenv("TZ");
        char *saved = old != NULL ? strdup(old) : NULL;
        int rc;

        /* TZ already naming the zone must not skip the zone file check. */
        setenv("TZ", "Mars/Olympus_Mons", 1);
        rc = parse_rc("2019-03-13 14:05:00", YMD_HMS, "Mars/Olympus_Mons");
        if (saved != NULL)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        free(saved);
        ck_assert_int_eq(rc, -1);
}
END_TEST

START_TEST(parts_date_and_time)
{
        int64_t ms = 0;

        /* 14:05 PDT (-07:00) on 2019-03-13 is 21:05Z. */
        ck_assert_int_eq(hearth_time_parse_parts(
                             "03/13/2019 12:00:00 AM", "%m/%d/%Y %I:%M:%S %p",
                             "14:05", "%H:%M", "America/Los_Angeles", &ms),
                         0);
        ck_assert_int_eq(ms, INT64_C(1552511100000));
}
END_TEST

START_TEST(parts_ignore_date_time_of_day)
{
        int64_t ms = 0;

        ck_assert_int_eq(hearth_time_parse_parts(
                             "03/13/2019 11:59:59 PM", "%m/%d/%Y %I:%M:%S %p",
                             "14:05", "%H:%M", "America/Los_Angeles", &ms),
                         0);
        ck_assert_int_eq(ms, INT64_C(1552511100000));
}
END_TEST

START_TEST(parts_reject_bad_input)
{
        int64_t ms;

        ck_assert_int_eq(hearth_time_parse_parts("03/13/2019", "%m/%d/%Y",
                                                 "25:00", "%H:%M", "UTC", &ms),
                         -1);
        ck_assert_int_eq(hearth_time_parse_parts("03/13/2019", "%m/%d/%Y",
                                                 "14:05 today", "%H:%M", "UTC",
                                                 &ms),
                         -1);
        ck_assert_int_eq(hearth_time_parse_parts("02/30/2019", "%m/%d/%Y",
                                                 "14:05", "%H:%M", "UTC", &ms),
                         -1);
        ck_assert_int_eq(hearth_time_parse_parts("14:05", "%H:%M", "14:05",
                                                 "%H:%M", "UTC", &ms),
                         -1);
}
END_TEST

START_TEST(zone_valid_accepts_known)
{
        ck_assert_int_eq(hearth_time_zone_valid("UTC"), 0);
        ck_assert_int_eq(hearth_time_zone_valid("Z"), 0);
        ck_assert_int_eq(hearth_time_zone_valid("+08:00"), 0);
        ck_assert_int_eq(hearth_time_zone_valid("-0500"), 0);
        ck_assert_int_eq(hearth_time_zone_valid("Asia/Shanghai"), 0);
        ck_assert_int_eq(hearth_time_zone_valid("America/Chicago"), 0);
}
END_TEST

START_TEST(zone_valid_rejects_unknown)
{
        ck_assert_int_eq(hearth_time_zone_valid(NULL), -1);
        ck_assert_int_eq(hearth_time_zone_valid(""), -1);
        ck_assert_int_eq(hearth_time_zone_valid("Mars/Olympus_Mons"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("America"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("zone.tab"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("+24:00"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("+08:60"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("+8"), -1);
}
END_TEST

START_TEST(zone_valid_rejects_paths)
{
        ck_assert_int_eq(hearth_time_zone_valid("/usr/share/zoneinfo/UTC"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("../zoneinfo/UTC"), -1);
        ck_assert_int_eq(hearth_time_zone_valid("America/../Asia/Shanghai"),
                         -1);
}
END_TEST

START_TEST(zone_valid_uses_tzdir)
{
        const char *old = getenv("TZDIR");
        char *saved = old != NULL ? strdup(old) : NULL;

        setenv("TZDIR", "/nonexistent-zoneinfo", 1);
        ck_assert_int_eq(hearth_time_zone_valid("Asia/Shanghai"), -1);
        if (saved != NULL)
                setenv("TZDIR", saved, 1);
        else
                unsetenv("TZDIR");
        free(saved);
        ck_assert_int_eq(hearth_time_zone_valid("Asia/Shanghai"), 0);
}
END_TEST

Suite *hearth_test_time_suite(void)
{
        Suite *s = suite_create("time");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, pattern_in_utc);
        tcase_add_test(tc, pattern_in_shanghai);
        tcase_add_test(tc, pattern_in_chicago_summer);
        tcase_add_test(tc, pattern_in_chicago_winter);
        tcase_add_test(tc, pattern_non_padded_fields);
        tcase_add_test(tc, pattern_twelve_hour_clock);
        tcase_add_test(tc, pattern_own_offset_wins);
        tcase_add_test(tc, fixed_offset_zones);
        tcase_add_test(tc, zone_switching);
        tcase_add_test(tc, threads_in_different_zones);
        tcase_add_test(tc, iso8601_utc);
        tcase_add_test(tc, iso8601_fraction);
        tcase_add_test(tc, iso8601_offset);
        tcase_add_test(tc, iso8601_space_separator);
        tcase_add_test(tc, iso8601_without_seconds);
        tcase_add_test(tc, iso8601_without_offset_uses_zone);
        tcase_add_test(tc, iso8601_malformed);
        tcase_add_test(tc, epoch_seconds);
        tcase_add_test(tc, epoch_milliseconds);
        tcase_add_test(tc, epoch_rejects_non_digits);
        tcase_add_test(tc, epoch_out_of_range);
        tcase_add_test(tc, dst_repeated_hour_earlier);
        tcase_add_test(tc, dst_skipped_hour_rejected);
        tcase_add_test(tc, invalid_dates_rejected);
        tcase_add_test(tc, leap_day_accepted);
        tcase_add_test(tc, trailing_garbage_rejected);
        tcase_add_test(tc, surrounding_spaces_ignored);
        tcase_add_test(tc, year_range_enforced);
        tcase_add_test(tc, pattern_without_date_rejected);
        tcase_add_test(tc, unknown_zone_rejected);
        tcase_add_test(tc, unknown_zone_in_environment_rejected);
        tcase_add_test(tc, parts_date_and_time);
        tcase_add_test(tc, parts_ignore_date_time_of_day);
        tcase_add_test(tc, parts_reject_bad_input);
        tcase_add_test(tc, zone_valid_accepts_known);
        tcase_add_test(tc, zone_valid_rejects_unknown);
        tcase_add_test(tc, zone_valid_rejects_paths);
        tcase_add_test(tc, zone_valid_uses_tzdir);
        suite_add_tcase(s, tc);
        return s;
}
