/*
 * Tests for the watermark between the two stages (engine/engine.c). The
 * incidents stage stamps each person-topic copy with its input partition,
 * that partition's largest event time and the late flag. It picks the
 * copy's person partition and sends heartbeats to idle person partitions.
 * The persons stage takes its watermark as the least time of those
 * sources. The suite also covers the person models that must alert as in
 * time order when a person's events arrive out of order
 * (models/repeat_offender.c, models/order_violation.c), and the dead
 * letters of malformed heartbeats.
 *
 * Every test runs against the unit tests' redis-server through the model
 * harness (model_harness.h). Persons-stage events arrive on partition 0,
 * so their state keys carry the hash tag {r0}.
 */
#include <check.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/model_harness.h"

#define MINUTE_MS   INT64_C(60000)
#define HOUR_MS     (60 * MINUTE_MS)
#define DAY_MS      (24 * HOUR_MS)
#define T0          INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define LATENESS_MS (10 * MINUTE_MS)       /* engine.allowed_lateness_ms */
#define YEAR_2100   INT64_C(4102444800000) /* 2100-01-01T00:00:00Z */

/* Person keys and their partitions among 4 (FNV-1a 64 modulo 4). */
#define PERSON           "k1:SSSSSSSSSSSSSSSSSSSSSS"
#define PERSON_PARTITION 3
#define VICTIM           "k1:VVVVVVVVVVVVVVVVVVVVVV"
#define VICTIM_PARTITION 1
#define OTHER            "k1:QQQQQQQQQQQQQQQQQQQQQQ"

#define PERSON_PARTITIONS 4
#define PERSONS_TOPIC     "hearth.persons"
#define DLQ_TOPIC         "hearth.incidents.dlq"
#define PROGRESS_KEY      "hearth:{r0}:progress"

#define CALL         HEARTH__V1__EVENT_TYPE__CALL_RECEIVED
#define WARNING      HEARTH__V1__EVENT_TYPE__WARNING_ISSUED
#define ORDER_ISSUED HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_ISSUED

#define RO "repeat_offender"
#define OV "order_violation"
#define FU "follow_up_overdue"

#define QUEUE(...) harness_queue((harness_event_t){__VA_ARGS__})

static void setup_incidents(void)
{
        harness_set_option("engine.fusion_window_hours=0");
}

static void setup_persons(void)
{
        harness_set_option("engine.stage=persons");
        harness_set_option("engine.fusion_window_hours=0");
}

/* Starts the engine and gives the person topic 4 partitions. */
static void start_with_partitions(void)
{
        harness_start_engine();
        hearth_engine_set_person_partitions(harness_engine,
                                            PERSON_PARTITIONS);
}

static bool is_heartbeat(const hearth_out_msg_t *m)
{
        return strcmp(m->topic, PERSONS_TOPIC) == 0 && *m->key == '\0';
}

/* Decodes a person-topic message, to be freed with free_event(). */
static Hearth__V1__IncidentEvent *decode(const hearth_out_msg_t *m)
{
        Hearth__V1__IncidentEvent *ev;

        ck_assert_str_eq(m->topic, PERSONS_TOPIC);
        ev = hearth__v1__incident_event__unpack(NULL, m->len, m->payload);
        ck_assert_ptr_nonnull(ev);
        return ev;
}

static void free_event(Hearth__V1__IncidentEvent *ev)
{
        hearth__v1__incident_event__free_unpacked(ev, NULL);
}

static size_t count_heartbeats(void)
{
        size_t n = 0;

        for (size_t i = 0; i < harness_out.n; i++)
                n += is_heartbeat(&harness_out.msgs[i]);
        return n;
}

/*
 * Asserts that message m is a heartbeat from input partition source to
 * person partition target, reporting time_ms as its source time.
 */
static void assert_heartbeat(const hearth_out_msg_t *m, int32_t source,
                             int32_t target, int64_t time_ms)
{
        Hearth__V1__IncidentEvent *ev;

        ck_assert_msg(is_heartbeat(m), "%s key \"%s\" is no heartbeat",
                      m->topic, m->key);
        ck_assert_int_eq(m->partition, target);
        ck_assert_int_eq(m->source_partition, source);
        ck_assert_int_eq(m->event_time_ms, time_ms);
        ev = decode(m);
        ck_assert_str_eq(ev->route_key, "");
        ck_assert_str_eq(ev->incident_id, "");
        ck_assert_uint_eq(ev->n_parties, 0);
        ck_assert_int_eq(ev->route_source_partition, source);
        ck_assert_int_eq(ev->route_source_time_ms, time_ms);
        ck_assert_int_eq(ev->event_time_ms, time_ms);
        ck_assert(!ev->route_late);
        free_event(ev);
}

/* ---- incidents stage: copies and heartbeats ---- */

START_TEST(person_partition_is_fnv1a)
{
        /* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c, of "foobar"
         * 0x85944171f73967e8 and of "" the offset basis
         * 0xcbf29ce484222325. */
        ck_assert_int_eq(hearth_person_partition("a", 1000), 996);
        ck_assert_int_eq(hearth_person_partition("foobar", 1000), 968);
        ck_assert_int_eq(hearth_person_partition("", 1000), 37);
        ck_assert_int_eq(hearth_person_partition(PERSON, PERSON_PARTITIONS),
                         PERSON_PARTITION);
        ck_assert_int_eq(hearth_person_partition(VICTIM, PERSON_PARTITIONS),
                         VICTIM_PARTITION);
}
END_TEST

START_TEST(copies_carry_source_stamp)
{
        static const struct {
                const char *id;
                int32_t partition;
                int64_t time_ms;
                const char *suspect;
        } events[] = {
            {"A", 0, T0 + 2 * HOUR_MS, PERSON},
            {"B", 0, T0 + HOUR_MS, VICTIM}, /* late on partition 0 */
            {"C", 0, T0 + 3 * HOUR_MS, PERSON},
            {"D", 1, T0 + 90 * MINUTE_MS, VICTIM},
        };
        /* The copies in output order, which is by event time. */
        static const struct {
                const char *id;
                const char *key;
                int32_t target;
                int32_t source;
                int64_t source_time_ms;
                bool late;
        } copies[] = {
            {"B", VICTIM, VICTIM_PARTITION, 0, T0 + 2 * HOUR_MS, true},
            {"D", VICTIM, VICTIM_PARTITION, 1, T0 + 90 * MINUTE_MS, false},
            {"A", PERSON, PERSON_PARTITION, 0, T0 + 2 * HOUR_MS, false},
            {"C", PERSON, PERSON_PARTITION, 0, T0 + 3 * HOUR_MS, false},
        };
        size_t next = 0;

        start_with_partitions();
        for (size_t i = 0; i < 4; i++)
                QUEUE(.id = events[i].id, .time_ms = events[i].time_ms,
                      .partition = events[i].partition,
                      .suspect = events[i].suspect);
        harness_process();
        for (size_t i = 0; i < harness_out.n; i++) {
                const hearth_out_msg_t *m = &harness_out.msgs[i];
                Hearth__V1__IncidentEvent *ev;

                if (is_heartbeat(m))
                        continue;
                ck_assert_uint_lt(next, 4);
                ev = decode(m);
                ck_assert_str_eq(ev->incident_id, copies[next].id);
                ck_assert_str_eq(m->key, copies[next].key);
                ck_assert_int_eq(m->partition, copies[next].target);
                ck_assert_int_eq(m->partition,
                                 hearth_person_partition(m->key,
                                                         PERSON_PARTITIONS));
                ck_assert_int_eq(m->source_partition, copies[next].source);
                ck_assert_int_eq(ev->route_source_partition,
                                 copies[next].source);
                ck_assert_int_eq(ev->route_source_time_ms,
                                 copies[next].source_time_ms);
                ck_assert_int_eq(ev->route_late, copies[next].late);
                free_event(ev);
                next++;
        }
        ck_assert_uint_eq(next, 4);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->late, 1);
}
END_TEST

/* A person partition waits only for input partitions that copied to it. */
START_TEST(first_batch_sends_no_heartbeat)
{
        Hearth__V1__IncidentEvent *ev;

        start_with_partitions();
        QUEUE(.id = "A", .time_ms = T0, .partition = 2, .suspect = PERSON);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 1);
        ck_assert_uint_eq(count_heartbeats(), 0);
        ev = decode(&harness_out.msgs[0]);
        ck_assert_str_eq(ev->incident_id, "A");
        ck_assert_int_eq(harness_out.msgs[0].partition, PERSON_PARTITION);
        free_event(ev);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 1);
}
END_TEST

/* Sends one event of key on input partition 1; returns the batch's size. */
static size_t send_on_one(const char *id, int64_t t, const char *key)
{
        QUEUE(.id = id, .time_ms = t, .partition = 1, .suspect = key);
        harness_process();
        return harness_out.n;
}

START_TEST(heartbeat_waits_for_interval)
{
        Hearth__V1__IncidentEvent *ev;

        start_with_partitions();
        ck_assert_uint_eq(send_on_one("A", T0, PERSON), 1);
        ck_assert_uint_eq(send_on_one("B", T0 + 30 * MINUTE_MS, VICTIM), 1);
        /* A copy restarts its partition's wait: no heartbeat to it. */
        ck_assert_uint_eq(send_on_one("C", T0 + HOUR_MS, PERSON), 1);
        ck_assert_uint_eq(count_heartbeats(), 0);
        /* VICTIM's partition got nothing for one hour less 1 ms. */
        ck_assert_uint_eq(
            send_on_one("D", T0 + 90 * MINUTE_MS - 1, PERSON), 1);
        ck_assert_uint_eq(send_on_one("E", T0 + 90 * MINUTE_MS, PERSON), 2);
        assert_heartbeat(&harness_out.msgs[1], 1, VICTIM_PARTITION,
                         T0 + 90 * MINUTE_MS);
        /* The heartbeat restarts the wait as a copy does. */
        ck_assert_uint_eq(send_on_one("F", T0 + 2 * HOUR_MS, PERSON), 1);

        /* A late event leaves the partition's time where it was. */
        ck_assert_uint_eq(send_on_one("G", T0 + 4 * HOUR_MS, PERSON), 2);
        ck_assert_uint_eq(send_on_one("H", T0, PERSON), 1);
        ev = decode(&harness_out.msgs[0]);
        ck_assert_int_eq(ev->route_source_time_ms, T0 + 4 * HOUR_MS);
        ck_assert(ev->route_late);
        free_event(ev);
}
END_TEST

START_TEST(heartbeat_interval_option)
{
        harness_set_option("engine.person_heartbeat_ms=60000");
        start_with_partitions();
        ck_assert_uint_eq(send_on_one("A", T0, PERSON), 1);
        ck_assert_uint_eq(send_on_one("B", T0 + MINUTE_MS - 1, VICTIM), 1);
        ck_assert_uint_eq(send_on_one("C", T0 + MINUTE_MS, VICTIM), 2);
        assert_heartbeat(&harness_out.msgs[1], 1, PERSON_PARTITION,
                         T0 + MINUTE_MS);
}
END_TEST

START_TEST(copies_and_beats_sorted)
{
        /* Source partition, target partition and event time, in order. */
        static const struct {
                int32_t source;
                int32_t target;
                int64_t time_ms;
                bool copy;
        } expected[] = {
            {1, VICTIM_PARTITION, T0 + HOUR_MS, true},
            {1, PERSON_PARTITION, T0 + HOUR_MS, false},
            {0, VICTIM_PARTITION, T0 + 2 * HOUR_MS, true},
            {0, PERSON_PARTITION, T0 + 2 * HOUR_MS, false},
            {2, PERSON_PARTITION, T0 + 2 * HOUR_MS, true},
            {2, VICTIM_PARTITION, T0 + 2 * HOUR_MS, false},
        };

        start_with_partitions();
        /* First batch: each input partition copies to one person
         * partition, which from then on waits for it. */
        QUEUE(.id = "A", .time_ms = T0, .partition = 0, .suspect = PERSON);
        QUEUE(.id = "B", .time_ms = T0, .partition = 1, .suspect = PERSON);
        QUEUE(.id = "C", .time_ms = T0, .partition = 2, .suspect = VICTIM);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 3);
        QUEUE(.id = "D", .time_ms = T0 + 2 * HOUR_MS, .partition = 0,
              .suspect = VICTIM);
        QUEUE(.id = "E", .time_ms = T0 + HOUR_MS, .partition = 1,
              .suspect = VICTIM);
        QUEUE(.id = "F", .time_ms = T0 + 2 * HOUR_MS, .partition = 2,
              .suspect = PERSON);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 6);
        for (size_t i = 0; i < 6; i++) {
                const hearth_out_msg_t *m = &harness_out.msgs[i];

                if (!expected[i].copy) {
                        assert_heartbeat(m, expected[i].source,
                                         expected[i].target,
                                         expected[i].time_ms);
                        continue;
                }
                ck_assert_msg(!is_heartbeat(m), "message %zu", i);
                ck_assert_int_eq(m->source_partition, expected[i].source);
                ck_assert_int_eq(m->partition, expected[i].target);
                ck_assert_int_eq(m->event_time_ms, expected[i].time_ms);
        }
}
END_TEST

START_TEST(no_partitions_no_heartbeats)
{
        Hearth__V1__IncidentEvent *ev;

        QUEUE(.id = "A", .time_ms = T0 + HOUR_MS, .partition = 0,
              .suspect = PERSON);
        QUEUE(.id = "B", .time_ms = T0, .partition = 1, .suspect = VICTIM);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 2);
        ck_assert_uint_eq(count_heartbeats(), 0);
        ck_assert_int_eq(harness_out.msgs[0].partition, -1);
        ck_assert_int_eq(harness_out.msgs[1].partition, -1);
        /* The copies are stamped all the same. */
        ev = decode(&harness_out.msgs[0]);
        ck_assert_str_eq(ev->incident_id, "B");
        ck_assert_int_eq(ev->route_source_partition, 1);
        ck_assert_int_eq(ev->route_source_time_ms, T0);
        free_event(ev);
}
END_TEST

START_TEST(heartbeat_in_incidents_stage)
{
        json_error_t jerr;
        json_t *doc;

        harness_queue_heartbeat(0, 0, T0);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 1);
        ck_assert_str_eq(harness_out.msgs[0].topic, DLQ_TOPIC);
        ck_assert_str_eq(harness_out.msgs[0].key, "missing_incident_id");
        doc = json_loadb(harness_out.msgs[0].payload, harness_out.msgs[0].len,
                         0, &jerr);
        ck_assert_msg(doc != NULL, "dead letter is not JSON: %s", jerr.text);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "reason")),
                         "missing_incident_id");
        json_decref(doc);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->dead_letters,
                          1);
}
END_TEST

/* ---- outbox envelopes ---- */

/* Returns the index in list of the message equal to m, or list->n. */
static size_t find_same(const hearth_out_list_t *list,
                        const hearth_out_msg_t *m)
{
        for (size_t i = 0; i < list->n; i++) {
                const hearth_out_msg_t *o = &list->msgs[i];

                if (strcmp(o->topic, m->topic) == 0 &&
                    strcmp(o->key, m->key) == 0 &&
                    o->partition == m->partition && o->len == m->len &&
                    memcmp(o->payload, m->payload, m->len) == 0)
                        return i;
        }
        return list->n;
}

START_TEST(outbox_keeps_partitions)
{
        hearth_out_list_t box = {0};
        size_t n_alerts = 0, n_chosen = 0;

        start_with_partitions();
        QUEUE(.id = "A", .time_ms = T0, .suspect = PERSON, .victim = VICTIM,
              .flags = "firearm");
        harness_process();
        ck_assert_int_eq(hearth_engine_outbox_read(harness_engine, 0, &box,
                                                   harness_err,
                                                   sizeof(harness_err)),
                         0);
        ck_assert_uint_eq(box.n, harness_out.n);
        for (size_t i = 0; i < harness_out.n; i++) {
                const hearth_out_msg_t *m = &harness_out.msgs[i];

                ck_assert_msg(find_same(&box, m) < box.n,
                              "%s partition %d missing from the outbox",
                              m->topic, m->partition);
                n_alerts += strncmp(m->topic, "hearth.alerts.p", 15) == 0;
                n_chosen += m->partition >= 0;
        }
        for (size_t i = 0; i < box.n; i++) {
                bool alert =
                    strncmp(box.msgs[i].topic, "hearth.alerts.p", 15) == 0;

                ck_assert_int_eq(box.msgs[i].source_partition, 0);
                if (alert)
                        ck_assert_int_eq(box.msgs[i].partition, -1);
                else
                        ck_assert_int_ge(box.msgs[i].partition, 0);
        }
        /* Two copies, each to its chosen partition, and the alert. */
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_uint_eq(n_chosen, 2);
        ck_assert_uint_eq(harness_out.n, 3);
        hearth_out_list_clear(&box);
        free(box.msgs);
}
END_TEST

/* ---- persons stage: the watermark of several sources ---- */

/* Queues an event of PERSON as a copy from source, stamped at its time. */
static void queue_copy(const char *id, int64_t t, Hearth__V1__EventType type,
                       int32_t source)
{
        QUEUE(.id = id, .time_ms = t, .type = type, .route = PERSON,
              .suspect = PERSON, .source_partition = source,
              .source_time_ms = t);
}

/* Processes the queued events and returns how many alerts model raised. */
static size_t alerts_of(const char *model)
{
        Hearth__V1__Alert *alerts[8];
        size_t n;

        harness_process();
        n = harness_collect_alerts(model, alerts, NULL, 8);
        harness_free_alerts(alerts, n);
        return n;
}

/* Sends a heartbeat from source and returns how many follow-up alerts
 * fired. */
static size_t beat(int32_t source, int64_t t)
{
        harness_queue_heartbeat(0, source, t);
        return alerts_of(FU);
}

static const char *progress_field(const char *field)
{
        const char *argv[] = {"HGET", PROGRESS_KEY, field};

        return harness_redis(3, argv);
}

START_TEST(lagging_source_delays_timer)
{
        const int64_t due = T0 + 7 * DAY_MS;

        queue_copy("W", T0, WARNING, 0);
        ck_assert_uint_eq(alerts_of(FU), 0);
        /* Source 1 is far past the deadline, source 0 is not. */
        QUEUE(.id = "X", .time_ms = due + 30 * DAY_MS, .route = OTHER,
              .suspect = OTHER, .source_partition = 1,
              .source_time_ms = due + 30 * DAY_MS);
        ck_assert_uint_eq(alerts_of(FU), 0);
        ck_assert_uint_eq(beat(0, due - HOUR_MS), 0);
        ck_assert_str_eq(progress_field("max_event_time"),
                         harness_decimal(due - HOUR_MS));
        ck_assert_uint_eq(beat(0, due + LATENESS_MS), 0);
        ck_assert_uint_eq(beat(0, due + LATENESS_MS + 1), 1);
        ck_assert_str_eq(progress_field("src:0"),
                         harness_decimal(due + LATENESS_MS + 1));
        ck_assert_str_eq(progress_field("src:1"),
                         harness_decimal(due + 30 * DAY_MS));
        ck_assert_uint_eq(beat(0, due + 2 * DAY_MS), 0);
}
END_TEST

START_TEST(lagging_copy_fires_timer)
{
        const int64_t due = T0 + 7 * DAY_MS;

        queue_copy("W", T0, WARNING, 0);
        ck_assert_uint_eq(beat(1, due + 30 * DAY_MS), 0);
        QUEUE(.id = "X", .time_ms = due + LATENESS_MS + 1, .route = OTHER,
              .suspect = OTHER, .source_partition = 0,
              .source_time_ms = due + LATENESS_MS + 1);
        ck_assert_uint_eq(alerts_of(FU), 1);
}
END_TEST

START_TEST(heartbeat_not_counted)
{
        const char *dbsize[] = {"DBSIZE"};

        harness_queue_heartbeat(0, 5, T0);
        ck_assert_uint_eq(alerts_of(NULL), 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->late, 0);
        ck_assert_str_eq(progress_field("src:5"), harness_decimal(T0));
        ck_assert_str_eq(progress_field("max_event_time"), harness_decimal(T0));
        /* No model stored anything: the progress hash is the only key. */
        ck_assert_str_eq(harness_redis(1, dbsize), "1");

        queue_copy("A", T0 + HOUR_MS, CALL, 5);
        harness_queue_heartbeat(0, 5, T0 + 2 * HOUR_MS);
        ck_assert_uint_eq(alerts_of(NULL), 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 1);
        ck_assert_str_eq(progress_field("src:5"),
                         harness_decimal(T0 + 2 * HOUR_MS));
}
END_TEST

START_TEST(unstamped_event_is_own_source)
{
        QUEUE(.id = "A", .time_ms = T0 + DAY_MS, .route = PERSON,
              .suspect = PERSON);
        harness_queue_heartbeat(0, 0, T0 + 5 * DAY_MS);
        harness_process();
        ck_assert_str_eq(progress_field("src:-1"),
                         harness_decimal(T0 + DAY_MS));
        ck_assert_str_eq(progress_field("max_event_time"),
                         harness_decimal(T0 + DAY_MS));
}
END_TEST

START_TEST(route_late_copy_silent)
{
        const char *zcard[] = {"ZCARD", "hearth:{r0}:ro:" PERSON};

        queue_copy("A", T0, CALL, 0);
        ck_assert_uint_eq(alerts_of(RO), 0);
        /* Not late by its time, but the incidents stage found it late. */
        QUEUE(.id = "B", .time_ms = T0 + DAY_MS, .route = PERSON,
              .suspect = PERSON, .source_time_ms = T0 + DAY_MS, .late = true);
        ck_assert_uint_eq(alerts_of(RO), 0);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 2);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->late, 1);
        ck_assert_str_eq(harness_redis(2, zcard), "2");
}
END_TEST

START_TEST(old_copy_not_late)
{
        queue_copy("A", T0, CALL, 0);
        ck_assert_uint_eq(beat(0, T0 + 30 * DAY_MS), 0);
        /* Far behind the watermark, but on time at the incidents stage. */
        QUEUE(.id = "B", .time_ms = T0 + DAY_MS, .route = PERSON,
              .suspect = PERSON, .source_partition = 1,
              .source_time_ms = T0 + DAY_MS);
        ck_assert_uint_eq(alerts_of(RO), 1);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->late, 0);
}
END_TEST

START_TEST(sources_survive_restart)
{
        const int64_t due = T0 + 7 * DAY_MS;
        char before[32];

        queue_copy("W", T0, WARNING, 1);
        ck_assert_uint_eq(beat(0, due + 20 * DAY_MS), 0);
        snprintf(before, sizeof(before), "%s",
                 progress_field("max_event_time"));
        ck_assert_str_eq(before, harness_decimal(T0));

        harness_restart_engine();
        /* The watermark is still source 1's time, T0. */
        ck_assert_uint_eq(beat(0, due + 21 * DAY_MS), 0);
        ck_assert_str_eq(progress_field("max_event_time"), before);
        ck_assert_uint_eq(beat(1, due + LATENESS_MS + 1), 1);
}
END_TEST

/* ---- out-of-order person models ---- */

/* Empties Redis and replaces the engine, as if nothing had happened. */
static void forget_everything(void)
{
        const char *flushall[] = {"FLUSHALL"};

        harness_redis(1, flushall);
        harness_restart_engine();
}

/*
 * Processes the queued events and returns the one alert of model the
 * batch raised, or NULL when it raised none. Free it with
 * harness_free_alerts().
 */
static Hearth__V1__Alert *one_alert(const char *model)
{
        Hearth__V1__Alert *alerts[8];
        size_t n;

        harness_process();
        n = harness_collect_alerts(model, alerts, NULL, 8);
        ck_assert_uint_le(n, 1);
        return n ? alerts[0] : NULL;
}

/* Asserts that two alerts are the same alert, as consumers see it. */
static void assert_same_alert(const Hearth__V1__Alert *a,
                              const Hearth__V1__Alert *b)
{
        ck_assert_str_eq(a->alert_id, b->alert_id);
        ck_assert_str_eq(a->trigger_incident_id, b->trigger_incident_id);
        ck_assert_int_eq(a->priority, b->priority);
        ck_assert_str_eq(a->reasons[0]->code, b->reasons[0]->code);
        ck_assert_uint_eq(a->count, b->count);
        ck_assert_int_eq(a->event_time_ms, b->event_time_ms);
        ck_assert_int_eq(a->window_start_ms, b->window_start_ms);
        ck_assert_int_eq(a->window_end_ms, b->window_end_ms);
        ck_assert_str_eq(a->city_code, b->city_code);
        ck_assert_str_eq(a->district_code, b->district_code);
        ck_assert_uint_eq(a->n_incident_ids, b->n_incident_ids);
}

/* An event of PERSON from one source, stamped at its own time. */
typedef struct person_event {
        const char *id;
        int64_t day; /* event time in days after T0 */
        Hearth__V1__EventType type;
        int32_t source;
        const char *city; /* the district is the city's first 4 digits
                           * and "01" */
} person_event_t;

static void queue_person_event(person_event_t spec)
{
        char district[16];

        snprintf(district, sizeof(district), "%.4s01", spec.city);
        QUEUE(.id = spec.id, .time_ms = T0 + spec.day * DAY_MS,
              .type = spec.type, .route = PERSON, .suspect = PERSON,
              .city = spec.city, .district = district,
              .source_partition = spec.source,
              .source_time_ms = T0 + spec.day * DAY_MS);
}

/*
 * Sends first and then second, each as its own batch, and checks that only
 * second raises an alert of model. Then empties Redis and sends the two in
 * the reverse order. Stores the alert of each order; free them with
 * harness_free_alerts().
 */
static void run_both_orders(const char *model, person_event_t first,
                            person_event_t second,
                            Hearth__V1__Alert **in_order,
                            Hearth__V1__Alert **reversed)
{
        queue_person_event(first);
        ck_assert_ptr_null(one_alert(model));
        queue_person_event(second);
        *in_order = one_alert(model);
        ck_assert_ptr_nonnull(*in_order);

        forget_everything();
        queue_person_event(second);
        ck_assert_ptr_null(one_alert(model));
        queue_person_event(first);
        *reversed = one_alert(model);
        ck_assert_ptr_nonnull(*reversed);
}

START_TEST(ro_earlier_incident_late)
{
        Hearth__V1__Alert *in_order, *reversed;

        run_both_orders(RO,
                        (person_event_t){"A", 10, CALL, 0, "990100"},
                        (person_event_t){"B", 100, CALL, 1, "990200"},
                        &in_order, &reversed);
        ck_assert_int_eq(reversed->priority, 2);
        ck_assert_str_eq(reversed->reasons[0]->code,
                         "repeat_offender.incidents");
        ck_assert_str_eq(reversed->trigger_incident_id, "B");
        ck_assert_str_eq(reversed->city_code, "990200");
        ck_assert_str_eq(reversed->district_code, "990201");
        ck_assert_uint_eq(reversed->count, 2);
        assert_same_alert(reversed, in_order);
        harness_free_alerts(&in_order, 1);
        harness_free_alerts(&reversed, 1);
}
END_TEST

START_TEST(ro_warning_after_incident)
{
        Hearth__V1__Alert *in_order, *reversed;

        /* Out of reach of the count rule, so only the warning rule fires. */
        harness_set_option("models.repeat_offender.threshold=3");
        run_both_orders(RO,
                        (person_event_t){"W", 5, WARNING, 0, "990100"},
                        (person_event_t){"X", 20, CALL, 1, "990200"},
                        &in_order, &reversed);
        ck_assert_str_eq(reversed->reasons[0]->code,
                         "repeat_offender.after_warning");
        ck_assert_str_eq(reversed->trigger_incident_id, "X");
        ck_assert_str_eq(reversed->city_code, "990200");
        assert_same_alert(reversed, in_order);
        harness_free_alerts(&in_order, 1);
        harness_free_alerts(&reversed, 1);
}
END_TEST

START_TEST(ro_late_warning_alerts_once)
{
        Hearth__V1__Alert *in_order, *reversed;

        /* Both rules apply at X. The count rule alerts, and that alert
         * suppresses the warning rule's. */
        run_both_orders(RO,
                        (person_event_t){"W", 5, WARNING, 0, "990100"},
                        (person_event_t){"X", 20, CALL, 1, "990200"},
                        &in_order, &reversed);
        ck_assert_str_eq(reversed->reasons[0]->code,
                         "repeat_offender.incidents");
        assert_same_alert(reversed, in_order);
        harness_free_alerts(&in_order, 1);
        harness_free_alerts(&reversed, 1);
}
END_TEST

START_TEST(ov_call_before_order)
{
        Hearth__V1__Alert *in_order, *reversed;

        run_both_orders(OV,
                        (person_event_t){"O", 30, ORDER_ISSUED, 0, "990100"},
                        (person_event_t){"C", 40, CALL, 1, "990100"},
                        &in_order, &reversed);
        ck_assert_int_eq(reversed->priority, 1);
        ck_assert_str_eq(reversed->reasons[0]->code,
                         "order_violation.active_order");
        ck_assert_str_eq(reversed->trigger_incident_id, "C");
        ck_assert_int_eq(reversed->window_start_ms, T0 + 30 * DAY_MS);
        assert_same_alert(reversed, in_order);
        harness_free_alerts(&in_order, 1);
        harness_free_alerts(&reversed, 1);
}
END_TEST

/* Sends one event of PERSON and returns the trigger of its one order
 * alert, or "" when it raised none. */
static const char *order_alert_trigger(person_event_t spec)
{
        static char trigger[64];
        Hearth__V1__Alert *alert;

        queue_person_event(spec);
        alert = one_alert(OV);
        snprintf(trigger, sizeof(trigger), "%s",
                 alert ? alert->trigger_incident_id : "");
        if (alert)
                harness_free_alerts(&alert, 1);
        return trigger;
}

/* Sends order O1 (day 0) and then calls C1 (day 10) and C2 (day 50), each
 * of which alerts. */
static void send_order_and_two_calls(void)
{
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "O1", 0, ORDER_ISSUED, 0, "990100"}),
                         "");
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "C1", 10, CALL, 0, "990100"}),
                         "C1");
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "C2", 50, CALL, 0, "990100"}),
                         "C2");
}

START_TEST(ov_extension_skips_covered_calls)
{
        send_order_and_two_calls();
        /* C3 comes after the first order ended (day 180): no alert yet. */
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "C3", 200, CALL, 1, "990100"}),
                         "");
        /* The second order runs to day 240, so C3 breaks it. C1 and C2
         * were checked against the first order already. */
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "O2", 60, ORDER_ISSUED, 0, "990100"}),
                         "C3");
}
END_TEST

START_TEST(ov_extension_no_repeat_alert)
{
        send_order_and_two_calls();
        /* C1 and C2 alerted under the first order, so the extension does
         * not alert on them again. */
        ck_assert_str_eq(order_alert_trigger((person_event_t){
                             "O2", 60, ORDER_ISSUED, 0, "990100"}),
                         "");
}
END_TEST

/* ---- invalid heartbeats ---- */

/* Asserts that output message i is a dead letter of the input offset. */
static void assert_dead_letter(size_t i, const char *reason, int64_t offset)
{
        const hearth_out_msg_t *m = &harness_out.msgs[i];
        json_error_t jerr;
        json_t *doc;

        ck_assert_str_eq(m->topic, DLQ_TOPIC);
        ck_assert_str_eq(m->key, reason);
        doc = json_loadb(m->payload, m->len, 0, &jerr);
        ck_assert_msg(doc != NULL, "dead letter is not JSON: %s", jerr.text);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "reason")),
                         reason);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "topic")),
                         PERSONS_TOPIC);
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "offset")),
                         offset);
        json_decref(doc);
}

/* A copy whose source stamp is out of range must not move the watermark. */
START_TEST(invalid_copy_stamp_dead_lettered)
{
        QUEUE(.id = "A", .time_ms = T0, .route = PERSON, .suspect = PERSON,
              .source_partition = 0, .source_time_ms = YEAR_2100 + 1);
        QUEUE(.id = "B", .time_ms = T0, .route = PERSON, .suspect = PERSON,
              .source_partition = -2, .source_time_ms = T0);
        QUEUE(.id = "C", .time_ms = T0, .route = PERSON, .suspect = PERSON,
              .source_partition = 1, .source_time_ms = T0);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 2);
        assert_dead_letter(0, "invalid_route_source", 0);
        assert_dead_letter(1, "invalid_route_source", 1);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 1);
        ck_assert_str_eq(progress_field("src:0"), "");
        ck_assert_str_eq(progress_field("src:1"), harness_decimal(T0));
}
END_TEST

START_TEST(invalid_heartbeats_dead_lettered)
{
        harness_queue_heartbeat(0, 0, YEAR_2100 + 1);
        harness_queue_heartbeat(0, -2, T0);
        /* The limits themselves are valid. */
        harness_queue_heartbeat(0, -1, T0);
        harness_queue_heartbeat(0, 3, YEAR_2100);
        harness_process();
        ck_assert_uint_eq(harness_out.n, 2);
        assert_dead_letter(0, "invalid_heartbeat", 0);
        assert_dead_letter(1, "invalid_heartbeat", 1);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->dead_letters,
                          2);
        ck_assert_uint_eq(hearth_engine_stats(harness_engine)->events, 0);
        ck_assert_str_eq(progress_field("src:0"), "");
        ck_assert_str_eq(progress_field("src:-2"), "");
        ck_assert_str_eq(progress_field("src:-1"), harness_decimal(T0));
        ck_assert_str_eq(progress_field("src:3"), harness_decimal(YEAR_2100));
}
END_TEST

static TCase *incidents_tcase(const char *name)
{
        TCase *tc = harness_tcase(name);

        tcase_add_checked_fixture(tc, setup_incidents, NULL);
        return tc;
}

static TCase *persons_tcase(const char *name)
{
        TCase *tc = harness_tcase(name);

        tcase_add_checked_fixture(tc, setup_persons, NULL);
        return tc;
}

Suite *hearth_test_watermarks_suite(void)
{
        Suite *s = suite_create("watermarks");
        TCase *copies = incidents_tcase("incidents_stage");
        TCase *outbox = incidents_tcase("outbox");
        TCase *persons = persons_tcase("persons_stage");
        TCase *order = persons_tcase("out_of_order");
        TCase *invalid = persons_tcase("invalid_heartbeat");

        tcase_add_test(copies, person_partition_is_fnv1a);
        tcase_add_test(copies, copies_carry_source_stamp);
        tcase_add_test(copies, first_batch_sends_no_heartbeat);
        tcase_add_test(copies, heartbeat_waits_for_interval);
        tcase_add_test(copies, heartbeat_interval_option);
        tcase_add_test(copies, copies_and_beats_sorted);
        tcase_add_test(copies, no_partitions_no_heartbeats);
        tcase_add_test(copies, heartbeat_in_incidents_stage);
        suite_add_tcase(s, copies);

        tcase_add_test(outbox, outbox_keeps_partitions);
        suite_add_tcase(s, outbox);

        tcase_add_test(persons, lagging_source_delays_timer);
        tcase_add_test(persons, lagging_copy_fires_timer);
        tcase_add_test(persons, heartbeat_not_counted);
        tcase_add_test(persons, unstamped_event_is_own_source);
        tcase_add_test(persons, route_late_copy_silent);
        tcase_add_test(persons, old_copy_not_late);
        tcase_add_test(persons, sources_survive_restart);
        suite_add_tcase(s, persons);

        tcase_add_test(order, ro_earlier_incident_late);
        tcase_add_test(order, ro_warning_after_incident);
        tcase_add_test(order, ro_late_warning_alerts_once);
        tcase_add_test(order, ov_call_before_order);
        tcase_add_test(order, ov_extension_skips_covered_calls);
        tcase_add_test(order, ov_extension_no_repeat_alert);
        suite_add_tcase(s, order);

        tcase_add_test(invalid, invalid_heartbeats_dead_lettered);
        tcase_add_test(invalid, invalid_copy_stamp_dead_lettered);
        suite_add_tcase(s, invalid);
        return s;
}
