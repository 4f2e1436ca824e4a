/*
 * Operations output of hearth-engine: the audit log of published alerts
 * and a metrics file in the Prometheus text format.
 *
 * The audit log gets one JSON line per alert acknowledged on a priority
 * topic (regional copies are not repeated): alert id, model, priority,
 * region codes, subject kind, event and emission times, topic, partition
 * and offset. It contains no subject key, incident id or other personal
 * data.
 *
 * Thread safety: every function runs on the engine's main thread.
 * hearth_observe_delivered runs in the delivery callback, which fires on
 * the thread that polls the producer, and the engine polls it only there.
 */
#ifndef HEARTH_OBSERVE_H
#define HEARTH_OBSERVE_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "engine/engine.h"

typedef struct hearth_observe hearth_observe_t;

/* Counters the engine loop owns, passed in when metrics are written. */
typedef struct hearth_observe_counters {
        uint64_t messages_in;
        uint64_t delivered;
        uint64_t delivery_failed;
        uint64_t redis_round_trips;
        uint64_t redis_commands;
} hearth_observe_counters_t;

/* Opens the audit log for appending; NULL and errstr on failure. */
hearth_observe_t *hearth_observe_new(const hearth_config_t *cfg,
                                     char *errstr, size_t errstr_size);

/* Records one acknowledged message; audits it if it is a priority alert. */
void hearth_observe_delivered(hearth_observe_t *o,
                              const rd_kafka_message_t *msg);

/* Records the duration of one processed batch. */
void hearth_observe_batch(hearth_observe_t *o, double seconds);

/*
 * Rewrites the metrics file (atomically, through a rename) when the
 * interval has passed or force is set. consumer may be NULL.
 */
void hearth_observe_metrics(hearth_observe_t *o, rd_kafka_t *consumer,
                            const hearth_engine_stats_t *stats,
                            const hearth_observe_counters_t *counters,
                            int force);

void hearth_observe_free(hearth_observe_t *o);

#endif
