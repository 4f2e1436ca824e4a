/*
 * The engine's batch processor, independent of the Kafka client: it turns a
 * batch of input messages into state updates and outbox messages in one
 * Redis transaction.
 *
 * Exactly-once state: the next input offset of each partition is stored in
 * Redis in the same transaction as the state and the outbox, so messages
 * below it are skipped when redelivered. The outbox contains every message the
 * batch must publish (alerts on the priority and regional topics, dead
 * letters); the caller publishes it with an idempotent producer and then
 * clears it. After a crash the outbox is published again: consumers see the
 * same alert_id and drop the duplicate.
 */
#ifndef HEARTH_ENGINE_H
#define HEARTH_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "engine/state.h"

#define HEARTH_ENGINE_VERSION "0.1.0"
#define HEARTH_MAX_PARTITIONS 1024

typedef struct hearth_engine hearth_engine_t;

typedef struct hearth_input_msg {
        int32_t partition;
        int64_t offset;
        const void *payload;
        size_t len;
} hearth_input_msg_t;

/* One message to publish; all fields malloc'd. */
typedef struct hearth_out_msg {
        char *topic;
        char *key;
        void *payload;
        size_t len;
        int32_t source_partition;
        int32_t partition;      /* target partition; -1: by key */
        int64_t event_time_ms;  /* of a person-topic copy; 0 otherwise */
} hearth_out_msg_t;

typedef struct hearth_engine_stats {
        uint64_t events;
        uint64_t domestic;
        uint64_t late;
        uint64_t skipped;       /* below the stored offset: already done */
        uint64_t dead_letters;
        uint64_t alerts;
        uint64_t alerts_by_priority[5];
        uint64_t batches;
        uint64_t ownership_lost;
} hearth_engine_stats_t;

typedef struct hearth_out_list {
        hearth_out_msg_t *msgs;
        size_t n, cap;
} hearth_out_list_t;

void hearth_out_list_clear(hearth_out_list_t *l);

hearth_engine_t *hearth_engine_new(const hearth_config_t *cfg,
                                   hearth_state_t *state, char *errstr,
                                   size_t errstr_size);

/*
 * Processes n messages (any partitions, each partition's offsets
 * ascending). On 0 the batch is durable in Redis and out contains what to
 * publish. Returns 1 when another instance owns one of the partitions (the
 * batch was not applied), -1 with errstr on a Redis error (outcome unknown;
 * resynchronize).
 */
int hearth_engine_process(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                          size_t n, hearth_out_list_t *out, char *errstr,
                          size_t errstr_size);

/*
 * hearth_engine_process() in two steps, so that the caller can wait for the
 * previous batch's alerts to be acknowledged while this batch is prepared.
 *
 * hearth_engine_prepare() decodes the messages, loads their state and runs
 * the models; nothing is written yet. It returns 0, or -1 with errstr on a
 * Redis error, when the batch is already dropped. After 0, exactly one of
 * hearth_engine_commit() and hearth_engine_abort() must follow.
 *
 * hearth_engine_commit() writes the batch like hearth_engine_process() and
 * returns the same codes. The outboxes of the n_published partitions in
 * published, whose messages the caller has published and seen
 * acknowledged since they were committed, are deleted in the same
 * transaction, ahead of the batch's own outbox entries.
 */
int hearth_engine_prepare(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                          size_t n, char *errstr, size_t errstr_size);
int hearth_engine_commit(hearth_engine_t *e, const int32_t *published,
                         size_t n_published, hearth_out_list_t *out,
                         char *errstr, size_t errstr_size);
/*
 * Asks the next prepared batch to add deltas[i] ms to the largest event
 * time of each listed partition and to fire the timers that become due,
 * even when the batch has no message of that partition. Called with the
 * wall time a partition has been idle, this makes its watermark follow the
 * wall clock. The request lasts for that one batch. -1 and errstr for a
 * partition out of range.
 */
int hearth_engine_advance(hearth_engine_t *e, const int32_t *partitions,
                          const int64_t *deltas, size_t n, char *errstr,
                          size_t errstr_size);

/*
 * Tells the incidents stage how many partitions the person topic has. It
 * then sends each copy to the partition hearth_person_partition() picks
 * and, per input partition, a watermark heartbeat to every person
 * partition that got no copy from it for engine.person_heartbeat_ms of
 * event time. Without it (n = 0) copies go by key and no heartbeat is
 * sent.
 */
void hearth_engine_set_person_partitions(hearth_engine_t *e, int32_t n);

/* The person-topic partition of a person key: FNV-1a 64 modulo n. */
int32_t hearth_person_partition(const char *person_key, int32_t n);

/* Drops a prepared batch without writing anything. */
void hearth_engine_abort(hearth_engine_t *e);

/* Reads a partition's stored next offset; *offset = -1 when none. */
int hearth_engine_stored_offset(hearth_engine_t *e, int32_t partition,
                                int64_t *offset, char *errstr,
                                size_t errstr_size);

/* Reads a partition's unpublished outbox into out (appending). */
int hearth_engine_outbox_read(hearth_engine_t *e, int32_t partition,
                              hearth_out_list_t *out, char *errstr,
                              size_t errstr_size);

/* Deletes the outbox of each partition after its messages were published. */
int hearth_engine_outbox_clear(hearth_engine_t *e, const int32_t *partitions,
                               size_t n, char *errstr, size_t errstr_size);

/*
 * Replaces the models with ones made from cfg, between batches. The
 * models' state in Redis stays as it is. On error (a model option is
 * invalid) returns -1 with errstr and keeps the current models. cfg must
 * outlive the engine or the next reload; the engine reads only model
 * options, engine.rule_version and engine.allowed_lateness_ms from it, as
 * connection and topic options cannot change while running.
 */
int hearth_engine_reload(hearth_engine_t *e, const hearth_config_t *cfg,
                         char *errstr, size_t errstr_size);

const hearth_engine_stats_t *hearth_engine_stats(const hearth_engine_t *e);

void hearth_engine_free(hearth_engine_t *e);

/*
 * Computes the deterministic alert id: hex of the first 16 bytes of
 * SHA-256 over model, subject, priority and trigger incident id, separated
 * by NUL bytes. out must hold 33 bytes.
 */
void hearth_alert_id(const char *model, const char *subject, int priority,
                     const char *incident_id, char *out);

/* Expands {priority} or {city} in a topic template. */
void hearth_topic_from_template(const char *tmpl, const char *name,
                                const char *value, char *out, size_t size);

#endif
