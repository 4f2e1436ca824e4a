/*
 * Tests for the special-circumstances and repeat-dispositions models
 * (models/special_circumstances.c, models/repeat_dispositions.c), driven
 * through hearth_engine_process against a real redis-server.
 *
 * Each TCase's unchecked fixture runs in the runner's process: it starts a
 * redis-server on a Unix socket with no TCP port and no persistence, and
 * stops it after the TCase's last test. Each test connects anew, flushes
 * every key, sends packed IncidentEvent messages on partition 0 one at a
 * time and decodes the Alert messages that the model under test produced
 * for that message. Regional topics are disabled, so each alert appears
 * once, on its priority topic.
 */
#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/model_harness.h"

#define MINUTE_MS INT64_C(60000)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)
#define T0 INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define LATENESS_MS (10 * MINUTE_MS) /* engine.allowed_lateness_ms */

#define SC "special_circumstances"
#define RD "repeat_dispositions"
#define HOUSE "k1:HHHHHHHHHHHHHHHHHHHHHH"
#define OTHER_HOUSE "k1:OOOOOOOOOOOOOOOOOOOOOO"
#define RD_KEY "hearth:{p0}:rd:a:" HOUSE
#define RD_SUP_KEY "hearth:{p0}:rd.sup:a:" HOUSE

#define MAX_ALERTS 16

/* The options TCase works on its own configuration, without Redis. */
static hearth_config_t cfg;
static char err[512];

/* Alerts of the model under test from the last send_event(). */
static Hearth__V1__Alert *alerts[MAX_ALERTS];
static char alert_topics[MAX_ALERTS][64];
static size_t n_alerts;


static void setup(void)
{
        /* Each test here checks one model's own priorities. */
        harness_set_option("engine.fusion_window_hours=0");
        n_alerts = 0;
}

static void free_alerts(void)
{
        harness_free_alerts(alerts, n_alerts);
        n_alerts = 0;
}

/* ---- events ---- */

typedef struct event_spec {
        const char *id;
        int64_t time_ms;
        const char *flags;      /* comma-separated RiskFlags names */
        Hearth__V1__Disposition disposition;
        const char *address;    /* default HOUSE */
        bool not_domestic;
        Hearth__V1__EventType type;     /* default CALL_RECEIVED */
} event_spec_t;

/*
 * Processes one event as the next offset of partition 0 and returns how
 * many alerts the given model raised for it (in alerts[]).
 */
static size_t send_event(const char *model, event_spec_t spec)
{
        harness_queue((harness_event_t){
                .id = spec.id,
                .time_ms = spec.time_ms,
                .type = spec.type,
                .flags = spec.flags,
                .disposition = spec.disposition,
                .address = spec.address ? spec.address : HOUSE,
                .not_domestic = spec.not_domestic,
        });
        harness_process();
        free_alerts();
        n_alerts = harness_collect_alerts(model, alerts, alert_topics,
                                          MAX_ALERTS);
        return n_alerts;
}

#define SEND_SC(...) send_event(SC, (event_spec_t){__VA_ARGS__})
#define SEND_RD(...) send_event(RD, (event_spec_t){__VA_ARGS__})

#define MEDIATED HEARTH__V1__DISPOSITION__MEDIATED
#define WARNED HEARTH__V1__DISPOSITION__WARNED
#define DETAINED HEARTH__V1__DISPOSITION__DETAINED
#define REFERRED HEARTH__V1__DISPOSITION__REFERRED
#define ARRIVED HEARTH__V1__EVENT_TYPE__ARRIVED
#define DISPOSED HEARTH__V1__EVENT_TYPE__DISPOSED
#define WARNING_ISSUED HEARTH__V1__EVENT_TYPE__WARNING_ISSUED
#define FOLLOW_UP HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT

/* ---- special circumstances ---- */

START_TEST(sc_each_lethal_flag_alone)
{
        static const char *const flags[] = {"weapon", "firearm",
                                            "strangulation", "threat_to_kill",
                                            "victim_fears_death"};
        static const char *const texts[] = {
                "weapon reported", "firearm reported",
                "strangulation reported", "threat to kill reported",
                "victim fears death reported"};
        char id[32], subject[40];

        for (int i = 0; i < 5; i++) {
                snprintf(id, sizeof(id), "L-%d", i);
                snprintf(subject, sizeof(subject), "i:%s", id);
                ck_assert_uint_eq(SEND_SC(.id = id,
                                          .time_ms = T0 + i * HOUR_MS,
                                          .flags = flags[i]), 1);
                ck_assert_str_eq(alert_topics[0], "hearth.alerts.p1");
                ck_assert_int_eq(alerts[0]->priority, 1);
                ck_assert_str_eq(alerts[0]->reasons[0]->code,
                                 "special_circumstances.lethal");
                ck_assert_str_eq(alerts[0]->reasons[0]->text, texts[i]);
                ck_assert_str_eq(alerts[0]->subject_key, subject);
                ck_assert_str_eq(alerts[0]->trigger_incident_id, id);
        }
}
END_TEST

START_TEST(sc_lethal_alert_fields)
{
        const int64_t t = T0 + 5 * MINUTE_MS;

        ck_assert_uint_eq(SEND_SC(.id = "L-1", .time_ms = t,
                                  .flags = "threat_to_kill,injury,weapon"),
                          1);
        ck_assert_str_eq(alerts[0]->model, SC);
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__INCIDENT);
        ck_assert_str_eq(alerts[0]->subject_key, "i:L-1");
        ck_assert_uint_eq(alerts[0]->count, 1);
        ck_assert_int_eq(alerts[0]->window_start_ms, t);
        ck_assert_int_eq(alerts[0]->window_end_ms, t);
        ck_assert_int_eq(alerts[0]->event_time_ms, t);
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 1);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "L-1");
        ck_assert_uint_eq(alerts[0]->n_reasons, 1);
        /* The text names lethal flags only, in schema order. */
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "weapon, threat to kill reported");
        ck_assert_double_eq_tol(alerts[0]->score, 2.0, 1e-9);
}
END_TEST

START_TEST(sc_four_combined_flags_p2)
{
        ck_assert_uint_eq(SEND_SC(.id = "C-4", .time_ms = T0,
                                  .flags = "stalking,injury,separation,"
                                           "children_present"), 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p2");
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "special_circumstances.combined");
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "4 risk factors reported: injury, children present, "
                         "separation, stalking");
        ck_assert_str_eq(alerts[0]->subject_key, "i:C-4");
        ck_assert_uint_eq(alerts[0]->count, 1);
        ck_assert_double_eq_tol(alerts[0]->score, 1.0, 1e-9);
}
END_TEST

START_TEST(sc_three_combined_flags_nothing)
{
        ck_assert_uint_eq(SEND_SC(.id = "C-3", .time_ms = T0,
                                  .flags = "injury,pregnancy,escalation"), 0);
}
END_TEST

START_TEST(sc_all_combined_flags_p2)
{
        ck_assert_uint_eq(SEND_SC(.id = "C-8", .time_ms = T0,
                                  .flags = "injury,children_present,"
                                           "suicide_threat,intoxication,"
                                           "pregnancy,separation,stalking,"
                                           "escalation"), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_has(alerts[0]->reasons[0]->text, "8 risk factors reported");
        ck_assert_double_eq_tol(alerts[0]->score, 2.0, 1e-9);
}
END_TEST

START_TEST(sc_lethal_wins_over_combined)
{
        ck_assert_uint_eq(SEND_SC(.id = "B-1", .time_ms = T0,
                                  .flags = "strangulation,injury,"
                                           "children_present,separation,"
                                           "stalking"), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "special_circumstances.lethal");
}
END_TEST

START_TEST(sc_non_domestic_nothing)
{
        const char *exists[] = {"EXISTS", "hearth:{p0}:inc:N-1"};

        ck_assert_uint_eq(SEND_SC(.id = "N-1", .time_ms = T0,
                                  .flags = "weapon,firearm",
                                  .not_domestic = true), 0);
        ck_assert_str_eq(harness_redis(2, exists), "0");
}
END_TEST

START_TEST(sc_no_flags_nothing)
{
        const char *exists[] = {"HEXISTS", "hearth:{p0}:inc:E-1",
                                "sc.flags"};

        ck_assert_uint_eq(SEND_SC(.id = "E-1", .time_ms = T0), 0);
        ck_assert_str_eq(harness_redis(3, exists), "0");
}
END_TEST

START_TEST(sc_duplicate_event_nothing)
{
        ck_assert_uint_eq(SEND_SC(.id = "D-1", .time_ms = T0,
                                  .flags = "weapon"), 1);
        ck_assert_uint_eq(SEND_SC(.id = "D-1", .time_ms = T0,
                                  .flags = "weapon"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "D-1", .time_ms = T0 + HOUR_MS,
                                  .flags = "weapon,firearm",
                                  .type = DISPOSED),
                          0);
}
END_TEST

START_TEST(sc_p2_then_weapon_raises_p1)
{
        char first_id[40];

        ck_assert_uint_eq(SEND_SC(.id = "R-1", .time_ms = T0,
                                  .flags = "injury,intoxication,pregnancy,"
                                           "escalation"), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        snprintf(first_id, sizeof(first_id), "%s", alerts[0]->alert_id);
        ck_assert_uint_eq(SEND_SC(.id = "R-1", .time_ms = T0 + HOUR_MS,
                                  .flags = "weapon",
                                  .type = ARRIVED),
                          1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p1");
        ck_assert_str_ne(alerts[0]->alert_id, first_id);
        /* Neither priority repeats. */
        ck_assert_uint_eq(SEND_SC(.id = "R-1", .time_ms = T0 + 2 * HOUR_MS,
                                  .flags = "strangulation,stalking",
                                  .type = DISPOSED),
                          0);
}
END_TEST

START_TEST(sc_p1_never_followed_by_p2)
{
        ck_assert_uint_eq(SEND_SC(.id = "R-2", .time_ms = T0,
                                  .flags = "firearm"), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_uint_eq(SEND_SC(.id = "R-2", .time_ms = T0 + HOUR_MS,
                                  .flags = "injury,intoxication,pregnancy,"
                                           "escalation"), 0);
}
END_TEST

START_TEST(sc_p1_suppresses_later_p2_rule)
{
        ck_assert_uint_eq(SEND_SC(.id = "S-1", .time_ms = T0,
                                  .flags = "weapon"), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        /* Without the lethal rule, the incident now only meets P2. */
        harness_set_option("models.special_circumstances.lethal_flags=");
        harness_restart_engine();
        ck_assert_uint_eq(SEND_SC(.id = "S-1", .time_ms = T0 + HOUR_MS,
                                  .flags = "injury,children_present,"
                                           "separation,stalking"), 0);
        /* The same flags on a fresh incident do alert. */
        ck_assert_uint_eq(SEND_SC(.id = "S-2", .time_ms = T0 + HOUR_MS,
                                  .flags = "injury,children_present,"
                                           "separation,stalking"), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
}
END_TEST

START_TEST(sc_flags_add_up_across_events)
{
        ck_assert_uint_eq(SEND_SC(.id = "U-1", .time_ms = T0,
                                  .flags = "injury,children_present"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "U-1", .time_ms = T0 + MINUTE_MS,
                                  .flags = "separation"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "U-1", .time_ms = T0 + 2 * MINUTE_MS,
                                  .flags = "stalking"), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "4 risk factors reported: injury, children present, "
                         "separation, stalking");
}
END_TEST

START_TEST(sc_late_event_updates_state_only)
{
        ck_assert_uint_eq(SEND_SC(.id = "other", .time_ms = T0 + DAY_MS), 0);
        /* Older than the watermark: T0 < T0 + 1 day - lateness. */
        ck_assert_uint_eq(SEND_SC(.id = "LATE-1", .time_ms = T0,
                                  .flags = "weapon"), 0);
        /* The weapon stays on record, so the next timely event alerts. */
        ck_assert_uint_eq(SEND_SC(.id = "LATE-1", .time_ms = T0 + DAY_MS,
                                  .type = DISPOSED),
                          1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->text, "weapon reported");
}
END_TEST

START_TEST(sc_within_lateness_not_late)
{
        ck_assert_uint_eq(SEND_SC(.id = "other", .time_ms = T0 + LATENESS_MS),
                          0);
        /* An event exactly at the watermark is not late, so it alerts. */
        ck_assert_uint_eq(SEND_SC(.id = "OK-1", .time_ms = T0,
                                  .flags = "weapon"), 1);
}
END_TEST

START_TEST(sc_dedup_window_edge)
{
        const int64_t window = 30 * DAY_MS;

        ck_assert_uint_eq(SEND_SC(.id = "W-1", .time_ms = T0,
                                  .flags = "weapon"), 1);
        ck_assert_uint_eq(SEND_SC(.id = "W-1", .time_ms = T0 + window - 1,
                                  .type = FOLLOW_UP),
                          0);
        /* Exactly one window later the earlier alert no longer counts. */
        ck_assert_uint_eq(SEND_SC(.id = "W-1", .time_ms = T0 + window,
                                  .type = FOLLOW_UP),
                          1);
        ck_assert_int_eq(alerts[0]->priority, 1);
}
END_TEST

START_TEST(sc_state_key_and_ttl)
{
        const char *pttl[] = {"PTTL", "hearth:{p0}:inc:K-1"};
        const char *hget[] = {"HGET", "hearth:{p0}:inc:K-1", "sc.1"};
        const int64_t ttl = 30 * DAY_MS + LATENESS_MS;
        char when[32];
        long long left;

        ck_assert_uint_eq(SEND_SC(.id = "K-1", .time_ms = T0,
                                  .flags = "weapon"), 1);
        left = atoll(harness_redis(2, pttl));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
        snprintf(when, sizeof(when), "%lld", (long long)T0);
        ck_assert_str_eq(harness_redis(3, hget), when);
}
END_TEST

START_TEST(sc_config_threshold_and_priorities)
{
        harness_set_option("models.special_circumstances.combined_threshold=3");
        harness_set_option("models.special_circumstances.combined_priority=3");
        harness_set_option("models.special_circumstances.lethal_priority=2");
        ck_assert_uint_eq(SEND_SC(.id = "K-3", .time_ms = T0,
                                  .flags = "injury,pregnancy,escalation"), 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p3");
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_uint_eq(SEND_SC(.id = "K-4", .time_ms = T0,
                                  .flags = "injury,pregnancy"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "K-5", .time_ms = T0,
                                  .flags = "weapon"), 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p2");
        ck_assert_int_eq(alerts[0]->priority, 2);
}
END_TEST

START_TEST(sc_config_flag_lists)
{
        harness_set_option(
                "models.special_circumstances.lethal_flags= firearm ");
        harness_set_option("models.special_circumstances.combined_flags="
                           "weapon, injury");
        harness_set_option("models.special_circumstances.combined_threshold=2");
        ck_assert_uint_eq(SEND_SC(.id = "F-1", .time_ms = T0,
                                  .flags = "weapon"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "F-2", .time_ms = T0,
                                  .flags = "strangulation,threat_to_kill"),
                          0);
        ck_assert_uint_eq(SEND_SC(.id = "F-3", .time_ms = T0,
                                  .flags = "firearm"), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_uint_eq(SEND_SC(.id = "F-4", .time_ms = T0,
                                  .flags = "weapon,injury"), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "2 risk factors reported: weapon, injury");
}
END_TEST

START_TEST(sc_empty_lethal_list_disables_rule)
{
        harness_set_option("models.special_circumstances.lethal_flags=");
        ck_assert_uint_eq(SEND_SC(.id = "X-1", .time_ms = T0,
                                  .flags = "weapon,firearm"), 0);
        ck_assert_uint_eq(SEND_SC(.id = "X-2", .time_ms = T0,
                                  .flags = "injury,children_present,"
                                           "separation,stalking"), 1);
}
END_TEST

START_TEST(sc_disabled_nothing)
{
        harness_set_option("models.special_circumstances.enabled=false");
        ck_assert_uint_eq(SEND_SC(.id = "Z-1", .time_ms = T0,
                                  .flags = "weapon"), 0);
}
END_TEST

START_TEST(sc_unknown_flag_stops_engine)
{
        char msg[2048];

        harness_set_option(
                "models.special_circumstances.lethal_flags=weapon,knife");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "option models.special_circumstances.lethal_flags");
        ck_assert_has(msg, "unknown risk flag \"knife\"");
        ck_assert_has(msg, "threat_to_kill");
}
END_TEST

START_TEST(sc_unknown_combined_flag_stops_engine)
{
        char msg[2048];

        harness_set_option("models.special_circumstances.combined_flags=injury,"
                           "Stalking");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "option models.special_circumstances.combined_"
                           "flags");
        ck_assert_has(msg, "\"Stalking\"");
}
END_TEST

START_TEST(sc_empty_flag_name_stops_engine)
{
        char msg[2048];

        harness_set_option("models.special_circumstances.lethal_flags=weapon,,"
                           "firearm");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "models.special_circumstances.lethal_flags: "
                           "empty flag name");
}
END_TEST

START_TEST(sc_shared_flag_stops_engine)
{
        char msg[2048];

        harness_set_option("models.special_circumstances.combined_flags=injury,"
                           "weapon,stalking,separation");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "must not share a flag");
}
END_TEST

START_TEST(sc_threshold_above_list_stops_engine)
{
        char msg[2048];

        harness_set_option("models.special_circumstances.combined_flags=injury,"
                           "stalking");
        harness_set_option("models.special_circumstances.combined_threshold=3");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "combined_threshold: 3 exceeds the 2 combined "
                           "flags");
}
END_TEST

START_TEST(sc_valid_config_starts_engine)
{
        char msg[2048];

        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)), 0);
        ck_assert_str_eq(msg, "");
}
END_TEST

START_TEST(sc_option_ranges)
{
        ck_assert_int_eq(hearth_config_set(&cfg, "models.special_"
                                           "circumstances.combined_"
                                           "threshold=0", err, sizeof(err)),
                         -1);
        ck_assert_has(err, "models.special_circumstances.combined_threshold");
        ck_assert_int_eq(hearth_config_set(&cfg, "models.special_"
                                           "circumstances.lethal_priority=5",
                                           err, sizeof(err)), -1);
        ck_assert_has(err, "models.special_circumstances.lethal_priority");
        ck_assert_int_eq(hearth_config_set(&cfg, "models.special_"
                                           "circumstances.dedup_window_days"
                                           "=0", err, sizeof(err)), -1);
}
END_TEST

/* ---- repeat dispositions ---- */

START_TEST(rd_threshold_reached_p3)
{
        const int64_t t = T0 + DAY_MS;

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = t,
                                  .disposition = WARNED), 1);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p3");
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_str_eq(alerts[0]->model, RD);
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__HOUSEHOLD);
        ck_assert_str_eq(alerts[0]->subject_key, "a:" HOUSE);
        ck_assert_uint_eq(alerts[0]->count, 2);
        ck_assert_int_eq(alerts[0]->window_start_ms, t - 90 * DAY_MS + 1);
        ck_assert_int_eq(alerts[0]->window_end_ms, t);
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 2);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A");
        ck_assert_str_eq(alerts[0]->incident_ids[1], "B");
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "B");
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "repeat_dispositions");
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "2 domestic incidents at this household closed as "
                         "MEDIATED or WARNED within 90 days");
        ck_assert_double_eq_tol(alerts[0]->score, 1.0, 1e-9);
}
END_TEST

START_TEST(rd_one_below_threshold_nothing)
{
        harness_set_option("models.repeat_dispositions.threshold=3");
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS,
                                  .disposition = WARNED), 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_double_eq_tol(alerts[0]->score, 1.0, 1e-9);
}
END_TEST

START_TEST(rd_window_edge_excluded)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        /* Windows are (t - W, t], so exactly 90 days apart is outside. */
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + 90 * DAY_MS,
                                  .disposition = MEDIATED), 0);
}
END_TEST

START_TEST(rd_window_edge_included)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + 90 * DAY_MS - 1,
                                  .disposition = MEDIATED), 1);
        ck_assert_uint_eq(alerts[0]->count, 2);
}
END_TEST

START_TEST(rd_old_members_trimmed)
{
        const char *zcard[] = {"ZCARD", RD_KEY};

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        /* A is older than the window plus the allowed lateness. */
        ck_assert_uint_eq(SEND_RD(.id = "B",
                                  .time_ms = T0 + 90 * DAY_MS + LATENESS_MS,
                                  .disposition = MEDIATED), 0);
        ck_assert_str_eq(harness_redis(2, zcard), "1");
}
END_TEST

START_TEST(rd_other_dispositions_ignored)
{
        const char *exists[] = {"EXISTS", RD_KEY};

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = DETAINED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition =
                                          HEARTH__V1__DISPOSITION__ADVISED),
                          0);
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS), 0);
        ck_assert_str_eq(harness_redis(2, exists), "0");
        ck_assert_uint_eq(SEND_RD(.id = "D", .time_ms = T0 + 3 * DAY_MS,
                                  .disposition = MEDIATED), 0);
}
END_TEST

START_TEST(rd_non_domestic_ignored)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED,
                                  .not_domestic = true), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 0);
}
END_TEST

START_TEST(rd_households_counted_apart)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED,
                                  .address = OTHER_HOUSE), 0);
}
END_TEST

START_TEST(rd_incident_counted_once)
{
        const char *zcard[] = {"ZCARD", RD_KEY};

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0 + HOUR_MS,
                                  .disposition = WARNED,
                                  .type = WARNING_ISSUED),
                          0);
        ck_assert_str_eq(harness_redis(2, zcard), "1");
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = WARNED), 1);
        ck_assert_uint_eq(alerts[0]->count, 2);
}
END_TEST

START_TEST(rd_first_qualifying_event_time)
{
        const char *zscore[] = {"ZSCORE", RD_KEY, "A"};
        const int64_t disposed = T0 + 10 * DAY_MS;
        char want[32];

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0), 0);
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = disposed,
                                  .disposition = MEDIATED,
                                  .type = DISPOSED),
                          0);
        snprintf(want, sizeof(want), "%lld", (long long)disposed);
        ck_assert_str_eq(harness_redis(3, zscore), want);
        /* A counts from its disposition, 85 days before B. */
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + 95 * DAY_MS,
                                  .disposition = WARNED), 1);
        ck_assert_uint_eq(alerts[0]->count, 2);
}
END_TEST

START_TEST(rd_late_event_counted_silently)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        /* Another household's call moves the watermark a day on. */
        ck_assert_uint_eq(SEND_RD(.id = "X", .time_ms = T0 + DAY_MS,
                                  .address = OTHER_HOUSE), 0);
        /* B is late, so it is counted but raises no alert. */
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + HOUR_MS,
                                  .disposition = WARNED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A");
        ck_assert_str_eq(alerts[0]->incident_ids[1], "B");
}
END_TEST

START_TEST(rd_repeat_suppressed_within_window)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "D",
                                  .time_ms = T0 + 91 * DAY_MS - 1,
                                  .disposition = MEDIATED), 0);
        /* One window after the alert B is just outside, C to E count. */
        ck_assert_uint_eq(SEND_RD(.id = "E", .time_ms = T0 + 91 * DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "C");
}
END_TEST

START_TEST(rd_more_urgent_alert_suppresses)
{
        harness_set_option("models.repeat_dispositions.priority=2");
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        harness_set_option("models.repeat_dispositions.priority=3");
        harness_restart_engine();
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS,
                                  .disposition = MEDIATED), 0);
}
END_TEST

START_TEST(rd_less_urgent_alert_does_not_suppress)
{
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        harness_set_option("models.repeat_dispositions.priority=2");
        harness_restart_engine();
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 2 * DAY_MS,
                                  .disposition = MEDIATED), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alert_topics[0], "hearth.alerts.p2");
}
END_TEST

START_TEST(rd_state_keys_and_ttl)
{
        const char *pttl_z[] = {"PTTL", RD_KEY};
        const char *pttl_s[] = {"PTTL", RD_SUP_KEY};
        const char *hget[] = {"HGET", RD_SUP_KEY, "3"};
        const int64_t ttl = 90 * DAY_MS + LATENESS_MS;
        char when[32];
        long long left;

        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 1);
        left = atoll(harness_redis(2, pttl_z));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
        left = atoll(harness_redis(2, pttl_s));
        ck_assert_int_le(left, ttl);
        ck_assert_int_gt(left, ttl - 60000);
        snprintf(when, sizeof(when), "%lld", (long long)(T0 + DAY_MS));
        ck_assert_str_eq(harness_redis(3, hget), when);
}
END_TEST

START_TEST(rd_config_window_and_list)
{
        harness_set_option("models.repeat_dispositions.window_days=7");
        harness_set_option("models.repeat_dispositions.dispositions=DETAINED, "
                           "REFERRED");
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = DETAINED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "C", .time_ms = T0 + 7 * DAY_MS,
                                  .disposition = REFERRED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "D", .time_ms = T0 + 8 * DAY_MS,
                                  .disposition = REFERRED), 1);
        ck_assert_uint_eq(alerts[0]->count, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->text,
                         "2 domestic incidents at this household closed as "
                         "DETAINED or REFERRED within 7 days");
}
END_TEST

START_TEST(rd_disabled_nothing)
{
        harness_set_option("models.repeat_dispositions.enabled=false");
        ck_assert_uint_eq(SEND_RD(.id = "A", .time_ms = T0,
                                  .disposition = MEDIATED), 0);
        ck_assert_uint_eq(SEND_RD(.id = "B", .time_ms = T0 + DAY_MS,
                                  .disposition = MEDIATED), 0);
}
END_TEST

START_TEST(rd_unknown_disposition_stops_engine)
{
        char msg[2048];

        harness_set_option("models.repeat_dispositions.dispositions=MEDIATED,"
                           "SCOLDED");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "option models.repeat_dispositions.dispositions");
        ck_assert_has(msg, "unknown disposition \"SCOLDED\"");
        ck_assert_has(msg, "CASE_FILED");
}
END_TEST

START_TEST(rd_unspecified_disposition_stops_engine)
{
        char msg[2048];

        harness_set_option("models.repeat_dispositions.dispositions="
                           "DISPOSITION_UNSPECIFIED");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "unknown disposition \"DISPOSITION_UNSPECIFIED\"");
}
END_TEST

START_TEST(rd_empty_list_stops_engine)
{
        char msg[2048];

        harness_set_option("models.repeat_dispositions.dispositions=");
        ck_assert_int_eq(harness_engine_status(msg, sizeof(msg)),
                         EXIT_FAILURE);
        ck_assert_has(msg, "models.repeat_dispositions.dispositions is "
                           "empty");
}
END_TEST

START_TEST(rd_option_ranges)
{
        ck_assert_int_eq(hearth_config_set(&cfg, "models.repeat_"
                                           "dispositions.threshold=1", err,
                                           sizeof(err)), -1);
        ck_assert_has(err, "models.repeat_dispositions.threshold");
        ck_assert_int_eq(hearth_config_set(&cfg, "models.repeat_"
                                           "dispositions.window_days=0", err,
                                           sizeof(err)), -1);
        ck_assert_has(err, "models.repeat_dispositions.window_days");
        ck_assert_int_eq(hearth_config_set(&cfg, "models.repeat_"
                                           "dispositions.enabled=yes", err,
                                           sizeof(err)), -1);
}
END_TEST

START_TEST(models_option_defaults)
{
        ck_assert(cfg.sc_enabled);
        ck_assert_str_eq(cfg.sc_lethal_flags, "weapon,firearm,strangulation,"
                                              "threat_to_kill,"
                                              "victim_fears_death");
        ck_assert_int_eq(cfg.sc_lethal_priority, 1);
        ck_assert_str_eq(cfg.sc_combined_flags,
                         "injury,children_present,suicide_threat,"
                         "intoxication,pregnancy,separation,stalking,"
                         "escalation");
        ck_assert_int_eq(cfg.sc_combined_threshold, 4);
        ck_assert_int_eq(cfg.sc_combined_priority, 2);
        ck_assert_int_eq(cfg.sc_dedup_window_d, 30);
        ck_assert(cfg.rd_enabled);
        ck_assert_str_eq(cfg.rd_dispositions, "MEDIATED,WARNED");
        ck_assert_int_eq(cfg.rd_window_d, 90);
        ck_assert_int_eq(cfg.rd_threshold, 2);
        ck_assert_int_eq(cfg.rd_priority, 3);
        ck_assert_int_eq(cfg.rd_max_incident_ids, 50);
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
        TCase *tc = harness_tcase(name);

        tcase_add_checked_fixture(tc, setup, free_alerts);
        return tc;
}

Suite *hearth_test_models_suite(void)
{
        Suite *s = suite_create("models");
        TCase *sc = server_tcase("special_circumstances");
        TCase *rd = server_tcase("repeat_dispositions");
        TCase *options = tcase_create("options");

        tcase_add_test(sc, sc_each_lethal_flag_alone);
        tcase_add_test(sc, sc_lethal_alert_fields);
        tcase_add_test(sc, sc_four_combined_flags_p2);
        tcase_add_test(sc, sc_three_combined_flags_nothing);
        tcase_add_test(sc, sc_all_combined_flags_p2);
        tcase_add_test(sc, sc_lethal_wins_over_combined);
        tcase_add_test(sc, sc_non_domestic_nothing);
        tcase_add_test(sc, sc_no_flags_nothing);
        tcase_add_test(sc, sc_duplicate_event_nothing);
        tcase_add_test(sc, sc_p2_then_weapon_raises_p1);
        tcase_add_test(sc, sc_p1_never_followed_by_p2);
        tcase_add_test(sc, sc_p1_suppresses_later_p2_rule);
        tcase_add_test(sc, sc_flags_add_up_across_events);
        tcase_add_test(sc, sc_late_event_updates_state_only);
        tcase_add_test(sc, sc_within_lateness_not_late);
        tcase_add_test(sc, sc_dedup_window_edge);
        tcase_add_test(sc, sc_state_key_and_ttl);
        tcase_add_test(sc, sc_config_threshold_and_priorities);
        tcase_add_test(sc, sc_config_flag_lists);
        tcase_add_test(sc, sc_empty_lethal_list_disables_rule);
        tcase_add_test(sc, sc_disabled_nothing);
        tcase_add_test(sc, sc_unknown_flag_stops_engine);
        tcase_add_test(sc, sc_unknown_combined_flag_stops_engine);
        tcase_add_test(sc, sc_empty_flag_name_stops_engine);
        tcase_add_test(sc, sc_shared_flag_stops_engine);
        tcase_add_test(sc, sc_threshold_above_list_stops_engine);
        tcase_add_test(sc, sc_valid_config_starts_engine);
        suite_add_tcase(s, sc);

        tcase_add_test(rd, rd_threshold_reached_p3);
        tcase_add_test(rd, rd_one_below_threshold_nothing);
        tcase_add_test(rd, rd_window_edge_excluded);
        tcase_add_test(rd, rd_window_edge_included);
        tcase_add_test(rd, rd_old_members_trimmed);
        tcase_add_test(rd, rd_other_dispositions_ignored);
        tcase_add_test(rd, rd_non_domestic_ignored);
        tcase_add_test(rd, rd_households_counted_apart);
        tcase_add_test(rd, rd_incident_counted_once);
        tcase_add_test(rd, rd_first_qualifying_event_time);
        tcase_add_test(rd, rd_late_event_counted_silently);
        tcase_add_test(rd, rd_repeat_suppressed_within_window);
        tcase_add_test(rd, rd_more_urgent_alert_suppresses);
        tcase_add_test(rd, rd_less_urgent_alert_does_not_suppress);
        tcase_add_test(rd, rd_state_keys_and_ttl);
        tcase_add_test(rd, rd_config_window_and_list);
        tcase_add_test(rd, rd_disabled_nothing);
        tcase_add_test(rd, rd_unknown_disposition_stops_engine);
        tcase_add_test(rd, rd_unspecified_disposition_stops_engine);
        tcase_add_test(rd, rd_empty_list_stops_engine);
        suite_add_tcase(s, rd);

        tcase_add_checked_fixture(options, setup_options, teardown_options);
        tcase_add_test(options, models_option_defaults);
        tcase_add_test(options, sc_option_ranges);
        tcase_add_test(options, rd_option_ranges);
        suite_add_tcase(s, options);
        return s;
}
