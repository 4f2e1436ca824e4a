/*
 * Tests for the person models (models/repeat_offender.c,
 * models/order_violation.c, models/follow_up_overdue.c, models/labels.c),
 * the dispatch-overdue timer (models/dispatch_overdue.c), and the engine's
 * priority fusion, labels and person repartition (engine/engine.c), driven
 * through hearth_engine_process against a real redis-server.
 *
 * The persons-stage TCases read events routed by a person key (route_key)
 * on partition 0, so their state keys carry the hash tag {r0}. Fusion is
 * off in them unless a test turns it on, so each alert shows its model's
 * own priority. Each test sends events in batches through the harness
 * (model_harness.h) and decodes the alerts and tags of each batch.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/v1/tag.pb-c.h"
#include "tests/unit/model_harness.h"

#define MINUTE_MS   INT64_C(60000)
#define HOUR_MS     (60 * MINUTE_MS)
#define DAY_MS      (24 * HOUR_MS)
#define T0          INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define LATENESS_MS (10 * MINUTE_MS)       /* engine.allowed_lateness_ms */

#define PERSON      "k1:SSSSSSSSSSSSSSSSSSSSSS"
#define OTHER       "k1:QQQQQQQQQQQQQQQQQQQQQQ"
#define VICTIM      "k1:VVVVVVVVVVVVVVVVVVVVVV"
#define WITNESS     "k1:WWWWWWWWWWWWWWWWWWWWWW"
#define HOUSE       "k1:HHHHHHHHHHHHHHHHHHHHHH"
#define OTHER_HOUSE "k1:OOOOOOOOOOOOOOOOOOOOOO"
#define CITY        "990100"

#define RO "repeat_offender"
#define OV "order_violation"
#define FU "follow_up_overdue"
#define DO "dispatch_overdue"
#define RD "repeat_dispositions"
#define SC "special_circumstances"

#define RO_KEY            "hearth:{r0}:ro:" PERSON
#define FU_TIMERS         "hearth:{r0}:fu:timers"
#define FU_KEY            "hearth:{r0}:fu:" PERSON
#define LABELS_KEY        "hearth:{r0}:labels:" PERSON
#define VICTIM_LABELS_KEY "hearth:{r0}:labels:" VICTIM
#define DO_TIMERS         "hearth:{p0}:do:timers"

#define CALL           HEARTH__V1__EVENT_TYPE__CALL_RECEIVED
#define DISPATCHED     HEARTH__V1__EVENT_TYPE__DISPATCHED
#define DISPOSED       HEARTH__V1__EVENT_TYPE__DISPOSED
#define WARNING        HEARTH__V1__EVENT_TYPE__WARNING_ISSUED
#define VISIT          HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT
#define ORDER_ISSUED   HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_ISSUED
#define ORDER_VIOLATED HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_VIOLATED
#define MEDIATED       HEARTH__V1__DISPOSITION__MEDIATED

#define MAX_OUT 32

/* Alerts and tags of the last batch. */
static Hearth__V1__Alert *alerts[MAX_OUT];
static size_t n_alerts;
static Hearth__V1__Tag *tags[MAX_OUT];
static size_t n_tags;

static void free_output(void)
{
        harness_free_alerts(alerts, n_alerts);
        n_alerts = 0;
        for (size_t i = 0; i < n_tags; i++)
                hearth__v1__tag__free_unpacked(tags[i], NULL);
        n_tags = 0;
}

static void setup_persons(void)
{
        harness_set_option("engine.stage=persons");
        harness_set_option("engine.fusion_window_hours=0");
}

static void setup_incidents(void)
{
        harness_set_option("engine.fusion_window_hours=0");
}

static void collect_tags(void)
{
        for (size_t i = 0; i < harness_out.n; i++) {
                const hearth_out_msg_t *m = &harness_out.msgs[i];
                Hearth__V1__Tag *tag;

                if (strcmp(m->topic, "hearth.tags") != 0)
                        continue;
                tag = hearth__v1__tag__unpack(NULL, m->len, m->payload);
                ck_assert_msg(tag != NULL, "undecodable tag");
                ck_assert_str_eq(m->key, tag->person_key);
                ck_assert_uint_lt(n_tags, MAX_OUT);
                tags[n_tags++] = tag;
        }
}

/*
 * Processes the queued events as one batch and returns how many alerts
 * model (NULL for any) raised in it. The alerts are in alerts[], and every
 * tag of the batch is in tags[].
 */
static size_t run(const char *model)
{
        free_output();
        harness_process();
        n_alerts = harness_collect_alerts(model, alerts, NULL, MAX_OUT);
        collect_tags();
        return n_alerts;
}

#define QUEUE(...) harness_queue((harness_event_t){__VA_ARGS__})

/* Queues a persons-stage event with PERSON as its suspect. */
static void queue_suspect(const char *id, int64_t t, Hearth__V1__EventType type)
{
        QUEUE(.id = id, .time_ms = t, .type = type, .route = PERSON,
              .suspect = PERSON, .city = CITY);
}

/* Sends one suspect event of PERSON and returns model's alerts for it. */
static size_t send_suspect(const char *model, const char *id, int64_t t,
                           Hearth__V1__EventType type)
{
        queue_suspect(id, t, type);
        return run(model);
}

/* Sends an event of another person, which moves the watermark to t. */
static size_t send_other(const char *model, const char *id, int64_t t)
{
        QUEUE(.id = id, .time_ms = t, .route = OTHER, .suspect = OTHER);
        return run(model);
}

static const char *redis2(const char *command, const char *key)
{
        const char *argv[] = {command, key};

        return harness_redis(2, argv);
}

static const char *redis3(const char *command, const char *key, const char *arg)
{
        const char *argv[] = {command, key, arg};

        return harness_redis(3, argv);
}

static const char *decimal(int64_t v)
{
        static char text[4][32];
        static int next;

        next = (next + 1) % 4;
        snprintf(text[next], sizeof(text[next]), "%lld", (long long)v);
        return text[next];
}

static const Hearth__V1__Tag *find_tag(const char *label)
{
        for (size_t i = 0; i < n_tags; i++)
                if (strcmp(tags[i]->label, label) == 0)
                        return tags[i];
        return NULL;
}

/* ---- repeat offender ---- */

START_TEST(ro_threshold_reached_p2)
{
        const int64_t t = T0 + 365 * DAY_MS - 1;

        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", t, CALL), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "repeat_offender.incidents");
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__PERSON);
        ck_assert_str_eq(alerts[0]->subject_key, PERSON);
        ck_assert_uint_eq(alerts[0]->count, 2);
        ck_assert_uint_eq(alerts[0]->n_incident_ids, 2);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A");
        ck_assert_str_eq(alerts[0]->incident_ids[1], "B");
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "B");
        ck_assert_int_eq(alerts[0]->window_start_ms, T0);
        ck_assert_int_eq(alerts[0]->window_end_ms, t);
        ck_assert_str_eq(alerts[0]->city_code, CITY);
}
END_TEST

START_TEST(ro_one_incident_nothing)
{
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_str_eq(redis2("ZCARD", RO_KEY), "1");
}
END_TEST

START_TEST(ro_window_edge_excluded)
{
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + 365 * DAY_MS, CALL), 0);
}
END_TEST

START_TEST(ro_late_event_counted_silently)
{
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + 10 * DAY_MS, CALL), 0);
        /* Older than the watermark: counted, but no alert. */
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_str_eq(redis2("ZCARD", RO_KEY), "2");
        ck_assert_uint_eq(send_suspect(RO, "C", T0 + 20 * DAY_MS, CALL), 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "A");
}
END_TEST

START_TEST(ro_duplicate_incident_once)
{
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "A", T0 + HOUR_MS, DISPOSED), 0);
        ck_assert_uint_eq(send_suspect(RO, "A", T0 + HOUR_MS, DISPOSED), 0);
        ck_assert_str_eq(redis2("ZCARD", RO_KEY), "1");
        ck_assert_str_eq(redis3("ZSCORE", RO_KEY, "A"), decimal(T0));
}
END_TEST

START_TEST(ro_victim_role_ignored)
{
        QUEUE(.id = "A", .time_ms = T0, .route = PERSON, .victim = PERSON);
        ck_assert_uint_eq(run(RO), 0);
        QUEUE(.id = "B", .time_ms = T0 + DAY_MS, .route = PERSON,
              .victim = PERSON);
        ck_assert_uint_eq(run(RO), 0);
        ck_assert_str_eq(redis2("EXISTS", RO_KEY), "0");
}
END_TEST

START_TEST(ro_not_domestic_ignored)
{
        for (int i = 0; i < 3; i++) {
                QUEUE(.id = i ? "B" : "A", .time_ms = T0 + i * DAY_MS,
                      .route = PERSON, .suspect = PERSON, .not_domestic = true);
                ck_assert_uint_eq(run(RO), 0);
        }
        ck_assert_str_eq(redis2("EXISTS", RO_KEY), "0");
}
END_TEST

START_TEST(ro_after_warning_p2)
{
        /* Out of reach of the count rule, so only the warning rule fires. */
        harness_set_option("models.repeat_offender.threshold=3");
        ck_assert_uint_eq(send_suspect(RO, "A", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + 100 * DAY_MS, CALL), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "repeat_offender.after_warning");
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "B");
        ck_assert_uint_eq(alerts[0]->count, 2);
}
END_TEST

START_TEST(ro_warning_incident_no_trigger)
{
        harness_set_option("models.repeat_offender.threshold=3");
        ck_assert_uint_eq(send_suspect(RO, "A", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(RO, "A", T0 + HOUR_MS, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "A", T0 + DAY_MS, WARNING), 0);
}
END_TEST

START_TEST(ro_after_warning_expires)
{
        harness_set_option("models.repeat_offender.threshold=3");
        ck_assert_uint_eq(send_suspect(RO, "A", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + 365 * DAY_MS + 1, CALL),
                          0);
}
END_TEST

START_TEST(ro_after_warning_days_option)
{
        harness_set_option("models.repeat_offender.threshold=3");
        harness_set_option("models.repeat_offender.after_warning_days=30");
        ck_assert_uint_eq(send_suspect(RO, "A", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + 31 * DAY_MS, CALL), 0);
}
END_TEST

START_TEST(ro_suppressed_within_window)
{
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "B", T0 + DAY_MS, CALL), 1);
        ck_assert_uint_eq(send_suspect(RO, "C", T0 + 2 * DAY_MS, CALL), 0);
        ck_assert_uint_eq(send_suspect(RO, "D", T0 + 365 * DAY_MS, CALL), 0);
        /* 365 days after the last alert, suppression has ended. */
        ck_assert_uint_eq(send_suspect(RO, "E", T0 + 366 * DAY_MS, CALL), 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "C");
}
END_TEST

START_TEST(ro_label_added_then_renewed)
{
        const int64_t first = T0 + DAY_MS, second = T0 + 366 * DAY_MS;
        const Hearth__V1__Tag *tag;

        /* The label outlives the suppression, so the next alert renews it. */
        harness_set_option("models.labels.repeat_offender_days=730");
        ck_assert_uint_eq(send_suspect(RO, "A", T0, CALL), 0);
        ck_assert_ptr_null(find_tag("repeat_offender"));
        ck_assert_uint_eq(send_suspect(RO, "B", first, CALL), 1);
        tag = find_tag("repeat_offender");
        ck_assert_ptr_nonnull(tag);
        ck_assert_int_eq(tag->change, HEARTH__V1__TAG_CHANGE__ADDED);
        ck_assert_str_eq(tag->person_key, PERSON);
        ck_assert_str_eq(tag->reason_code, "repeat_offender.incidents");
        ck_assert_int_eq(tag->expires_at_ms, first + 730 * DAY_MS);
        ck_assert_int_eq(tag->event_time_ms, first);
        ck_assert_str_eq(tag->incident_id, "B");
        ck_assert_str_eq(redis3("HGET", LABELS_KEY, "repeat_offender"),
                         decimal(first + 730 * DAY_MS));

        ck_assert_uint_eq(send_suspect(RO, "C", T0 + 2 * DAY_MS, CALL), 0);
        ck_assert_ptr_null(find_tag("repeat_offender"));
        ck_assert_uint_eq(send_suspect(RO, "D", second, CALL), 1);
        tag = find_tag("repeat_offender");
        ck_assert_ptr_nonnull(tag);
        ck_assert_int_eq(tag->change, HEARTH__V1__TAG_CHANGE__RENEWED);
        ck_assert_int_eq(tag->expires_at_ms, second + 730 * DAY_MS);
        ck_assert_str_eq(redis3("HGET", LABELS_KEY, "repeat_offender"),
                         decimal(second + 730 * DAY_MS));
}
END_TEST

/* ---- order violation ---- */

START_TEST(ov_violated_p1)
{
        ck_assert_uint_eq(send_suspect(OV, "V", T0, ORDER_VIOLATED), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "order_violation.violated");
        ck_assert_str_eq(alerts[0]->subject_key, PERSON);
        ck_assert_int_eq(alerts[0]->window_start_ms, T0);
        ck_assert_str_eq(alerts[0]->incident_ids[0], "V");
}
END_TEST

START_TEST(ov_call_during_order_p1)
{
        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        ck_assert_uint_eq(send_suspect(OV, "C", T0 + 10 * DAY_MS, CALL), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "order_violation.active_order");
        ck_assert_int_eq(alerts[0]->window_start_ms, T0);
        ck_assert_int_eq(alerts[0]->window_end_ms, T0 + 10 * DAY_MS);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "C");
}
END_TEST

START_TEST(ov_order_last_day_included)
{
        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        ck_assert_uint_eq(send_suspect(OV, "C", T0 + 180 * DAY_MS, CALL), 1);
}
END_TEST

START_TEST(ov_order_expired_nothing)
{
        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        ck_assert_uint_eq(send_suspect(OV, "C", T0 + 180 * DAY_MS + 1, CALL),
                          0);
}
END_TEST

START_TEST(ov_same_incident_nothing)
{
        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        ck_assert_uint_eq(send_suspect(OV, "O", T0 + HOUR_MS, CALL), 0);
}
END_TEST

START_TEST(ov_suppressed_for_24_hours)
{
        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        ck_assert_uint_eq(send_suspect(OV, "C1", T0 + DAY_MS, CALL), 1);
        ck_assert_uint_eq(send_suspect(OV, "C2", T0 + 2 * DAY_MS - 1, CALL), 0);
        ck_assert_uint_eq(send_suspect(OV, "C3", T0 + 2 * DAY_MS, CALL), 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "C3");
}
END_TEST

START_TEST(ov_order_subject_tag)
{
        const Hearth__V1__Tag *tag;

        ck_assert_uint_eq(send_suspect(OV, "O", T0, ORDER_ISSUED), 0);
        tag = find_tag("order_subject");
        ck_assert_ptr_nonnull(tag);
        ck_assert_int_eq(tag->change, HEARTH__V1__TAG_CHANGE__ADDED);
        ck_assert_int_eq(tag->expires_at_ms, T0 + 180 * DAY_MS);
        ck_assert_str_eq(tag->reason_code, "order_issued");
        ck_assert_str_eq(tag->incident_id, "O");
        ck_assert_str_eq(redis3("HGET", LABELS_KEY, "order_subject"),
                         decimal(T0 + 180 * DAY_MS));
}
END_TEST

/* ---- follow-up overdue ---- */

START_TEST(fu_fires_after_watermark_passes)
{
        const int64_t due = T0 + 7 * DAY_MS;

        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "1");
        /* The watermark reaches the deadline: not overdue yet. */
        ck_assert_uint_eq(send_other(FU, "X1", due + LATENESS_MS), 0);
        ck_assert_uint_eq(send_other(FU, "X2", due + LATENESS_MS + 1), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "follow_up_overdue");
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__PERSON);
        ck_assert_str_eq(alerts[0]->subject_key, PERSON);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "W");
        ck_assert_int_eq(alerts[0]->event_time_ms, due);
        ck_assert_int_eq(alerts[0]->window_start_ms, T0);
        ck_assert_int_eq(alerts[0]->window_end_ms, due);
        ck_assert_str_eq(alerts[0]->city_code, CITY);
        ck_assert_str_eq(alerts[0]->district_code, "990101");
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "0");
        /* A fired timer does not fire again. */
        ck_assert_uint_eq(send_other(FU, "X3", due + 2 * DAY_MS), 0);
}
END_TEST

START_TEST(fu_visit_in_time_cancels)
{
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(FU, "F", T0 + 3 * DAY_MS, VISIT), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "0");
        ck_assert_str_eq(redis3("HGET", FU_KEY, "w:W"), "done");
        ck_assert_uint_eq(send_other(FU, "X", T0 + 30 * DAY_MS), 0);
}
END_TEST

START_TEST(fu_visit_on_deadline_cancels)
{
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(FU, "F", T0 + 7 * DAY_MS, VISIT), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "0");
        ck_assert_uint_eq(send_other(FU, "X", T0 + 30 * DAY_MS), 0);
}
END_TEST

START_TEST(fu_visit_arriving_first_cancels)
{
        /* The visit is processed first but happened after the warning. */
        ck_assert_uint_eq(send_suspect(FU, "F", T0 + 5 * MINUTE_MS, VISIT), 0);
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "0");
        ck_assert_str_eq(redis3("HGET", FU_KEY, "w:W"), "done");
        ck_assert_uint_eq(send_other(FU, "X", T0 + 30 * DAY_MS), 0);
}
END_TEST

START_TEST(fu_visit_before_warning_ignored)
{
        ck_assert_uint_eq(send_suspect(FU, "F", T0 - MINUTE_MS, VISIT), 0);
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "1");
}
END_TEST

START_TEST(fu_late_visit_keeps_timer)
{
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        /* The visit's batch moves the watermark past the deadline. */
        ck_assert_uint_eq(send_suspect(FU, "F", T0 + 8 * DAY_MS, VISIT), 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "W");
}
END_TEST

START_TEST(fu_late_warning_no_timer)
{
        ck_assert_uint_eq(send_other(FU, "X", T0 + DAY_MS), 0);
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_str_eq(redis2("EXISTS", FU_TIMERS), "0");
}
END_TEST

START_TEST(fu_duplicate_warning_ignored)
{
        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_uint_eq(send_suspect(FU, "W", T0 + HOUR_MS, WARNING), 0);
        ck_assert_str_eq(redis2("ZCARD", FU_TIMERS), "1");
        ck_assert_uint_eq(
                send_other(FU, "X", T0 + 7 * DAY_MS + LATENESS_MS + 1), 1);
        ck_assert_int_eq(alerts[0]->event_time_ms, T0 + 7 * DAY_MS);
        ck_assert_uint_eq(send_other(FU, "Y", T0 + 30 * DAY_MS), 0);
}
END_TEST

START_TEST(fu_replay_fires_once)
{
        queue_suspect("W", T0, WARNING);
        QUEUE(.id = "X", .time_ms = T0 + 8 * DAY_MS, .route = OTHER,
              .suspect = OTHER);
        ck_assert_uint_eq(run(FU), 1);

        /* The same offsets again, as after a crash before the commit. */
        harness_restart_engine();
        harness_set_offset(0, 0);
        queue_suspect("W", T0, WARNING);
        QUEUE(.id = "X", .time_ms = T0 + 8 * DAY_MS, .route = OTHER,
              .suspect = OTHER);
        ck_assert_uint_eq(run(FU), 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->skipped, 2);
}
END_TEST

/* Queues the events of the batch-size test; see fu_batch_size_same_ids. */
static void queue_timeline(size_t i)
{
        static const struct {
                const char *id;
                const char *person;
                int64_t time_ms;
                Hearth__V1__EventType type;
        } timeline[] = {
            {"W1", PERSON, T0, WARNING},
            {"W2", OTHER, T0 + HOUR_MS, WARNING},
            {"F2", OTHER, T0 + DAY_MS, VISIT},
            {"W3", PERSON, T0 + 2 * DAY_MS, WARNING},
            {"X", VICTIM, T0 + 20 * DAY_MS, CALL},
        };

        if (i >= sizeof(timeline) / sizeof(timeline[0]))
                return;
        QUEUE(.id = timeline[i].id, .time_ms = timeline[i].time_ms,
              .type = timeline[i].type, .route = timeline[i].person,
              .suspect = timeline[i].person);
}

START_TEST(fu_batch_size_same_ids)
{
        const char *flushall[] = {"FLUSHALL"};
        char ids[2][8][40];
        size_t n[2] = {0, 0};

        for (size_t i = 0; i < 5; i++)
                queue_timeline(i);
        n[0] = run(FU);
        for (size_t k = 0; k < n[0]; k++)
                snprintf(ids[0][k], sizeof(ids[0][k]), "%s",
                         alerts[k]->alert_id);

        harness_redis(1, flushall);
        harness_restart_engine();
        harness_set_offset(0, 0);
        for (size_t i = 0; i < 5; i++) {
                queue_timeline(i);
                run(FU);
                for (size_t k = 0; k < n_alerts && n[1] < 8; k++)
                        snprintf(ids[1][n[1]++], sizeof(ids[1][0]), "%s",
                                 alerts[k]->alert_id);
        }

        /* W1 and W3 are never visited; W2 is. */
        ck_assert_uint_eq(n[0], 2);
        ck_assert_uint_eq(n[1], 2);
        for (size_t k = 0; k < 2; k++)
                ck_assert_str_eq(ids[0][k], ids[1][k]);
}
END_TEST

START_TEST(fu_idle_advance_fires)
{
        const int32_t partition = 0;
        const int64_t delta = 8 * DAY_MS;
        int rc;

        ck_assert_uint_eq(send_suspect(FU, "W", T0, WARNING), 0);
        ck_assert_int_eq(hearth_engine_advance(harness_engine, &partition,
                                               &delta, 1, harness_err,
                                               sizeof(harness_err)),
                         0);
        ck_assert_int_eq(hearth_engine_prepare(harness_engine, NULL, 0,
                                               harness_err,
                                               sizeof(harness_err)),
                         0);
        free_output();
        hearth_out_list_clear(&harness_out);
        rc = hearth_engine_commit(harness_engine, NULL, 0, &harness_out,
                                  harness_err, sizeof(harness_err));
        ck_assert_msg(rc == 0, "commit returned %d: %s", rc, harness_err);
        n_alerts = harness_collect_alerts(FU, alerts, NULL, MAX_OUT);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "W");
        ck_assert_int_eq(alerts[0]->event_time_ms, T0 + 7 * DAY_MS);
        ck_assert_str_eq(
            redis3("HGET", "hearth:{r0}:progress", "max_event_time"),
            decimal(T0 + delta));
}
END_TEST

START_TEST(advance_rejects_bad_partition)
{
        const int32_t partition = HEARTH_MAX_PARTITIONS;
        const int64_t delta = DAY_MS;

        harness_start_engine();
        ck_assert_int_eq(hearth_engine_advance(harness_engine, &partition,
                                               &delta, 1, harness_err,
                                               sizeof(harness_err)),
                         -1);
        ck_assert_has(harness_err, "partition 1024");
}
END_TEST

/* ---- labels ---- */

START_TEST(lb_warned_person_tag)
{
        const Hearth__V1__Tag *tag;

        ck_assert_uint_eq(send_suspect(NULL, "W", T0, WARNING), 0);
        tag = find_tag("warned_person");
        ck_assert_ptr_nonnull(tag);
        ck_assert_int_eq(tag->change, HEARTH__V1__TAG_CHANGE__ADDED);
        ck_assert_str_eq(tag->person_key, PERSON);
        ck_assert_int_eq(tag->expires_at_ms, T0 + 365 * DAY_MS);
        ck_assert_str_eq(tag->reason_code, "warning_issued");
        ck_assert_str_eq(tag->incident_id, "W");
        ck_assert_str_eq(redis3("HGET", LABELS_KEY, "warned_person"),
                         decimal(T0 + 365 * DAY_MS));
}
END_TEST

START_TEST(lb_victim_warning_no_tag)
{
        QUEUE(.id = "W", .time_ms = T0, .type = WARNING, .route = VICTIM,
              .victim = VICTIM);
        run(NULL);
        ck_assert_uint_eq(n_tags, 0);
}
END_TEST

/* Sends an incident with VICTIM as the routed victim and flags. */
static size_t send_victim(const char *id, const char *flags)
{
        QUEUE(.id = id, .time_ms = T0, .flags = flags, .route = VICTIM,
              .victim = VICTIM, .suspect = PERSON);
        run(NULL);
        return n_tags;
}

START_TEST(lb_lethal_flag_victim_tag)
{
        ck_assert_uint_eq(send_victim("L", "strangulation"), 1);
        ck_assert_str_eq(tags[0]->label, "high_risk_victim");
        ck_assert_str_eq(tags[0]->person_key, VICTIM);
        ck_assert_str_eq(tags[0]->reason_code, "high_risk_incident");
        ck_assert_int_eq(tags[0]->expires_at_ms, T0 + 365 * DAY_MS);
        ck_assert_str_eq(redis3("HGET", VICTIM_LABELS_KEY, "high_risk_victim"),
                         decimal(T0 + 365 * DAY_MS));
}
END_TEST

START_TEST(lb_three_combined_no_tag)
{
        ck_assert_uint_eq(send_victim("C3", "injury,stalking,separation"), 0);
        ck_assert_str_eq(redis2("EXISTS", VICTIM_LABELS_KEY), "0");
}
END_TEST

START_TEST(lb_four_combined_victim_tag)
{
        ck_assert_uint_eq(send_victim("C4", "injury,stalking,separation,"
                                            "pregnancy"),
                          1);
        ck_assert_str_eq(tags[0]->label, "high_risk_victim");
}
END_TEST

START_TEST(lb_no_tag_without_later_expiry)
{
        ck_assert_uint_eq(send_suspect(NULL, "W1", T0 + DAY_MS, WARNING), 0);
        ck_assert_ptr_nonnull(find_tag("warned_person"));
        /* An earlier warning, and the same one again: no later expiry. */
        ck_assert_uint_eq(send_suspect(NULL, "W0", T0, WARNING), 0);
        ck_assert_ptr_null(find_tag("warned_person"));
        ck_assert_uint_eq(send_suspect(NULL, "W1", T0 + DAY_MS, WARNING), 0);
        ck_assert_ptr_null(find_tag("warned_person"));
        ck_assert_str_eq(redis3("HGET", LABELS_KEY, "warned_person"),
                         decimal(T0 + 366 * DAY_MS));
}
END_TEST

/* ---- dispatch overdue (incidents stage) ---- */

/* Sends a cn_110 event of incident id on partition 0. */
static size_t send_cn110(const char *id, int64_t t, Hearth__V1__EventType type)
{
        QUEUE(.id = id, .time_ms = t, .type = type, .profile = "cn_110",
              .city = CITY);
        return run(DO);
}

START_TEST(do_fires_after_watermark_passes)
{
        const int64_t due = T0 + 10 * MINUTE_MS;

        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_str_eq(redis3("ZSCORE", DO_TIMERS,
                                "C\x1f"
                                "990000\x1f" CITY "\x1f"
                                "990101"),
                         decimal(due));
        ck_assert_uint_eq(send_cn110("X1", due + LATENESS_MS, DISPOSED), 0);
        ck_assert_uint_eq(send_cn110("X2", due + LATENESS_MS + 1, DISPOSED),
                          1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "dispatch_overdue");
        ck_assert_int_eq(alerts[0]->subject_kind,
                         HEARTH__V1__SUBJECT_KIND__INCIDENT);
        /* The incident subject as special_circumstances writes it. */
        ck_assert_str_eq(alerts[0]->subject_key, "i:C");
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "C");
        ck_assert_int_eq(alerts[0]->event_time_ms, due);
        ck_assert_int_eq(alerts[0]->window_start_ms, T0);
        ck_assert_str_eq(alerts[0]->city_code, CITY);
        ck_assert_str_eq(redis2("ZCARD", DO_TIMERS), "0");
}
END_TEST

START_TEST(do_dispatch_in_time_cancels)
{
        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_uint_eq(
            send_cn110("C", T0 + 10 * MINUTE_MS - 1000, DISPATCHED), 0);
        ck_assert_str_eq(redis2("ZCARD", DO_TIMERS), "0");
        ck_assert_uint_eq(send_cn110("X", T0 + HOUR_MS, DISPOSED), 0);
}
END_TEST

START_TEST(do_dispatch_on_deadline_cancels)
{
        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_uint_eq(send_cn110("C", T0 + 10 * MINUTE_MS, DISPATCHED), 0);
        ck_assert_uint_eq(send_cn110("X", T0 + HOUR_MS, DISPOSED), 0);
}
END_TEST

/*
 * A dispatch after the deadline but not late comes behind an event that
 * moved the watermark past the deadline. The timer fires at that event,
 * whether the three events come in one batch or in several.
 */
START_TEST(do_batching_same_outcome)
{
        const char *flushall[] = {"FLUSHALL"};
        size_t split;

        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_uint_eq(send_cn110("X", T0 + 21 * MINUTE_MS, DISPOSED), 1);
        split = send_cn110("C", T0 + 15 * MINUTE_MS, DISPATCHED);
        ck_assert_uint_eq(split, 0);

        harness_redis(1, flushall);
        harness_restart_engine();
        harness_set_offset(0, 0);
        QUEUE(.id = "C", .time_ms = T0, .profile = "cn_110");
        QUEUE(.id = "X", .time_ms = T0 + 21 * MINUTE_MS, .type = DISPOSED,
              .profile = "cn_110");
        QUEUE(.id = "C", .time_ms = T0 + 15 * MINUTE_MS, .type = DISPATCHED,
              .profile = "cn_110");
        ck_assert_uint_eq(run(DO), 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "C");
}
END_TEST

START_TEST(do_dispatch_first_no_timer)
{
        ck_assert_uint_eq(send_cn110("C", T0 + MINUTE_MS, DISPATCHED), 0);
        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_str_eq(redis2("EXISTS", DO_TIMERS), "0");
        ck_assert_uint_eq(send_cn110("X", T0 + HOUR_MS, DISPOSED), 0);
}
END_TEST

START_TEST(do_other_profile_no_timer)
{
        QUEUE(.id = "C", .time_ms = T0, .profile = "milwaukee_mpd");
        ck_assert_uint_eq(run(DO), 0);
        QUEUE(.id = "C2", .time_ms = T0);
        ck_assert_uint_eq(run(DO), 0);
        ck_assert_str_eq(redis2("EXISTS", DO_TIMERS), "0");
        ck_assert_uint_eq(send_cn110("X", T0 + HOUR_MS, DISPOSED), 0);
}
END_TEST

START_TEST(do_late_call_no_timer)
{
        ck_assert_uint_eq(send_cn110("X", T0 + HOUR_MS, DISPOSED), 0);
        ck_assert_uint_eq(send_cn110("C", T0, CALL), 0);
        ck_assert_str_eq(redis2("EXISTS", DO_TIMERS), "0");
}
END_TEST

/* ---- fusion (incidents stage) ---- */

/*
 * Raises repeat_calls P3 on HOUSE at T0 + 1 h, then sends two mediated
 * incidents of house, 5 and 10 days later, so that repeat_dispositions
 * alerts P3 on the second one. Returns how many alerts repeat_dispositions
 * raised on it.
 */
static size_t rc_then_rd(const char *house)
{
        harness_set_option("models.repeat_calls.long_threshold=1000");
        QUEUE(.id = "A", .time_ms = T0, .address = HOUSE);
        QUEUE(.id = "B", .time_ms = T0 + HOUR_MS, .address = HOUSE);
        ck_assert_uint_eq(run("repeat_calls"), 1);
        QUEUE(.id = "C", .time_ms = T0 + 5 * DAY_MS, .address = house,
              .disposition = MEDIATED);
        ck_assert_uint_eq(run(RD), 0);
        QUEUE(.id = "D", .time_ms = T0 + 10 * DAY_MS, .address = house,
              .disposition = MEDIATED);
        return run(RD);
}

START_TEST(fusion_raises_one_level)
{
        harness_set_option("engine.fusion_window_hours=720");
        ck_assert_uint_eq(rc_then_rd(HOUSE), 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_uint_eq(alerts[0]->n_reasons, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code, "repeat_dispositions");
        ck_assert_str_eq(alerts[0]->reasons[1]->code, "repeat_calls.short");
        ck_assert_has(alerts[0]->reasons[1]->text, "72");
        ck_assert_uint_eq(harness_out.n, 1);
        ck_assert_str_eq(harness_out.msgs[0].topic, "hearth.alerts.p2");
}
END_TEST

START_TEST(fusion_window_zero_disables)
{
        ck_assert_uint_eq(rc_then_rd(HOUSE), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_uint_eq(alerts[0]->n_reasons, 1);
}
END_TEST

START_TEST(fusion_outside_window_nothing)
{
        harness_set_option("engine.fusion_window_hours=48");
        ck_assert_uint_eq(rc_then_rd(HOUSE), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_uint_eq(alerts[0]->n_reasons, 1);
}
END_TEST

START_TEST(fusion_other_household_nothing)
{
        harness_set_option("engine.fusion_window_hours=720");
        ck_assert_uint_eq(rc_then_rd(OTHER_HOUSE), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        ck_assert_uint_eq(alerts[0]->n_reasons, 1);
}
END_TEST

START_TEST(fusion_never_above_p1)
{
        harness_set_option("engine.fusion_window_hours=720");
        harness_set_option("models.repeat_calls.long_threshold=1000");
        QUEUE(.id = "A", .time_ms = T0, .address = HOUSE);
        QUEUE(.id = "B", .time_ms = T0 + HOUR_MS, .address = HOUSE);
        ck_assert_uint_eq(run("repeat_calls"), 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
        QUEUE(.id = "K", .time_ms = T0 + 5 * DAY_MS, .address = HOUSE,
              .flags = "weapon");
        ck_assert_uint_eq(run(SC), 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
        ck_assert_uint_eq(alerts[0]->n_reasons, 2);
        ck_assert_str_eq(alerts[0]->reasons[0]->code,
                         "special_circumstances.lethal");
        ck_assert_str_eq(alerts[0]->reasons[1]->code, "repeat_calls.short");
}
END_TEST

/* ---- repartition (incidents stage) ---- */

/* Decodes the person copy at index i of the output. */
static Hearth__V1__IncidentEvent *copy_at(size_t i)
{
        Hearth__V1__IncidentEvent *ev;

        ck_assert_str_eq(harness_out.msgs[i].topic, "hearth.persons");
        ev = hearth__v1__incident_event__unpack(NULL, harness_out.msgs[i].len,
                                                harness_out.msgs[i].payload);
        ck_assert_ptr_nonnull(ev);
        return ev;
}

START_TEST(repartition_one_copy_per_person)
{
        Hearth__V1__IncidentEvent *ev;

        QUEUE(.id = "A", .time_ms = T0, .suspect = PERSON, .victim = VICTIM,
              .witness = WITNESS, .caller = OTHER);
        run(NULL);
        ck_assert_uint_eq(harness_out.n, 2);
        ck_assert_str_eq(harness_out.msgs[0].key, PERSON);
        ck_assert_str_eq(harness_out.msgs[1].key, VICTIM);
        for (size_t i = 0; i < 2; i++) {
                ev = copy_at(i);
                ck_assert_str_eq(ev->route_key, harness_out.msgs[i].key);
                ck_assert_str_eq(ev->incident_id, "A");
                ck_assert_uint_eq(ev->n_parties, 4);
                ck_assert_int_eq(harness_out.msgs[i].event_time_ms, T0);
                hearth__v1__incident_event__free_unpacked(ev, NULL);
        }
}
END_TEST

START_TEST(repartition_same_key_once)
{
        QUEUE(.id = "A", .time_ms = T0, .suspect = PERSON, .victim = PERSON);
        run(NULL);
        ck_assert_uint_eq(harness_out.n, 1);
        ck_assert_str_eq(harness_out.msgs[0].key, PERSON);
}
END_TEST

START_TEST(repartition_witness_not_copied)
{
        QUEUE(.id = "A", .time_ms = T0, .witness = WITNESS, .caller = OTHER);
        run(NULL);
        ck_assert_uint_eq(harness_out.n, 0);
}
END_TEST

START_TEST(repartition_empty_topic_disables)
{
        harness_set_option("topics.persons=");
        QUEUE(.id = "A", .time_ms = T0, .suspect = PERSON, .victim = VICTIM);
        run(NULL);
        ck_assert_uint_eq(harness_out.n, 0);
}
END_TEST

START_TEST(repartition_sorted_by_event_time)
{
        static const struct {
                const char *id;
                int32_t partition;
                int64_t time_ms;
        } events[] = {
            {"P0-2h", 0, T0 + 2 * HOUR_MS},
            {"P1-1h", 1, T0 + HOUR_MS},
            {"P0-3h", 0, T0 + 3 * HOUR_MS},
            {"P1-0h", 1, T0},
        };
        static const char *const order[] = {"P1-0h", "P1-1h", "P0-2h", "P0-3h"};
        static const int32_t sources[] = {1, 1, 0, 0};

        for (size_t i = 0; i < 4; i++)
                QUEUE(.id = events[i].id, .time_ms = events[i].time_ms,
                      .partition = events[i].partition, .suspect = PERSON);
        run(NULL);
        ck_assert_uint_eq(harness_out.n, 4);
        for (size_t i = 0; i < 4; i++) {
                Hearth__V1__IncidentEvent *ev = copy_at(i);

                ck_assert_str_eq(ev->incident_id, order[i]);
                ck_assert_int_eq(harness_out.msgs[i].source_partition,
                                 sources[i]);
                ck_assert_int_eq(harness_out.msgs[i].event_time_ms,
                                 ev->event_time_ms);
                hearth__v1__incident_event__free_unpacked(ev, NULL);
        }
}
END_TEST

/* ---- stage options ---- */

static hearth_config_t cfg;
static char err[512];

static void setup_options(void)
{
        hearth_config_defaults(&cfg);
}

static void teardown_options(void)
{
        hearth_config_free(&cfg);
}

START_TEST(stage_invalid_rejected)
{
        ck_assert_int_eq(
            hearth_config_set(&cfg, "engine.stage=people", err, sizeof(err)),
            0);
        ck_assert_int_eq(hearth_config_validate(&cfg, err, sizeof(err)), -1);
        ck_assert_str_eq(err, "option engine.stage: invalid value "
                              "\"people\": use incidents or persons");
}
END_TEST

START_TEST(persons_stage_needs_topic)
{
        ck_assert_int_eq(
            hearth_config_set(&cfg, "engine.stage=persons", err, sizeof(err)),
            0);
        ck_assert_int_eq(
            hearth_config_set(&cfg, "topics.persons=", err, sizeof(err)), 0);
        ck_assert_int_eq(hearth_config_validate(&cfg, err, sizeof(err)), -1);
        ck_assert_has(err, "topics.persons");
        ck_assert_has(err, "persons stage");
}
END_TEST

START_TEST(persons_stage_valid)
{
        ck_assert_int_eq(
            hearth_config_set(&cfg, "engine.stage=persons", err, sizeof(err)),
            0);
        ck_assert_int_eq(hearth_config_validate(&cfg, err, sizeof(err)), 0);
        ck_assert(hearth_config_persons_stage(&cfg));
        ck_assert_str_eq(hearth_config_stage_topic(&cfg), "hearth.persons");
}
END_TEST

static TCase *persons_tcase(const char *name)
{
        TCase *tc = harness_tcase(name);

        tcase_add_checked_fixture(tc, setup_persons, free_output);
        return tc;
}

static TCase *incidents_tcase(const char *name)
{
        TCase *tc = harness_tcase(name);

        tcase_add_checked_fixture(tc, setup_incidents, free_output);
        return tc;
}

Suite *hearth_test_person_models_suite(void)
{
        Suite *s = suite_create("person_models");
        TCase *ro = persons_tcase("repeat_offender");
        TCase *ov = persons_tcase("order_violation");
        TCase *fu = persons_tcase("follow_up_overdue");
        TCase *lb = persons_tcase("labels");
        TCase *dov = incidents_tcase("dispatch_overdue");
        TCase *fusion = incidents_tcase("fusion");
        TCase *rp = incidents_tcase("repartition");
        TCase *options = tcase_create("stage_options");

        tcase_add_test(ro, ro_threshold_reached_p2);
        tcase_add_test(ro, ro_one_incident_nothing);
        tcase_add_test(ro, ro_window_edge_excluded);
        tcase_add_test(ro, ro_late_event_counted_silently);
        tcase_add_test(ro, ro_duplicate_incident_once);
        tcase_add_test(ro, ro_victim_role_ignored);
        tcase_add_test(ro, ro_not_domestic_ignored);
        tcase_add_test(ro, ro_after_warning_p2);
        tcase_add_test(ro, ro_warning_incident_no_trigger);
        tcase_add_test(ro, ro_after_warning_expires);
        tcase_add_test(ro, ro_after_warning_days_option);
        tcase_add_test(ro, ro_suppressed_within_window);
        tcase_add_test(ro, ro_label_added_then_renewed);
        suite_add_tcase(s, ro);

        tcase_add_test(ov, ov_violated_p1);
        tcase_add_test(ov, ov_call_during_order_p1);
        tcase_add_test(ov, ov_order_last_day_included);
        tcase_add_test(ov, ov_order_expired_nothing);
        tcase_add_test(ov, ov_same_incident_nothing);
        tcase_add_test(ov, ov_suppressed_for_24_hours);
        tcase_add_test(ov, ov_order_subject_tag);
        suite_add_tcase(s, ov);

        tcase_add_test(fu, fu_fires_after_watermark_passes);
        tcase_add_test(fu, fu_visit_in_time_cancels);
        tcase_add_test(fu, fu_visit_on_deadline_cancels);
        tcase_add_test(fu, fu_visit_arriving_first_cancels);
        tcase_add_test(fu, fu_visit_before_warning_ignored);
        tcase_add_test(fu, fu_late_visit_keeps_timer);
        tcase_add_test(fu, fu_late_warning_no_timer);
        tcase_add_test(fu, fu_duplicate_warning_ignored);
        tcase_add_test(fu, fu_replay_fires_once);
        tcase_add_test(fu, fu_batch_size_same_ids);
        tcase_add_test(fu, fu_idle_advance_fires);
        tcase_add_test(fu, advance_rejects_bad_partition);
        suite_add_tcase(s, fu);

        tcase_add_test(lb, lb_warned_person_tag);
        tcase_add_test(lb, lb_victim_warning_no_tag);
        tcase_add_test(lb, lb_lethal_flag_victim_tag);
        tcase_add_test(lb, lb_three_combined_no_tag);
        tcase_add_test(lb, lb_four_combined_victim_tag);
        tcase_add_test(lb, lb_no_tag_without_later_expiry);
        suite_add_tcase(s, lb);

        tcase_add_test(dov, do_fires_after_watermark_passes);
        tcase_add_test(dov, do_dispatch_in_time_cancels);
        tcase_add_test(dov, do_dispatch_on_deadline_cancels);
        tcase_add_test(dov, do_batching_same_outcome);
        tcase_add_test(dov, do_dispatch_first_no_timer);
        tcase_add_test(dov, do_other_profile_no_timer);
        tcase_add_test(dov, do_late_call_no_timer);
        suite_add_tcase(s, dov);

        tcase_add_test(fusion, fusion_raises_one_level);
        tcase_add_test(fusion, fusion_window_zero_disables);
        tcase_add_test(fusion, fusion_outside_window_nothing);
        tcase_add_test(fusion, fusion_other_household_nothing);
        tcase_add_test(fusion, fusion_never_above_p1);
        suite_add_tcase(s, fusion);

        tcase_add_test(rp, repartition_one_copy_per_person);
        tcase_add_test(rp, repartition_same_key_once);
        tcase_add_test(rp, repartition_witness_not_copied);
        tcase_add_test(rp, repartition_empty_topic_disables);
        tcase_add_test(rp, repartition_sorted_by_event_time);
        suite_add_tcase(s, rp);

        tcase_add_checked_fixture(options, setup_options, teardown_options);
        tcase_add_test(options, stage_invalid_rejected);
        tcase_add_test(options, persons_stage_needs_topic);
        tcase_add_test(options, persons_stage_valid);
        suite_add_tcase(s, options);
        return s;
}
