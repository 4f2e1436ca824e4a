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
 *
 * Stages. Input events are keyed by district, so one engine instance sees
 * all of a household's events but not all of a person's. The incidents
 * stage runs the household, incident and area models, and copies every
 * event once per suspect or victim to the person repartition topic, keyed
 * by the person key, with route_key set to it. The persons stage (a second
 * consumer group of the same program) reads that topic, so each instance
 * owns all events of its persons, and runs the person models. This is how
 * Kafka Streams repartitions before a join, and it keeps every key of a
 * batch in one partition's hash slot.
 *
 * Timers. A model that waits for something to happen keeps a sorted set of
 * due times per partition. After each event that moves its partition's
 * watermark (largest event time minus the allowed lateness), and again
 * after the events of a batch, the engine calls tick() for the partition
 * with its watermark, and the model fires what is due before it. So a
 * replay fires the same timers as the live run, whatever the batch sizes.
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

typedef enum hearth_stage {
        HEARTH_STAGE_INCIDENTS = 0,
        HEARTH_STAGE_PERSONS = 1,
} hearth_stage_t;

typedef struct hearth_model_ops {
        const char *name;
        hearth_stage_t stage;
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
        /* Optional: declares the timer keys of a partition in the batch. */
        void (*plan_tick)(void *self, hearth_batch_t *b, int32_t partition);
        /* Optional: fires the partition's timers due before watermark,
         * after each event that moves it and after the batch's events. */
        void (*tick)(void *self, hearth_batch_t *b, int32_t partition,
                     int64_t watermark, hearth_emit_fn emit, void *emit_ctx);
        void (*destroy)(void *self);
} hearth_model_ops_t;

/*
 * Sets label on person_key until expires_at_ms, as part of the batch: the
 * engine keeps current labels in <prefix>{rN}:labels:<person> (hash: label
 * -> expiry in ms) and publishes a Tag on topics.tags when the label is new
 * or its expiry moves later. emit_ctx is the one apply() or tick() got.
 */
void hearth_emit_tag(void *emit_ctx, const hearth_event_t *trigger,
                     const char *person_key, const char *label,
                     int64_t expires_at_ms, const char *reason_code,
                     const char *reason_text);

/* The party of a persons-stage event whose person key is its route key. */
const Hearth__V1__Party *hearth_route_party(
        const Hearth__V1__IncidentEvent *msg);

/*
 * Reads the special-circumstances flag options: lethal and combined flag
 * masks (bit n: RiskFlags field number n) and the combined threshold.
 * -1 and errstr when the options are invalid.
 */
int hearth_risk_rules(const hearth_config_t *cfg, uint64_t *lethal,
                      uint64_t *combined, int64_t *threshold, char *errstr,
                      size_t errstr_size);

/* The flags set in risk (may be NULL) as a mask like hearth_risk_rules'. */
uint64_t hearth_risk_mask(const Hearth__V1__RiskFlags *risk);

/*
 * Writes a timer member: fields joined by the unit separator (0x1f), so
 * that a member carries what the alert needs when it fires. Returns false
 * when it does not fit.
 */
bool hearth_timer_member(char *out, size_t size, const char *const *fields,
                         size_t n);
/* Splits a timer member in place into at most max fields; returns count. */
size_t hearth_timer_fields(char *member, char **fields, size_t max);

/* Every model the engine can run, NULL-terminated (models/registry.c). */
extern const hearth_model_ops_t *const hearth_models[];

/*
 * Household subject of an event: its address key, else its caller key,
 * else its first victim's person key. Returns false when it has none.
 * NOTE: household state lives in the input partition, which the district
 * code selects, so one household whose events carry two district codes is
 * counted apart in each. Person keys go through the persons stage.
 */
bool hearth_household_key(const Hearth__V1__IncidentEvent *msg, char *out,
                          size_t size);

/* Size of a buffer for a model's state key. */
#define HEARTH_KEY_MAX 512

/*
 * Formats the key of the event's incident into out:
 *   <prefix>{pN}:inc:<incident id>
 * One hash keeps the state of the incident for every model, each in its
 * own fields ("rc.", "sc." and "hs." before the field name), so an event
 * loads, writes and expires one key instead of one per model. Returns
 * false, and logs, when the key does not fit in size bytes: a truncated
 * key could name another incident's state.
 */
bool hearth_incident_key(hearth_batch_t *b, const hearth_event_t *e,
                         char *out, size_t size);

/*
 * The TTL of the incident key: the largest TTL that an enabled model with
 * fields in it gives its state. Every model writes the key with this TTL,
 * so a later batch in which only one model writes it does not shorten
 * another model's fields.
 */
int64_t hearth_incident_ttl(const hearth_config_t *cfg);

/*
 * Returns true when key (a hash of priority -> event time of the last
 * alert) shows an alert at priority or a more urgent one whose event time
 * lies less than window_ms from t, in either direction.
 */
bool hearth_model_suppressed(hearth_batch_t *b, const char *key, int priority,
                             int64_t window_ms, int64_t t);

/* The same for a hash whose priority fields are named prefix then the
 * priority, such as "sc.1" in the incident key. */
bool hearth_model_suppressed_in(hearth_batch_t *b, const char *key,
                                const char *prefix, int priority,
                                int64_t window_ms, int64_t t);

/* Records an alert at priority and event time t in the hash key that
 * hearth_model_suppressed() reads. */
void hearth_model_mark_alerted(hearth_batch_t *b, const char *key,
                               int priority, int64_t t, int64_t ttl_ms);

/*
 * Calls fn, in due order, for each timer of the sorted set key due before
 * watermark, then removes them. A timer due exactly at the watermark is not
 * yet overdue, because an event at that time is not late and may still
 * cancel it.
 */
void hearth_model_fire_timers(hearth_batch_t *b, const char *key,
                              int64_t watermark,
                              void (*fn)(void *ctx, const char *member,
                                         int64_t due),
                              void *ctx);

/*
 * Emits the alert of a fired timer. The trigger is made from the timer's
 * incident and region codes, with event time due. c gets the incident as
 * its one id, a count of 1, a score of 1 and a window ending at due.
 */
void hearth_model_emit_timer(hearth_emit_fn emit, void *emit_ctx,
                             int32_t partition, const char *incident_id,
                             const char *const region[3], int64_t due,
                             hearth_candidate_t *c);

/*
 * Fills ids with the members of the sorted set key whose score s has
 * lo < s <= hi, keeping the max most recent, oldest first. Returns how
 * many it wrote; the strings live until the batch is reset.
 */
size_t hearth_model_recent_ids(hearth_batch_t *b, const char *key, int64_t lo,
                               int64_t hi, char **ids, size_t max);

#endif
