/*
 * A harness for model tests: an engine on the unit tests' redis-server
 * (tests/unit/redis_server.h), packed IncidentEvent messages queued per
 * partition and processed as one batch, and the Alert messages of the
 * output decoded.
 *
 * Use harness_tcase() for a TCase whose tests need Redis: its unchecked
 * fixture starts the server in the runner's process, and its checked
 * fixture connects, flushes every key and resets the harness before each
 * test. The harness's state lives in the globals below, one set per test
 * process.
 */
#ifndef HEARTH_TEST_MODEL_HARNESS_H
#define HEARTH_TEST_MODEL_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

#define HARNESS_MAX_PARTITIONS 8

extern hearth_config_t harness_cfg;
extern hearth_state_t *harness_state;
extern hearth_engine_t *harness_engine; /* NULL until first used */
extern hearth_out_list_t harness_out;   /* output of the last batch */
extern char harness_err[512];

/* One input event; zero fields take the defaults named here. */
typedef struct harness_event {
        const char *id;
        int64_t time_ms;
        Hearth__V1__EventType type; /* default CALL_RECEIVED */
        const char *flags;          /* comma-separated RiskFlags names */
        Hearth__V1__Disposition disposition;
        const char *address; /* address key; NULL for none */
        const char *city;    /* city code; NULL for none */
        const char *district; /* district code; NULL for 990101 */
        bool not_domestic;
        const char *route; /* route_key; NULL for none */
        /* Person keys of the parties; NULL adds no party of that role. */
        const char *suspect;
        const char *victim;
        const char *witness;
        const char *caller;
        const char *profile; /* source.profile; NULL for none */
        int32_t partition;   /* below HARNESS_MAX_PARTITIONS */
        /* Person-topic stamp: route_source_partition, route_source_time_ms
         * and route_late. A zero source_time_ms leaves it unstamped. */
        int32_t source_partition;
        int64_t source_time_ms;
        bool late;
} harness_event_t;

/* Returns a TCase whose tests run against the shared redis-server. */
TCase *harness_tcase(const char *name);

/* Sets one option ("name=value") of harness_cfg; fails the test on error. */
void harness_set_option(const char *assignment);

/* Runs one Redis command and returns its reply as text (static buffer). */
const char *harness_redis(int argc, const char **argv);

/* Creates the engine from harness_cfg unless it exists. */
void harness_start_engine(void);

/* Replaces the engine, so that changed options take effect; the state in
 * Redis stays. */
void harness_restart_engine(void);

/*
 * Creates and frees an engine. Returns EXIT_FAILURE with its error message
 * in msg when creating it fails, 0 when it succeeds.
 */
int harness_engine_status(char *msg, size_t size);

/* Sets the RiskFlags fields named in list (comma-separated). */
void harness_set_flags(Hearth__V1__RiskFlags *risk, const char *list);

/*
 * Packs an event as the next offset of its partition and queues it for
 * harness_process(). Returns that offset.
 */
int64_t harness_queue(harness_event_t spec);

/*
 * Queues a person-topic heartbeat on partition: an IncidentEvent with only
 * route_source_partition = source, route_source_time_ms = time_ms and
 * event_time_ms = time_ms set. Returns its offset.
 */
int64_t harness_queue_heartbeat(int32_t partition, int32_t source,
                                int64_t time_ms);

/* Sets the offset the next queued event of partition gets. */
void harness_set_offset(int32_t partition, int64_t offset);

/*
 * Processes the queued messages as one batch with hearth_engine_process()
 * into harness_out, and empties the queue. Fails the test unless it
 * returns 0.
 */
void harness_process(void);

/*
 * Decodes the alerts on the priority topics of harness_out whose model is
 * model (NULL for every model) into alerts, at most max, with their topics
 * in topics when it is not NULL. Returns how many it stored; free them
 * with harness_free_alerts().
 */
size_t harness_collect_alerts(const char *model, Hearth__V1__Alert **alerts,
                              char (*topics)[64], size_t max);

void harness_free_alerts(Hearth__V1__Alert **alerts, size_t n);

/* Returns v as decimal text in one of 4 rotating static buffers. */
const char *harness_decimal(int64_t v);

#define ck_assert_has(text, part)                                              \
        ck_assert_msg(strstr((text), (part)) != NULL, "\"%s\" lacks \"%s\"",   \
                      (text), (part))

#endif
