/*
 * The interface every risk model implements.
 *
 * The engine runs a batch in two passes over its events, in input order:
 *
 *   plan()   declares the Redis keys the model will read for the event
 *            (hearth_batch_need_zset / _need_hash); nothing is read yet.
 *   apply()  runs after one pipelined load. It updates the batch copy of
 *            the state, queueing every write for the batch transaction,
 *            and reports zero or more alert candidates through emit().
 *
 * Updates must be idempotent per incident and event type, because a batch
 * can be replayed after a crash. A model keeps its state under keys made
 * with hearth_batch_key(), so all of it lives in the input partition's hash
 * slot, and gives each key a TTL of its longest window plus the allowed
 * lateness. Suppression of repeats is the model's job, in event time, so a
 * replay emits the same alerts.
 */
#ifndef HEARTH_MODEL_H
#define HEARTH_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"
#include "engine/state.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

#define HEARTH_SUBJECT_MAX 96
#define HEARTH_REASON_MAX 160

/* One input event as the models see it. */
typedef struct hearth_event {
        const Hearth__V1__IncidentEvent *msg;
        int32_t partition;
        int64_t offset;
        bool late;              /* older than the partition's watermark */
} hearth_event_t;

/* An alert before fusion and publication. */
typedef struct hearth_candidate {
        const char *model;
        int priority;                   /* 1 (P1) to 4 (P4) */
        double score;
        int subject_kind;               /* Hearth__V1__SubjectKind */
        char subject_key[HEARTH_SUBJECT_MAX];
        int64_t window_start_ms;
        int64_t window_end_ms;
        uint32_t count;
        char **incident_ids;            /* owned by the model until emit
                                         * returns; the engine copies */
        size_t n_incident_ids;
        char reason_code[64];
        char reason_text[HEARTH_REASON_MAX];
} hearth_candidate_t;

typedef void (*hearth_emit_fn)(void *ctx, const hearth_event_t *trigger,
                               const hearth_candidate_t *candidate);

typedef struct hearth_model_ops {
        const char *name;
        /*
         * Returns the model's private state. Returns NULL with errstr
         * empty when the model is disabled, and NULL with errstr set
         * (naming the option) when its options are invalid.
         */
        void *(*create)(const hearth_config_t *cfg, char *errstr,
                        size_t errstr_size);
        void (*plan)(void *self, hearth_batch_t *b, const hearth_event_t *e);
        void (*apply)(void *self, hearth_batch_t *b, const hearth_event_t *e,
                      hearth_emit_fn emit, void *emit_ctx);
        void (*destroy)(void *self);
} hearth_model_ops_t;

/* Every model the engine can run, NULL-terminated (models/registry.c). */
extern const hearth_model_ops_t *const hearth_models[];

/*
 * Household subject of an event: its address key, else its caller key,
 * else its first victim's person key. Returns false when it has none.
 * NOTE: state lives in the input partition, which the district code
 * selects, so one household whose events carry two district codes is
 * counted apart in each, and person keys are not yet repartitioned.
 */
bool hearth_household_key(const Hearth__V1__IncidentEvent *msg, char *out,
                          size_t size);

/*
 * Returns true when key (a hash of priority -> event time of the last
 * alert) shows an alert at priority or a more urgent one whose event time
 * lies less than window_ms from t, in either direction.
 */
bool hearth_model_suppressed(hearth_batch_t *b, const char *key, int priority,
                             int64_t window_ms, int64_t t);

/*
 * Fills ids with the members of the sorted set key whose score s has
 * lo < s <= hi, keeping the max most recent, oldest first. Returns how
 * many it wrote; the strings live until the batch is reset.
 */
size_t hearth_model_recent_ids(hearth_batch_t *b, const char *key, int64_t lo,
                               int64_t hi, char **ids, size_t max);

#endif
