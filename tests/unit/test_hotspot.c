/*
 * Tests for the hotspot model (models/hotspot.c), driven through
 * hearth_engine_process against a real redis-server.
 *
 * As in test_models.c, each TCase's unchecked fixture starts a
 * redis-server on a Unix socket with no TCP port and no persistence in the
 * runner's process, and stops it after the TCase's last test. Each test
 * connects anew, flushes every key and sends packed IncidentEvent messages
 * on partition 0 one at a time. Regional topics are disabled, so each alert
 * appears once, on its priority topic. The events carry no address, so
 * the household models raise nothing.
 *
 * Most tests start from the same history of one district, incidents per
 * day 0 to 9 (day 0 is 2026-01-01 UTC):
 *
 *   day      0  1  2  3  4  5  6  7  8  9
 *   count    2  1  5  1  5  1  5  3  2  2
 *
 * For day 10 the baseline is days 1 to 7 and the guard band days 8 and 9.
 * Baseline mean = 21 / 7 = 3. Squared deviations 4+4+4+4+4+4+0 = 24, so
 * the sample variance is 24 / 6 = 4 and the sample sd 2 (above the floor
 * of 1). C2 = (count - 3) / 2: 9 incidents give exactly 3.00, which does
 * not exceed the threshold, and the 10th gives 3.50, which does. The
 * population sd, sqrt(24 / 7) = 1.85, would make the 9th alarm already.
 */
#include "engine/engine.h"

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/common/log.h"
#include "tests/unit/redis_server.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

#define MINUTE_MS INT64_C(60000)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)
#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define DAY0 INT64_C(20454)       /* T0 / DAY_MS */
#define LATENESS_MS (10 * MINUTE_MS) /* engine.allowed_lateness_ms */
/* Ring slots with the defaults: 7 baseline + 2 guard + 2 + 0 days of
 * lateness. */
#define RING 11

#define HS "hotspot"
#define DISTRICT "990101"
#define DAYS_KEY "hearth:{p0}:hs:d:" DISTRICT

#define MAX_ALERTS 16

static const int history[10] = {2, 1, 5, 1, 5, 1, 5, 3, 2, 2};

static void server_start(void)
{
        hearth_test_redis_start("hotspot");
}

/* ---- per-test engine ---- */

static hearth_config_t cfg;
static hearth_state_t *state;
static hearth_engine_t *engine;
static hearth_out_list_t out;
static int64_t next_offset;
static char err[512];

/* Hotspot alerts from the last send_event(). */
static Hearth__V1__Alert *alerts[MAX_ALERTS];
static char alert_topics[MAX_ALERTS][64];
static size_t n_alerts;

static void set_option(const char *assignment)
{
        ck_assert_msg(hearth_config_set(&cfg, assignment, err,
                                        sizeof(err)) == 0,
                      "%s: %s", assignment, err);
}

/* Runs one Redis command and returns its reply as text (static buffer). */
static const char *redis(int argc, const char **argv)
{
        static char reply[256];

        ck_assert_msg(hearth_state_command(state, argc, argv, NULL, reply,
                                           sizeof(reply), err,
                                           sizeof(err)) == 0,
                      "Redis %s: %s", argv[0], err);
        return reply;
}

static void setup(void)
{
        char option[160];
        const char *flushall[] = {"FLUSHALL"};

        ck_assert_msg(hearth_test_redis_running(),
                      "redis-server is not running");
        hearth_log_set_level(HEARTH_LOG_WARN);
        hearth_config_defaults(&cfg);
        snprintf(option, sizeof(option), "redis.unix_socket=%s",
                 hearth_test_redis_socket());
        set_option(option);
        set_option("topics.region_template=");
        state = hearth_state_connect(&cfg, err, sizeof(err));
        ck_assert_msg(state != NULL, "%s", err);
        redis(1, flushall);
        engine = NULL;
        next_offset = 0;
        n_alerts = 0;
}

static void free_alerts(void)
{
        for (size_t i = 0; i < n_alerts; i++)
                hearth__v1__alert__free_unpacked(alerts[i], NULL);
        n_alerts = 0;
}

static void teardown(void)
{
        free_alerts();
        hearth_engine_free(engine);
        engine = NULL;
        hearth_out_list_clear(&out);
        free(out.msgs);
        out.msgs = NULL;
        out.cap = 0;
        hearth_state_free(state);
        state = NULL;
        hearth_config_free(&cfg);
}

static void start_engine(void)
{
        if (!engine)
                engine = hearth_engine_new(&cfg, state, err, sizeof(err));
        ck_assert_msg(engine != NULL, "%s", err);
}

/* ---- events ---- */

typedef struct event_spec {
        const char *id;
        int64_t time_ms;
        const char *district;   /* default DISTRICT */
        bool no_district;
        const char *grid;       /* default none */
        bool not_domestic;
        Hearth__V1__EventType type;     /* default CALL_RECEIVED */
} event_spec_t;

static void collect_alerts(void)
{
        free_alerts();
        for (size_t i = 0; i < out.n; i++) {
                Hearth__V1__Alert *a;

                if (strncmp(out.msgs[i].topic, "hearth.alerts.p", 15) != 0)
                        continue;
                a = hearth__v1__alert__unpack(NULL, out.msgs[i].len,
                                              out.msgs[i].payload);
                ck_assert_msg(a != NULL, "undecodable alert on %s",
                              out.msgs[i].topic);
                if (strcmp(a->model, HS) != 0 || n_alerts == MAX_ALERTS) {
                        hearth__v1__alert__free_unpacked(a, NULL);
                        continue;
                }
                snprintf(alert_topics[n_alerts], sizeof(alert_topics[0]),
                         "%s", out.msgs[i].topic);
                alerts[n_alerts++] = a;
        }
}

/*
 * Processes one event as the next offset of partition 0 and returns how
 * many hotspot alerts it raised (in alerts[]).
 */
static size_t send_event(event_spec_t spec)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;
        hearth_input_msg_t msg = {.partition = 0, .offset = next_offset++};
        unsigned char buf[1024];
        int rc;

        start_engine();
        ev.incident_id = (char *)spec.id;
        ev.event_type = spec.type ? spec.type
                                  : HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev.event_time_ms = spec.time_ms;
        ev.province_code = "990000";
        ev.city_code = "990100";
        if (!spec.no_district)
                ev.district_code = (char *)(spec.district ? spec.district
                                                          : DISTRICT);
        if (spec.grid)
                ev.grid_id = (char *)spec.grid;
        ev.is_domestic = !spec.not_domestic;
        ck_assert_uint_le(hearth__v1__incident_event__get_packed_size(&ev),
                          sizeof(buf));
        msg.len = hearth__v1__incident_event__pack(&ev, buf);
        msg.payload = buf;
        hearth_out_list_clear(&out);
        rc = hearth_engine_process(engine, &msg, 1, &out, err, sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_process returned %d: %s", rc,
                      err);
        collect_alerts();
        return n_alerts;
}

#define SEND(...) send_event((event_spec_t){__VA_ARGS__})

/* Time of incident n (from 1) of day: 01:00 plus 10 minutes per incident
 * after base, the start of day 0. */
static int64_t incident_time(int64_t base, int day, int n)
{
        return base + day * DAY_MS + HOUR_MS + (n - 1) * 10 * MINUTE_MS;
}

/* Sends incident n of day in grid (NULL for none), id "<prefix><day>-<n>",
 * with days starting at base; returns the hotspot alerts it raised. */
static size_t send_incident_at(int64_t base, const char *prefix, int day,
                               int n, const char *grid)
{
        char id[32];

        snprintf(id, sizeof(id), "%s%d-%d", prefix, day, n);
        return SEND(.id = id, .time_ms = incident_time(base, day, n),
                    .grid = grid);
}

static size_t send_incident(const char *prefix, int day, int n,
                            const char *grid)
{
        return send_incident_at(T0, prefix, day, n, grid);
}

/* Sends counts[d] incidents on each day d from 0; returns the alerts. */
static size_t send_days_at(int64_t base, const char *prefix,
                           const int *counts, int days, const char *grid)
{
        size_t raised = 0;

        for (int d = 0; d < days; d++)
                for (int n = 1; n <= counts[d]; n++)
                        raised += send_incident_at(base, prefix, d, n, grid);
        return raised;
}

static size_t send_days(const char *prefix, const int *counts, int days,
                        const char *grid)
{
        return send_days_at(T0, prefix, counts, days, grid);
}

/* Sends incidents first to last of day; returns how many raised an alert. */
static size_t send_range(const char *prefix, int day, int first, int last,
                         const char *grid)
{
        size_t raised = 0;

        for (int n = first; n <= last; n++)
                raised += send_incident(prefix, day, n, grid) > 0;
        return raised;
}

/* Hash field of day's slot in an area's ring of RING slots. */
static const char *slot_field(int day)
{
        static char field[16];

        snprintf(field, sizeof(field), "s%" PRId64, (DAY0 + day) % RING);
        return field;
}

#define ck_assert_has(text, part) \
        ck_assert_msg(strstr((text), (part)) != NULL, \
                      "\"%s\" lacks \"%s\"", (text), (part))

/* ---- alarms ---- */

START_TEST(hs_alert_at_expected_incident)
{
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, NULL), 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p3");
        ck_assert_str_eq(alerts[0]->model, HS);
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__DISTRICT);
        ck_assert_str_eq(alerts[0]->subject_key, "d:" DISTRICT);
        ck_assert_str_eq(alerts[0]->district_code, DISTRICT);
        ck_assert_uint_eq(alerts[0]->count, 10);
        ck_assert_int_eq(alerts[0]->window_start_ms, T0 + 10 * DAY_MS);
        ck_assert_int_eq(alerts[0]->window_end_ms, T0 + 11 * DAY_MS - 1);
        ck_assert_int_eq(alerts[0]->event_time_ms,
                         incident_time(T0, 10, 10));
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "A10-10");
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 10);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A10-1");
        ck_assert_str_eq(alerts[0]->incident_ids[9], "A10-10");
        ck_assert_uint_eq(alerts[0]->n_reasons, 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "hotspot.district");
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 3.50 > 3.00: 10 domestic incidents this day; "
                         "baseline of 7 days: mean 3.00, sd 2.00");
        ck_assert_double_eq_tol(alerts[0]->score, 3.5 / 3.0, 1e-9);
}
END_TEST

START_TEST(hs_one_below_threshold_nothing)
{
        const char *hget[] = {"HGET", DAYS_KEY, slot_field(10)};

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        /* The 9th incident gives C2 = (9 - 3) / 2 = 3.00, not above 3. */
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        ck_assert_str_eq(redis(3, hget), "20464 9 0");
}
END_TEST

START_TEST(hs_flat_baseline_uses_sigma_floor)
{
        static const int flat[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

        ck_assert_uint_eq(send_days("A", flat, 10, NULL), 0);
        /* Mean 2, sd 0 floored to 1: C2 = count - 2, so 5 gives 3.00. */
        ck_assert_uint_eq(send_range("A", 10, 1, 5, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 6, NULL), 1);
        ck_assert_uint_eq(alerts[0]->count, 6);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 4.00 > 3.00: 6 domestic incidents this day; "
                         "baseline of 7 days: mean 2.00, sd 0.00 "
                         "(floor 1.00)");
}
END_TEST

START_TEST(hs_guard_band_excluded)
{
        /* Days 8 and 9 surge; day 9 alarms on its own baseline, days 0 to
         * 6 (mean 20/7, sd 2.03), at its 9th incident. */
        static const int surge[10] = {2, 1, 5, 1, 5, 1, 5, 3, 20, 20};

        ck_assert_uint_eq(send_days("A", surge, 10, NULL), 1);
        /* Day 10 still compares with days 1 to 7 alone. With days 3 to 9
         * as the baseline (mean 7.86) 10 incidents would not alarm. */
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, NULL), 1);
        ck_assert_uint_eq(alerts[0]->count, 10);
        ck_assert_has(alerts[0]->reasons[0]->text, "mean 3.00, sd 2.00");
}
END_TEST

START_TEST(hs_new_area_needs_history)
{
        static const int recent[10] = {0, 0, 2, 2, 2, 2, 2, 2, 2, 2};

        ck_assert_uint_eq(send_days("A", recent, 10, NULL), 0);
        /* First seen on day 2, after day 10's first baseline day 1. */
        ck_assert_uint_eq(send_range("A", 10, 1, 30, NULL), 0);
        /* Day 11's baseline, days 2 to 8, lies within the history: mean
         * 2, sd 0 floored to 1, so the 6th incident gives C2 = 4. */
        ck_assert_uint_eq(send_range("A", 11, 1, 5, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 11, 6, NULL), 1);
        ck_assert_uint_eq(alerts[0]->count, 6);
        ck_assert_int_eq(alerts[0]->window_start_ms, T0 + 11 * DAY_MS);
}
END_TEST

START_TEST(hs_duplicates_counted_once)
{
        const char *hget[] = {"HGET", DAYS_KEY, slot_field(10)};
        const char *zcard[] = {"ZCARD", "hearth:{p0}:hs.d:20464:d:" DISTRICT};
        char id[32];

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        for (int n = 1; n <= 9; n++) {
                snprintf(id, sizeof(id), "A10-%d", n);
                ck_assert_uint_eq(send_incident("A", 10, n, NULL), 0);
                /* The same event again, and a later event of it. */
                ck_assert_uint_eq(SEND(.id = id,
                                       .time_ms = incident_time(T0, 10, n)),
                                  0);
                ck_assert_uint_eq(SEND(.id = id,
                                       .time_ms = incident_time(T0, 10, n) +
                                                  MINUTE_MS,
                                       .type = HEARTH__V1__EVENT_TYPE__ARRIVED),
                                  0);
        }
        /* An incident of day 9 with an event on day 10 stays on day 9. */
        ck_assert_uint_eq(SEND(.id = "A9-1",
                               .time_ms = incident_time(T0, 10, 9) + 2 * MINUTE_MS,
                               .type = HEARTH__V1__EVENT_TYPE__DISPOSED),
                          0);
        ck_assert_str_eq(redis(3, hget), "20464 9 0");
        ck_assert_str_eq(redis(2, zcard), "9");
        ck_assert_uint_eq(send_incident("A", 10, 10, NULL), 1);
        ck_assert_uint_eq(alerts[0]->count, 10);
}
END_TEST

START_TEST(hs_late_event_counted_silently)
{
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        /* Another district's call moves the watermark to day 10, 22:50. */
        ck_assert_uint_eq(SEND(.id = "X-1",
                               .time_ms = T0 + 10 * DAY_MS + 23 * HOUR_MS,
                               .district = "990102"),
                          0);
        /* The 10th incident, at 02:30, is late: counted, no alert. */
        ck_assert_uint_eq(send_incident("A", 10, 10, NULL), 0);
        /* The 11th is timely, and C2 = (11 - 3) / 2 = 4. */
        ck_assert_uint_eq(SEND(.id = "A10-11",
                               .time_ms = T0 + 10 * DAY_MS + 23 * HOUR_MS +
                                          5 * MINUTE_MS),
                          1);
        ck_assert_uint_eq(alerts[0]->count, 11);
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 11);
        ck_assert_str_eq(alerts[0]->incident_ids[9], "A10-10");
        ck_assert_has(alerts[0]->reasons[0]->text, "C2 4.00 > 3.00");
}
END_TEST

START_TEST(hs_one_alert_per_area_day)
{
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 10, 10, NULL), 1);
        ck_assert_uint_eq(send_range("A", 10, 11, 20, NULL), 0);
        /*
         * Day 11 has its own alarm. Baseline days 2 to 8: 5 1 5 1 5 3 2,
         * sum 22, mean 3.14; sum of squares 90, so the variance is
         * (7 * 90 - 22^2) / (7 * 6) = 146 / 42 and the sd 1.86. The 8th
         * incident gives C2 = 4.86 / 1.86 = 2.61, the 9th 3.14.
         */
        ck_assert_uint_eq(send_range("A", 11, 1, 8, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 11, 9, NULL), 1);
        ck_assert_uint_eq(alerts[0]->count, 9);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 3.14 > 3.00: 9 domestic incidents this day; "
                         "baseline of 7 days: mean 3.14, sd 1.86");
        ck_assert_uint_eq(send_range("A", 11, 10, 15, NULL), 0);
}
END_TEST

/* ---- areas ---- */

START_TEST(hs_grid_and_district_alarm)
{
        ck_assert_uint_eq(send_days("A", history, 10, "G7"), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, "G7"), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, "G7"), 2);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p3");
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__DISTRICT);
        ck_assert_str_eq(alerts[0]->subject_key, "d:" DISTRICT);
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "hotspot.district");
        ck_assert_str_eq(alert_topics[1], "hearth.alerts.p4");
        ck_assert_int_eq(alerts[1]->priority, 4);
        ck_assert_int_eq(alerts[1]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__GRID);
        ck_assert_str_eq(alerts[1]->subject_key, "g:" DISTRICT "/G7");
        ck_assert_str_eq(alerts[1]->reasons[0]->code, "hotspot.grid");
        ck_assert_uint_eq(alerts[1]->count, 10);
        ck_assert_str_eq(alerts[1]->trigger_incident_id, "A10-10");
        ck_assert_str_ne(alerts[0]->alert_id, alerts[1]->alert_id);
}
END_TEST

START_TEST(hs_grid_alarms_alone)
{
        /*
         * Grid G2 adds 10 incidents in the afternoons of days 1, 3 and 5,
         * so the district's baseline is 11 5 11 5 11 5 3: mean 7.29, sd
         * 3.55, and 10 incidents give C2 0.77. Grid G1 alone has the
         * history's baseline.
         */
        static const int other[10] = {0, 10, 0, 10, 0, 10, 0, 0, 0, 0};

        for (int d = 0; d < 10; d++) {
                for (int n = 1; n <= history[d]; n++)
                        ck_assert_uint_eq(send_incident("A", d, n, "G1"), 0);
                for (int n = 1; n <= other[d]; n++)
                        ck_assert_uint_eq(send_incident_at(T0 + 12 * HOUR_MS,
                                                           "B", d, n, "G2"),
                                          0);
        }
        ck_assert_uint_eq(send_range("A", 10, 1, 9, "G1"), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, "G1"), 1);
        ck_assert_int_eq(alerts[0]->priority, 4);
        ck_assert_str_eq(alerts[0]->subject_key, "g:" DISTRICT "/G1");
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 3.50 > 3.00: 10 domestic incidents this day; "
                         "baseline of 7 days: mean 3.00, sd 2.00");
}
END_TEST

START_TEST(hs_no_grid_district_only)
{
        const char *exists[] = {"EXISTS", "hearth:{p0}:hs:g:" DISTRICT "/"};

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, ""), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, ""), 1);
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__DISTRICT);
        ck_assert_str_eq(redis(2, exists), "0");
}
END_TEST

START_TEST(hs_districts_counted_apart)
{
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, NULL), 0);
        /* A 10th incident in another district leaves DISTRICT at 9. */
        ck_assert_uint_eq(SEND(.id = "O-1",
                               .time_ms = incident_time(T0, 10, 10),
                               .district = "990102"),
                          0);
}
END_TEST

START_TEST(hs_ignored_events)
{
        const char *exists_days[] = {"EXISTS", DAYS_KEY};
        const char *exists_marker[] = {"EXISTS", "hearth:{p0}:inc:N-2"};

        /* Alone in the incident key, so that any field of it is ours. */
        set_option("models.repeat_calls.enabled=false");
        set_option("models.special_circumstances.enabled=false");

        ck_assert_uint_eq(SEND(.id = "N-1", .time_ms = T0,
                               .not_domestic = true),
                          0);
        ck_assert_str_eq(redis(2, exists_days), "0");
        ck_assert_uint_eq(SEND(.id = "N-2", .time_ms = T0,
                               .no_district = true),
                          0);
        ck_assert_str_eq(redis(2, exists_marker), "0");
}
END_TEST

START_TEST(hs_day_beyond_ring_ignored)
{
        const char *hget[] = {"HGET", DAYS_KEY, slot_field(16)};
        const char *exists[] = {"EXISTS", "hearth:{p0}:inc:LATE-5"};

        set_option("models.repeat_calls.enabled=false");
        set_option("models.special_circumstances.enabled=false");

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 16, 1, NULL), 0);
        /* Days 5 and 16 share a slot of the 11; day 16 keeps it. */
        ck_assert_str_eq(slot_field(5), "s10");
        ck_assert_str_eq(slot_field(16), "s10");
        ck_assert_uint_eq(SEND(.id = "LATE-5",
                               .time_ms = incident_time(T0, 5, 2)),
                          0);
        ck_assert_str_eq(redis(3, hget), "20470 1 0");
        ck_assert_str_eq(redis(2, exists), "0");
}
END_TEST

START_TEST(hs_state_keys_and_ttl)
{
        const char *pttl_days[] = {"PTTL", DAYS_KEY};
        const char *first[] = {"HGET", DAYS_KEY, "first"};
        const char *slot[] = {"HGET", DAYS_KEY, slot_field(9)};
        const char *zset = "hearth:{p0}:hs.d:20463:d:" DISTRICT;
        const char *zcard[] = {"ZCARD", zset};
        const char *pttl_zset[] = {"PTTL", zset};
        const char *marker[] = {"HGET", "hearth:{p0}:inc:A9-2",
                                "hs.d:" DISTRICT};
        const char *pttl_marker[] = {"PTTL", "hearth:{p0}:inc:A9-2"};
        const int64_t ttl = 10 * DAY_MS + LATENESS_MS;
        /* The incident key lives as long as the longest incident model
         * needs: repeat calls' 30-day window by default. */
        const int64_t incident_ttl = 30 * DAY_MS + LATENESS_MS;
        long long left;

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_str_eq(redis(3, first), "20454");
        ck_assert_str_eq(redis(3, slot), "20463 2 0");
        ck_assert_str_eq(redis(2, zcard), "2");
        ck_assert_str_eq(redis(3, marker), "20463");
        left = atoll(redis(2, pttl_days));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
        left = atoll(redis(2, pttl_zset));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
        left = atoll(redis(2, pttl_marker));
        ck_assert_int_le(left, incident_ttl);
        ck_assert_int_gt(left, incident_ttl - 60000);
}
END_TEST

START_TEST(hs_incident_ttl_alone)
{
        const char *pttl_marker[] = {"PTTL", "hearth:{p0}:inc:A9-2"};
        const int64_t ttl = 10 * DAY_MS + LATENESS_MS;
        long long left;

        /* Without the other incident models, hotspot's own TTL. */
        set_option("models.repeat_calls.enabled=false");
        set_option("models.special_circumstances.enabled=false");
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        left = atoll(redis(2, pttl_marker));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
}
END_TEST

START_TEST(hs_alerted_day_recorded)
{
        const char *slot[] = {"HGET", DAYS_KEY, slot_field(10)};

        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 10, NULL), 1);
        ck_assert_str_eq(redis(3, slot), "20464 10 1");
        /* A new engine reads the mark back and stays silent. */
        hearth_engine_free(engine);
        engine = NULL;
        ck_assert_uint_eq(send_incident("A", 10, 11, NULL), 0);
        ck_assert_str_eq(redis(3, slot), "20464 11 1");
}
END_TEST

/* ---- options ---- */

START_TEST(hs_option_threshold)
{
        set_option("models.hotspot.c2_threshold_x100=250");
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        /* C2 = (count - 3) / 2: 8 gives 2.50, 9 gives 3.00 > 2.50. */
        ck_assert_uint_eq(send_range("A", 10, 1, 8, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 9, NULL), 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 3.00 > 2.50: 9 domestic incidents this day; "
                         "baseline of 7 days: mean 3.00, sd 2.00");
        ck_assert_double_eq_tol(alerts[0]->score, 3.0 / 2.5, 1e-9);
}
END_TEST

START_TEST(hs_option_min_sigma)
{
        static const int flat[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};

        set_option("models.hotspot.min_sigma_x100=200");
        ck_assert_uint_eq(send_days("A", flat, 10, NULL), 0);
        /* C2 = (count - 2) / 2: 8 gives 3.00, 9 gives 3.50. */
        ck_assert_uint_eq(send_range("A", 10, 1, 8, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 9, NULL), 1);
        ck_assert_has(alerts[0]->reasons[0]->text,
                      "C2 3.50 > 3.00: 9 domestic incidents");
        ck_assert_has(alerts[0]->reasons[0]->text, "(floor 2.00)");
}
END_TEST

START_TEST(hs_option_baseline_and_guard)
{
        set_option("models.hotspot.baseline_days=3");
        set_option("models.hotspot.guard_days=0");
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        /*
         * Baseline days 7 to 9: 3 2 2, mean 2.33, variance (3 * 17 - 49) /
         * 6 = 1/3, sd 0.58 floored to 1. The 5th incident gives 2.67, the
         * 6th 3.67. With the default days 1 to 7 the 10th would alarm.
         */
        ck_assert_uint_eq(send_range("A", 10, 1, 5, NULL), 0);
        ck_assert_uint_eq(send_incident("A", 10, 6, NULL), 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "C2 3.67 > 3.00: 6 domestic incidents this day; "
                         "baseline of 3 days: mean 2.33, sd 0.58 "
                         "(floor 1.00)");
}
END_TEST

START_TEST(hs_option_priorities_and_ids)
{
        set_option("models.hotspot.district_priority=2");
        set_option("models.hotspot.grid_priority=1");
        set_option("models.hotspot.max_incident_ids=3");
        ck_assert_uint_eq(send_days("A", history, 10, "G7"), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 9, "G7"), 0);
        ck_assert_uint_eq(send_incident("A", 10, 10, "G7"), 2);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p2");
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alert_topics[1], "hearth.alerts.p1");
        ck_assert_int_eq(alerts[1]->priority, 1);
        ck_assert_uint_eq(alerts[0]->count, 10);
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 3);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A10-8");
        ck_assert_str_eq(alerts[0]->incident_ids[2], "A10-10");
}
END_TEST

START_TEST(hs_option_day_offset)
{
        /* Local days at UTC+8 start at 16:00 UTC the day before. */
        const int64_t base = T0 - 8 * HOUR_MS;

        set_option("models.hotspot.day_offset_minutes=480");
        ck_assert_uint_eq(send_days_at(base, "A", history, 10, NULL), 0);
        for (int n = 1; n <= 9; n++)
                ck_assert_uint_eq(send_incident_at(base, "A", 10, n, NULL),
                                  0);
        ck_assert_uint_eq(send_incident_at(base, "A", 10, 10, NULL), 1);
        ck_assert_int_eq(alerts[0]->window_start_ms, base + 10 * DAY_MS);
        ck_assert_int_eq(alerts[0]->window_end_ms, base + 11 * DAY_MS - 1);
        ck_assert_uint_eq(alerts[0]->count, 10);
}
END_TEST

START_TEST(hs_option_day_offset_moves_boundary)
{
        /* 17:00 UTC on day 9 is 01:00 on day 10 at UTC+8, so with the
         * offset these incidents join day 10 instead of day 9. */
        const char *hget[] = {"HGET", DAYS_KEY, slot_field(10)};

        set_option("models.hotspot.day_offset_minutes=480");
        ck_assert_uint_eq(SEND(.id = "E-1",
                               .time_ms = T0 + 9 * DAY_MS + 17 * HOUR_MS),
                          0);
        ck_assert_str_eq(redis(3, hget), "20464 1 0");
}
END_TEST

START_TEST(hs_disabled_nothing)
{
        const char *exists[] = {"EXISTS", DAYS_KEY};

        set_option("models.hotspot.enabled=false");
        ck_assert_uint_eq(send_days("A", history, 10, NULL), 0);
        ck_assert_uint_eq(send_range("A", 10, 1, 12, NULL), 0);
        ck_assert_str_eq(redis(2, exists), "0");
}
END_TEST

START_TEST(hs_option_defaults)
{
        ck_assert(cfg.hs_enabled);
        ck_assert_int_eq(cfg.hs_c2_threshold_x100, 300);
        ck_assert_int_eq(cfg.hs_min_sigma_x100, 100);
        ck_assert_int_eq(cfg.hs_baseline_d, 7);
        ck_assert_int_eq(cfg.hs_guard_d, 2);
        ck_assert_int_eq(cfg.hs_district_priority, 3);
        ck_assert_int_eq(cfg.hs_grid_priority, 4);
        ck_assert_int_eq(cfg.hs_day_offset_min, 0);
        ck_assert_int_eq(cfg.hs_max_incident_ids, 50);
}
END_TEST

START_TEST(hs_option_ranges)
{
        static const char *const invalid[] = {
                "models.hotspot.c2_threshold_x100=0",
                "models.hotspot.min_sigma_x100=0",
                "models.hotspot.baseline_days=1",
                "models.hotspot.baseline_days=29",
                "models.hotspot.guard_days=-1",
                "models.hotspot.district_priority=5",
                "models.hotspot.grid_priority=0",
                "models.hotspot.day_offset_minutes=-721",
                "models.hotspot.day_offset_minutes=841",
                "models.hotspot.max_incident_ids=0",
                "models.hotspot.enabled=yes",
        };

        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
                char name[64];

                snprintf(name, sizeof(name), "%.*s",
                         (int)(strchr(invalid[i], '=') - invalid[i]),
                         invalid[i]);
                ck_assert_int_eq(hearth_config_set(&cfg, invalid[i], err,
                                                   sizeof(err)), -1);
                ck_assert_has(err, name);
        }
        ck_assert_int_eq(hearth_config_set(&cfg, "models.hotspot."
                                           "day_offset_minutes=-300", err,
                                           sizeof(err)), 0);
        ck_assert_int_eq(cfg.hs_day_offset_min, -300);
}
END_TEST

static void setup_options(void)
{
        hearth_config_defaults(&cfg);
}

static void teardown_options(void)
{
        hearth_config_free(&cfg);
}

static TCase *server_tcase(const char *name)
{
        TCase *tc = tcase_create(name);

        tcase_add_unchecked_fixture(tc, server_start,
                                    hearth_test_redis_stop);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        return tc;
}

Suite *hearth_test_hotspot_suite(void)
{
        Suite *s = suite_create("hotspot");
        TCase *alarms = server_tcase("alarms");
        TCase *areas = server_tcase("areas");
        TCase *tuning = server_tcase("tuning");
        TCase *options = tcase_create("options");

        tcase_add_test(alarms, hs_alert_at_expected_incident);
        tcase_add_test(alarms, hs_one_below_threshold_nothing);
        tcase_add_test(alarms, hs_flat_baseline_uses_sigma_floor);
        tcase_add_test(alarms, hs_guard_band_excluded);
        tcase_add_test(alarms, hs_new_area_needs_history);
        tcase_add_test(alarms, hs_duplicates_counted_once);
        tcase_add_test(alarms, hs_late_event_counted_silently);
        tcase_add_test(alarms, hs_one_alert_per_area_day);
        tcase_add_test(alarms, hs_alerted_day_recorded);
        suite_add_tcase(s, alarms);

        tcase_add_test(areas, hs_grid_and_district_alarm);
        tcase_add_test(areas, hs_grid_alarms_alone);
        tcase_add_test(areas, hs_no_grid_district_only);
        tcase_add_test(areas, hs_districts_counted_apart);
        tcase_add_test(areas, hs_ignored_events);
        tcase_add_test(areas, hs_day_beyond_ring_ignored);
        tcase_add_test(areas, hs_state_keys_and_ttl);
        tcase_add_test(areas, hs_incident_ttl_alone);
        suite_add_tcase(s, areas);

        tcase_add_test(tuning, hs_option_threshold);
        tcase_add_test(tuning, hs_option_min_sigma);
        tcase_add_test(tuning, hs_option_baseline_and_guard);
        tcase_add_test(tuning, hs_option_priorities_and_ids);
        tcase_add_test(tuning, hs_option_day_offset);
        tcase_add_test(tuning, hs_option_day_offset_moves_boundary);
        tcase_add_test(tuning, hs_disabled_nothing);
        suite_add_tcase(s, tuning);

        tcase_add_checked_fixture(options, setup_options, teardown_options);
        tcase_add_test(options, hs_option_defaults);
        tcase_add_test(options, hs_option_ranges);
        suite_add_tcase(s, options);
        return s;
}
