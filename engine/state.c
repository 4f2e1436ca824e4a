/*
 * Redis state through hiredis: batch cache, pipelined loads, one
 * MULTI/EXEC per batch.
 */
#include "engine/state.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "engine/common/log.h"

#define COMPONENT "state"

struct hearth_state {
        const hearth_config_t *cfg;
        redisContext *ctx;
        uint64_t round_trips;
        uint64_t commands;
};

typedef enum entry_type { ENTRY_WATCH, ENTRY_ZSET, ENTRY_HASH } entry_type_t;

typedef struct pair {
        char *name;             /* zset member or hash field */
        char *value;            /* hash value; NULL for zset */
        int64_t score;
} pair_t;

typedef struct entry {
        char *key;
        entry_type_t type;
        pair_t *pairs;
        size_t n_pairs, cap_pairs;
        int64_t ttl_ms;         /* largest TTL asked for in this batch */
        bool watched;
} entry_t;

typedef struct command {
        int argc;
        char **argv;
        size_t *lens;
} command_t;

struct hearth_batch {
        hearth_state_t *st;
        entry_t *entries;
        size_t n_entries, cap_entries;
        int32_t *slots;         /* open addressing: index + 1, 0 if empty */
        size_t n_slots;
        command_t *cmds;
        size_t n_cmds, cap_cmds;
};

/* ---- connection ---- */

static int read_password(const char *path, char *out, size_t size,
                         char *errstr, size_t errstr_size)
{
        FILE *fp = fopen(path, "r");
        size_t n;

        if (!fp) {
                snprintf(errstr, errstr_size, "cannot open "
                         "redis.password_file %s: %s", path, strerror(errno));
                return -1;
        }
        n = fread(out, 1, size - 1, fp);
        fclose(fp);
        out[n] = '\0';
        while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
                out[--n] = '\0';
        return 0;
}

static int authenticate(hearth_state_t *st, char *errstr, size_t errstr_size)
{
        const hearth_config_t *cfg = st->cfg;
        char password[512];
        redisReply *r;
        int rc = 0;

        if (!*cfg->redis_password_file)
                return 0;
        if (read_password(cfg->redis_password_file, password,
                          sizeof(password), errstr, errstr_size) != 0)
                return -1;
        if (*cfg->redis_user)
                r = redisCommand(st->ctx, "AUTH %s %s", cfg->redis_user,
                                 password);
        else
                r = redisCommand(st->ctx, "AUTH %s", password);
        memset(password, 0, sizeof(password));
        if (!r || r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "Redis authentication failed: "
                         "%s", r ? r->str : st->ctx->errstr);
                rc = -1;
        }
        if (r)
                freeReplyObject(r);
        return rc;
}

static int open_connection(hearth_state_t *st, char *errstr,
                           size_t errstr_size)
{
        const hearth_config_t *cfg = st->cfg;
        struct timeval tv = {.tv_sec = cfg->redis_timeout_ms / 1000,
                             .tv_usec = (cfg->redis_timeout_ms % 1000) * 1000};
        redisReply *r;

        if (*cfg->redis_unix_socket)
                st->ctx = redisConnectUnixWithTimeout(cfg->redis_unix_socket,
                                                      tv);
        else
                st->ctx = redisConnectWithTimeout(cfg->redis_host,
                                                  (int)cfg->redis_port, tv);
        if (!st->ctx || st->ctx->err) {
                snprintf(errstr, errstr_size, "cannot connect to Redis at "
                         "%s:%" PRId64 ": %s; is redis-server running?",
                         *cfg->redis_unix_socket ? cfg->redis_unix_socket
                                                 : cfg->redis_host,
                         *cfg->redis_unix_socket ? (int64_t)0
                                                 : cfg->redis_port,
                         st->ctx ? st->ctx->errstr : "out of memory");
                return -1;
        }
        redisSetTimeout(st->ctx, tv);
        if (authenticate(st, errstr, errstr_size) != 0)
                return -1;
        r = redisCommand(st->ctx, "PING");
        if (!r || r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "Redis PING failed: %s",
                         r ? r->str : st->ctx->errstr);
                if (r)
                        freeReplyObject(r);
                return -1;
        }
        freeReplyObject(r);
        return 0;
}

hearth_state_t *hearth_state_connect(const hearth_config_t *cfg, char *errstr,
                                     size_t errstr_size)
{
        hearth_state_t *st = calloc(1, sizeof(*st));

        st->cfg = cfg;
        if (open_connection(st, errstr, errstr_size) != 0) {
                hearth_state_free(st);
                return NULL;
        }
        return st;
}

int hearth_state_reconnect(hearth_state_t *st, char *errstr,
                           size_t errstr_size)
{
        if (st->ctx)
                redisFree(st->ctx);
        st->ctx = NULL;
        return open_connection(st, errstr, errstr_size);
}

redisContext *hearth_state_context(hearth_state_t *st)
{
        return st->ctx;
}

uint64_t hearth_state_round_trips(const hearth_state_t *st)
{
        return st->round_trips;
}

uint64_t hearth_state_commands(const hearth_state_t *st)
{
        return st->commands;
}

void hearth_state_free(hearth_state_t *st)
{
        if (!st)
                return;
        if (st->ctx)
                redisFree(st->ctx);
        free(st);
}

int hearth_state_command(hearth_state_t *st, int argc, const char **argv,
                         const size_t *lens, char *out, size_t out_size,
                         char *errstr, size_t errstr_size)
{
        redisReply *r = redisCommandArgv(st->ctx, argc, argv, lens);
        int rc = 0;

        st->round_trips++;
        st->commands++;
        if (!r) {
                snprintf(errstr, errstr_size, "Redis %s failed: %s", argv[0],
                         st->ctx->errstr);
                return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "Redis %s: %s", argv[0], r->str);
                rc = -1;
        } else if (out && r->type == REDIS_REPLY_INTEGER) {
                snprintf(out, out_size, "%lld", r->integer);
        } else if (out && (r->type == REDIS_REPLY_STRING ||
                           r->type == REDIS_REPLY_STATUS)) {
                snprintf(out, out_size, "%.*s", (int)r->len, r->str);
        } else if (out) {
                out[0] = '\0';
        }
        freeReplyObject(r);
        return rc;
}

/* ---- batch cache ---- */

hearth_batch_t *hearth_batch_new(hearth_state_t *st)
{
        hearth_batch_t *b = calloc(1, sizeof(*b));

        b->st = st;
        b->n_slots = 1024;
        b->slots = calloc(b->n_slots, sizeof(*b->slots));
        return b;
}

static void free_entry(entry_t *e)
{
        for (size_t i = 0; i < e->n_pairs; i++) {
                free(e->pairs[i].name);
                free(e->pairs[i].value);
        }
        free(e->pairs);
        free(e->key);
}

static void free_command(command_t *c)
{
        for (int i = 0; i < c->argc; i++)
                free(c->argv[i]);
        free(c->argv);
        free(c->lens);
}

void hearth_batch_reset(hearth_batch_t *b)
{
        for (size_t i = 0; i < b->n_entries; i++)
                free_entry(&b->entries[i]);
        b->n_entries = 0;
        memset(b->slots, 0, b->n_slots * sizeof(*b->slots));
        for (size_t i = 0; i < b->n_cmds; i++)
                free_command(&b->cmds[i]);
        b->n_cmds = 0;
}

void hearth_batch_free(hearth_batch_t *b)
{
        if (!b)
                return;
        hearth_batch_reset(b);
        free(b->entries);
        free(b->slots);
        free(b->cmds);
        free(b);
}

char *hearth_batch_key(const hearth_batch_t *b, int32_t partition,
                       const char *suffix, char *out, size_t size)
{
        snprintf(out, size, "%s{p%d}:%s", b->st->cfg->key_prefix,
                 (int)partition, suffix);
        return out;
}

static uint64_t hash_string(const char *s)
{
        uint64_t h = 1469598103934665603ULL;    /* FNV-1a */

        for (; *s; s++)
                h = (h ^ (unsigned char)*s) * 1099511628211ULL;
        return h;
}

static void grow_slots(hearth_batch_t *b)
{
        free(b->slots);
        b->n_slots *= 2;
        b->slots = calloc(b->n_slots, sizeof(*b->slots));
        for (size_t i = 0; i < b->n_entries; i++) {
                size_t s = hash_string(b->entries[i].key) & (b->n_slots - 1);

                while (b->slots[s])
                        s = (s + 1) & (b->n_slots - 1);
                b->slots[s] = (int32_t)i + 1;
        }
}

/* Returns the entry for key, creating it with type when create is set. */
static entry_t *lookup(hearth_batch_t *b, const char *key, int create,
                       entry_type_t type)
{
        size_t s = hash_string(key) & (b->n_slots - 1);
        entry_t *e;

        while (b->slots[s]) {
                e = &b->entries[b->slots[s] - 1];
                if (strcmp(e->key, key) == 0)
                        return e;
                s = (s + 1) & (b->n_slots - 1);
        }
        if (!create)
                return NULL;
        if (b->n_entries == b->cap_entries) {
                b->cap_entries = b->cap_entries ? b->cap_entries * 2 : 256;
                b->entries = realloc(b->entries,
                                     b->cap_entries * sizeof(*b->entries));
        }
        e = &b->entries[b->n_entries++];
        memset(e, 0, sizeof(*e));
        e->key = strdup(key);
        e->type = type;
        b->slots[s] = (int32_t)b->n_entries;
        if (b->n_entries * 2 > b->n_slots)
                grow_slots(b);
        return &b->entries[b->n_entries - 1];
}

void hearth_batch_need_zset(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_ZSET)->type = ENTRY_ZSET;
}

void hearth_batch_need_hash(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_HASH)->type = ENTRY_HASH;
}

void hearth_batch_watch(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_WATCH)->watched = true;
}

static pair_t *add_pair(entry_t *e, const char *name, size_t name_len,
                        const char *value, size_t value_len, int64_t score)
{
        pair_t *p;

        if (e->n_pairs == e->cap_pairs) {
                e->cap_pairs = e->cap_pairs ? e->cap_pairs * 2 : 8;
                e->pairs = realloc(e->pairs, e->cap_pairs * sizeof(*e->pairs));
        }
        p = &e->pairs[e->n_pairs++];
        p->name = strndup(name, name_len);
        p->value = value ? strndup(value, value_len) : NULL;
        p->score = score;
        return p;
}

/* Pass 0 sends WATCH for watched keys, pass 1 the reads; WATCH has to
 * precede the reads it guards. Returns 1 when a command was appended. */
static int append_entry_command(hearth_batch_t *b, entry_t *e, int pass)
{
        redisContext *ctx = b->st->ctx;

        if (pass == 0 && !e->watched)
                return 0;
        if (pass == 1 && e->type == ENTRY_WATCH)
                return 0;
        if (pass == 0)
                redisAppendCommand(ctx, "WATCH %s", e->key);
        else if (e->type == ENTRY_ZSET)
                redisAppendCommand(ctx, "ZRANGE %s 0 -1 WITHSCORES", e->key);
        else
                redisAppendCommand(ctx, "HGETALL %s", e->key);
        b->st->commands++;
        return 1;
}

static int store_reply(entry_t *e, redisReply *r, int pass, char *errstr,
                       size_t errstr_size)
{
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "Redis read of a %s key: %s",
                         e->type == ENTRY_ZSET ? "sorted set" : "hash",
                         r->str);
                return -1;
        }
        if (pass == 0 || r->type != REDIS_REPLY_ARRAY)
                return 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                redisReply *a = r->element[i], *v = r->element[i + 1];

                if (e->type == ENTRY_ZSET)
                        add_pair(e, a->str, a->len, NULL, 0,
                                 strtoll(v->str, NULL, 10));
                else
                        add_pair(e, a->str, a->len, v->str, v->len, 0);
        }
        return 0;
}

int hearth_batch_load(hearth_batch_t *b, char *errstr, size_t errstr_size)
{
        redisContext *ctx = b->st->ctx;
        int rc = 0;

        for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < b->n_entries; i++)
                        append_entry_command(b, &b->entries[i], pass);
        b->st->round_trips++;
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < b->n_entries; i++) {
                        entry_t *e = &b->entries[i];
                        redisReply *r;

                        if ((pass == 0 && !e->watched) ||
                            (pass == 1 && e->type == ENTRY_WATCH))
                                continue;
                        if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
                                snprintf(errstr, errstr_size, "Redis read "
                                         "failed: %s", ctx->errstr);
                                return -1;
                        }
                        if (rc == 0)
                                rc = store_reply(e, r, pass, errstr,
                                                 errstr_size);
                        freeReplyObject(r);
                }
        }
        return rc;
}

/* Queues one command; arguments are copied. */
static void queue_command(hearth_batch_t *b, int argc, const char **argv,
                          const size_t *lens)
{
        command_t *c;

        if (b->n_cmds == b->cap_cmds) {
                b->cap_cmds = b->cap_cmds ? b->cap_cmds * 2 : 256;
                b->cmds = realloc(b->cmds, b->cap_cmds * sizeof(*b->cmds));
        }
        c = &b->cmds[b->n_cmds++];
        c->argc = argc;
        c->argv = malloc((size_t)argc * sizeof(*c->argv));
        c->lens = malloc((size_t)argc * sizeof(*c->lens));
        for (int i = 0; i < argc; i++) {
                size_t len = lens ? lens[i] : strlen(argv[i]);

                c->argv[i] = malloc(len + 1);
                memcpy(c->argv[i], argv[i], len);
                c->argv[i][len] = '\0';
                c->lens[i] = len;
        }
}

static void want_ttl(entry_t *e, int64_t ttl_ms)
{
        if (ttl_ms > e->ttl_ms)
                e->ttl_ms = ttl_ms;
}

static entry_t *loaded(hearth_batch_t *b, const char *key, entry_type_t type)
{
        entry_t *e = lookup(b, key, 0, type);

        /* Declaring before use is the contract: a miss is a model bug. */
        if (!e || e->type != type) {
                hearth_error(COMPONENT, "key used without declaration: %s",
                             key);
                abort();
        }
        return e;
}

bool hearth_zset_contains(hearth_batch_t *b, const char *key,
                          const char *member)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);

        for (size_t i = 0; i < e->n_pairs; i++)
                if (strcmp(e->pairs[i].name, member) == 0)
                        return true;
        return false;
}

bool hearth_zset_add_nx(hearth_batch_t *b, const char *key,
                        const char *member, int64_t score, int64_t ttl_ms)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        char text[32];
        const char *argv[5] = {"ZADD", key, "NX", text, member};

        if (hearth_zset_contains(b, key, member))
                return false;
        add_pair(e, member, strlen(member), NULL, 0, score);
        snprintf(text, sizeof(text), "%" PRId64, score);
        queue_command(b, 5, argv, NULL);
        want_ttl(e, ttl_ms);
        return true;
}

static int by_score(const void *a, const void *b)
{
        const pair_t *x = *(pair_t *const *)a, *y = *(pair_t *const *)b;

        if (x->score != y->score)
                return x->score < y->score ? -1 : 1;
        return strcmp(x->name, y->name);
}

size_t hearth_zset_range(hearth_batch_t *b, const char *key, int64_t lo,
                         int64_t hi,
                         void (*fn)(void *ctx, const char *member,
                                    int64_t score),
                         void *ctx)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        pair_t *stack[64];
        pair_t **hits = e->n_pairs <= 64 ? stack
                                         : malloc(e->n_pairs * sizeof(*hits));
        size_t n = 0;

        for (size_t i = 0; i < e->n_pairs; i++)
                if (e->pairs[i].score > lo && e->pairs[i].score <= hi)
                        hits[n++] = &e->pairs[i];
        if (fn) {
                qsort(hits, n, sizeof(*hits), by_score);
                for (size_t i = 0; i < n; i++)
                        fn(ctx, hits[i]->name, hits[i]->score);
        }
        if (hits != stack)
                free(hits);
        return n;
}

void hearth_zset_trim(hearth_batch_t *b, const char *key, int64_t max)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        char text[32];
        const char *argv[4] = {"ZREMRANGEBYSCORE", key, "-inf", text};
        size_t kept = 0;

        for (size_t i = 0; i < e->n_pairs; i++) {
                if (e->pairs[i].score <= max) {
                        free(e->pairs[i].name);
                        continue;
                }
                e->pairs[kept++] = e->pairs[i];
        }
        if (kept == e->n_pairs)
                return;
        e->n_pairs = kept;
        snprintf(text, sizeof(text), "%" PRId64, max);
        queue_command(b, 4, argv, NULL);
}

const char *hearth_hash_get(hearth_batch_t *b, const char *key,
                            const char *field)
{
        entry_t *e = loaded(b, key, ENTRY_HASH);

        for (size_t i = 0; i < e->n_pairs; i++)
                if (strcmp(e->pairs[i].name, field) == 0)
                        return e->pairs[i].value;
        return NULL;
}

void hearth_hash_set(hearth_batch_t *b, const char *key, const char *field,
                     const char *value, int64_t ttl_ms)
{
        entry_t *e = loaded(b, key, ENTRY_HASH);
        const char *argv[4] = {"HSET", key, field, value};
        size_t i;

        for (i = 0; i < e->n_pairs; i++)
                if (strcmp(e->pairs[i].name, field) == 0)
                        break;
        if (i < e->n_pairs) {
                free(e->pairs[i].value);
                e->pairs[i].value = strdup(value);
        } else {
                add_pair(e, field, strlen(field), value, strlen(value), 0);
        }
        queue_command(b, 4, argv, NULL);
        want_ttl(e, ttl_ms);
}

void hearth_batch_rpush(hearth_batch_t *b, const char *key, const void *value,
                        size_t len, int64_t ttl_ms)
{
        entry_t *e = lookup(b, key, 1, ENTRY_WATCH);
        const char *argv[3] = {"RPUSH", key, value};
        size_t lens[3] = {5, strlen(key), len};

        queue_command(b, 3, argv, lens);
        want_ttl(e, ttl_ms);
}

static int check_exec(redisReply *r, char *errstr, size_t errstr_size)
{
        if (r->type == REDIS_REPLY_NIL)
                return 1;
        if (r->type != REDIS_REPLY_ARRAY) {
                snprintf(errstr, errstr_size, "Redis EXEC: %s",
                         r->type == REDIS_REPLY_ERROR ? r->str
                                                      : "unexpected reply");
                return -1;
        }
        for (size_t i = 0; i < r->elements; i++) {
                if (r->element[i]->type == REDIS_REPLY_ERROR) {
                        snprintf(errstr, errstr_size, "Redis command %zu in "
                                 "the batch transaction: %s", i + 1,
                                 r->element[i]->str);
                        return -1;
                }
        }
        return 0;
}

int hearth_batch_commit(hearth_batch_t *b, char *errstr, size_t errstr_size)
{
        redisContext *ctx = b->st->ctx;
        size_t sent = 2;
        redisReply *r = NULL;
        int rc = 0;

        redisAppendCommand(ctx, "MULTI");
        for (size_t i = 0; i < b->n_cmds; i++)
                redisAppendCommandArgv(ctx, b->cmds[i].argc,
                                       (const char **)b->cmds[i].argv,
                                       b->cmds[i].lens);
        sent += b->n_cmds;
        for (size_t i = 0; i < b->n_entries; i++) {
                if (b->entries[i].ttl_ms <= 0)
                        continue;
                redisAppendCommand(ctx, "PEXPIRE %s %lld", b->entries[i].key,
                                   (long long)b->entries[i].ttl_ms);
                sent++;
        }
        redisAppendCommand(ctx, "EXEC");
        b->st->commands += sent;
        b->st->round_trips++;

        /* Replies: +OK for MULTI, +QUEUED per command, then EXEC's array. */
        for (size_t i = 0; i < sent; i++) {
                if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
                        snprintf(errstr, errstr_size, "Redis transaction "
                                 "failed: %s", ctx->errstr);
                        return -1;
                }
                if (i + 1 < sent) {
                        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
                                snprintf(errstr, errstr_size, "Redis "
                                         "rejected a batch command: %s",
                                         r->str);
                                rc = -1;
                        }
                        freeReplyObject(r);
                }
        }
        if (rc == 0)
                rc = check_exec(r, errstr, errstr_size);
        freeReplyObject(r);
        return rc;
}
