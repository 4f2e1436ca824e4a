/*
 * Engine state in Redis, read and written once per batch.
 *
 * A batch first declares every key it needs (hearth_batch_need_*), loads
 * them all in one pipelined round trip (hearth_batch_load), then works on an
 * in-memory copy while the models run: reads see the batch's own earlier
 * writes, and each write is also queued as a Redis command. The queued
 * commands go out in one MULTI/EXEC with the outbox and the partition
 * offsets (hearth_batch_commit), guarded by WATCH on the offsets, so a batch
 * is applied whole or not at all, and only by the instance that owns the
 * partitions.
 *
 * Key layout (prefix defaults to "hearth:"), all in the hash slot of the
 * input partition N, so one partition's keys can live on one Redis Cluster
 * node. The incidents stage tags its keys {pN}, the persons stage, which
 * reads the person repartition topic, {rN}:
 *
 *   <prefix>{pN}:progress         hash: offset (next input offset),
 *                                 max_event_time (ms, for the watermark)
 *   <prefix>{pN}:outbox           list of packed Alert messages awaiting
 *                                 publication
 *   <prefix>{pN}:<model>:...      model state, e.g. a sorted set of incident
 *                                 ids by event time per household
 *   <prefix>{pN}:inc:<I>          hash: the state of incident I of every
 *                                 model that keeps any, one field prefix
 *                                 per model (models/model.h)
 *   <prefix>{pN}:fusion:<S>       hash: model -> event time and reason of
 *                                 its last alert on household or person S
 *   <prefix>{rN}:labels:<P>       hash: label -> expiry (ms) of person P
 *
 * The persons stage's progress hash also keeps, per input partition M of
 * the incidents stage, field "src:M": how far M had got (its watermark
 * source).
 *
 * Every key written gets a TTL. Thread safety: one thread per state handle.
 */
#ifndef HEARTH_STATE_H
#define HEARTH_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/config.h"

typedef struct hearth_state hearth_state_t;
typedef struct hearth_batch hearth_batch_t;
typedef struct hearth_arena hearth_arena_t;

/*
 * Region allocator for memory that lives until the end of a batch. Each
 * allocation is a pointer bump and nothing is freed one by one.
 * hearth_arena_reset() releases everything at once but keeps one block as
 * large as the batch needed, so a steady stream of batches stops calling
 * malloc. Allocations are aligned to 16 bytes. Aborts when out of memory.
 */
hearth_arena_t *hearth_arena_new(size_t block_size);
void *hearth_arena_alloc(hearth_arena_t *a, size_t size);
/* Copies len bytes of s and appends a NUL. */
char *hearth_arena_strndup(hearth_arena_t *a, const char *s, size_t len);
void hearth_arena_reset(hearth_arena_t *a);
void hearth_arena_free(hearth_arena_t *a);

/* Connects, authenticates and checks with PING; NULL and errstr on error. */
hearth_state_t *hearth_state_connect(const hearth_config_t *cfg, char *errstr,
                                     size_t errstr_size);

/* Reconnects after an error; -1 and errstr when Redis is still unreachable. */
int hearth_state_reconnect(hearth_state_t *st, char *errstr,
                           size_t errstr_size);

/* The hiredis connection, for one-off commands outside batches. */
struct redisContext *hearth_state_context(hearth_state_t *st);

/* Round trips made since connect, for metrics and the benchmark. */
uint64_t hearth_state_round_trips(const hearth_state_t *st);
uint64_t hearth_state_commands(const hearth_state_t *st);

void hearth_state_free(hearth_state_t *st);

/*
 * Runs one command given as argv and returns its integer, status or bulk
 * reply as text in out (may be NULL). -1 and errstr on error. For setup and
 * tools; batches never use it.
 */
int hearth_state_command(hearth_state_t *st, int argc, const char **argv,
                         const size_t *lens, char *out, size_t out_size,
                         char *errstr, size_t errstr_size);

/* Starts an empty batch on st. */
hearth_batch_t *hearth_batch_new(hearth_state_t *st);
void hearth_batch_reset(hearth_batch_t *b);
void hearth_batch_free(hearth_batch_t *b);

/* Formats "<prefix>{p<partition>}:<suffix>" ({r...} in the persons
 * stage) into out; returns out. */
char *hearth_batch_key(const hearth_batch_t *b, int32_t partition,
                       const char *suffix, char *out, size_t size);

/* Declares a sorted set or hash to load whole. */
void hearth_batch_need_zset(hearth_batch_t *b, const char *key);
void hearth_batch_need_hash(hearth_batch_t *b, const char *key);
/* Declares a key to WATCH before loading (partition progress). */
void hearth_batch_watch(hearth_batch_t *b, const char *key);
/*
 * Declares a list that the batch appends to (the outbox). The load checks
 * that the key contains a list or nothing. A key of another type then
 * fails the load, instead of failing RPUSH inside EXEC after the other
 * writes applied.
 */
void hearth_batch_need_list(hearth_batch_t *b, const char *key);

/*
 * Loads every declared key in one round trip; -1 and errstr on error. A
 * batch may load again after more declarations: the second load reads
 * only the keys declared since, so the batch's own writes stay visible.
 */
int hearth_batch_load(hearth_batch_t *b, char *errstr, size_t errstr_size);

/* Sorted set access; the key must have been declared and loaded. */
bool hearth_zset_contains(hearth_batch_t *b, const char *key,
                          const char *member);
/* Sets *score to member's score; false when member is absent. */
bool hearth_zset_score(hearth_batch_t *b, const char *key,
                       const char *member, int64_t *score);
/* Adds member unless present (ZADD NX); returns true when added. */
bool hearth_zset_add_nx(hearth_batch_t *b, const char *key,
                        const char *member, int64_t score, int64_t ttl_ms);
/*
 * Calls fn for each member with lo < score <= hi, in ascending score order
 * (ties by member), and returns how many there were.
 */
size_t hearth_zset_range(hearth_batch_t *b, const char *key, int64_t lo,
                         int64_t hi,
                         void (*fn)(void *ctx, const char *member,
                                    int64_t score),
                         void *ctx);
/* Removes member (ZREM) from Redis and the copy, present or not. */
void hearth_zset_remove(hearth_batch_t *b, const char *key,
                        const char *member);
/* Removes members with score <= max from Redis and the copy. */
void hearth_zset_trim(hearth_batch_t *b, const char *key, int64_t max);

/* Hash access; the key must have been declared and loaded. */
const char *hearth_hash_get(hearth_batch_t *b, const char *key,
                            const char *field);
void hearth_hash_set(hearth_batch_t *b, const char *key, const char *field,
                     const char *value, int64_t ttl_ms);
/*
 * The i-th field of a hash and its value, in no particular order; false
 * when i is past the last. hearth_hash_set() of an existing field keeps
 * the order, so a loop over i may set fields as it goes.
 */
bool hearth_hash_field_at(hearth_batch_t *b, const char *key, size_t i,
                          const char **field, const char **value);

/*
 * Queues RPUSH of a binary value to a list key. Consecutive pushes to one
 * key go out as one RPUSH with several values, which appends them in the
 * same order.
 */
void hearth_batch_rpush(hearth_batch_t *b, const char *key, const void *value,
                        size_t len, int64_t ttl_ms);

/*
 * Queues DEL of key ahead of every other write of the batch, whenever it
 * is called: the engine deletes the outbox that the previous batch left,
 * once it is published, in the transaction that appends the new one.
 */
void hearth_batch_del_first(hearth_batch_t *b, const char *key);

/*
 * Sends every queued write in one MULTI/EXEC. Returns 0 when applied, 1
 * when a watched key changed (another instance took the partition: the
 * batch was not applied), -1 with errstr on error (outcome unknown: the
 * caller resynchronizes from Redis).
 */
int hearth_batch_commit(hearth_batch_t *b, char *errstr, size_t errstr_size);

#endif
