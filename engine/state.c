/*
 * Redis state through hiredis: batch cache, pipelined loads, one
 * MULTI/EXEC per batch.
 *
 * A batch handles tens of thousands of keys, members and commands. The
 * cache keeps them in one arena that is reset per batch, and hiredis
 * builds the replies in that arena too. Commands are written as Redis
 * protocol (RESP) text here instead of being formatted one by one through
 * hiredis.
 */
#include "engine/state.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdalign.h>
#include <stddef.h>
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

/*
 * What the load reads of a key: nothing (a key only watched or written),
 * the whole sorted set, the whole hash, or the length of a list, which
 * checks its type.
 */
typedef enum entry_type {
        ENTRY_NONE,
        ENTRY_ZSET,
        ENTRY_HASH,
        ENTRY_LIST
} entry_type_t;

typedef struct pair {
        const char *name;       /* zset member or hash field, in the arena */
        const char *value;      /* hash value; NULL for zset */
        int64_t score;
        size_t name_len;
} pair_t;

typedef struct entry {
        const char *key;        /* in the arena */
        size_t key_len;
        uint64_t hash;
        entry_type_t type;
        pair_t *pairs;          /* in the arena */
        size_t n_pairs, cap_pairs;
        int64_t ttl_ms;         /* largest TTL asked for in this batch */
        bool watched;
        bool fetched;           /* read (or watched) by an earlier load */
} entry_t;

/* Redis protocol (RESP) text of commands to send. */
typedef struct resp_buf {
        char *data;
        size_t len, cap;
} resp_buf_t;

/*
 * The last queued write, kept open so that the next write with the same
 * command, key and option adds its arguments to it (ZADD, HSET and RPUSH
 * take several of them) instead of becoming a command of its own.
 */
typedef struct open_command {
        const char *name;       /* NULL when no command is open */
        const char *option;     /* "NX" or NULL */
        size_t entry;           /* index of the key's entry */
        size_t n_args;
        resp_buf_t args;        /* RESP bulk strings of the arguments */
} open_command_t;

/* A hash table slot: the entry's index + 1 (0 if empty) and hash bits. */
typedef struct slot {
        uint32_t hash;
        uint32_t index;
} slot_t;

struct hearth_batch {
        hearth_state_t *st;
        hearth_arena_t *arena;  /* keys, members, values and replies */
        entry_t *entries;
        size_t n_entries, cap_entries;
        slot_t *slots;          /* open addressing over entries */
        size_t n_slots;
        size_t last;            /* index + 1 of the entry found last */
        resp_buf_t first;       /* writes that go ahead of cmds */
        size_t n_first;
        resp_buf_t cmds;        /* queued writes, sent inside MULTI/EXEC */
        size_t n_cmds;
        open_command_t open;
        resp_buf_t out;         /* a pipeline being built */
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

/* ---- arena ---- */

#define ARENA_ALIGN 16
/* An arena that grew past this after a batch gives the memory back. */
#define ARENA_KEEP_MAX ((size_t)64 << 20)

typedef struct arena_block {
        struct arena_block *next;
        size_t size, used;
        alignas(ARENA_ALIGN) unsigned char data[];
} arena_block_t;

struct hearth_arena {
        arena_block_t *head;    /* the block allocations come from */
        size_t block_size;      /* size of the first block */
        size_t total;           /* bytes in all blocks */
};

static void *checked_malloc(size_t size)
{
        void *p = malloc(size);

        if (!p) {
                hearth_error(COMPONENT, "out of memory allocating %zu bytes",
                             size);
                abort();
        }
        return p;
}

static void *checked_realloc(void *old, size_t size)
{
        void *p = realloc(old, size);

        if (!p) {
                hearth_error(COMPONENT, "out of memory allocating %zu bytes",
                             size);
                abort();
        }
        return p;
}

static void arena_add_block(hearth_arena_t *a, size_t size)
{
        arena_block_t *blk = checked_malloc(sizeof(*blk) + size);

        blk->next = a->head;
        blk->size = size;
        blk->used = 0;
        a->head = blk;
        a->total += size;
}

hearth_arena_t *hearth_arena_new(size_t block_size)
{
        hearth_arena_t *a = checked_malloc(sizeof(*a));

        a->head = NULL;
        a->total = 0;
        a->block_size = block_size < 4096 ? 4096 : block_size;
        arena_add_block(a, a->block_size);
        return a;
}

void *hearth_arena_alloc(hearth_arena_t *a, size_t size)
{
        arena_block_t *blk = a->head;
        void *p;

        size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
        if (blk->size - blk->used < size) {
                /* Doubling keeps the number of blocks per batch small. */
                size_t grow = a->total > size ? a->total : size;

                arena_add_block(a, grow);
                blk = a->head;
        }
        p = blk->data + blk->used;
        blk->used += size;
        return p;
}

char *hearth_arena_strndup(hearth_arena_t *a, const char *s, size_t len)
{
        char *p = hearth_arena_alloc(a, len + 1);

        memcpy(p, s, len);
        p[len] = '\0';
        return p;
}

static void arena_free_blocks(hearth_arena_t *a)
{
        while (a->head) {
                arena_block_t *next = a->head->next;

                free(a->head);
                a->head = next;
        }
        a->total = 0;
}

void hearth_arena_reset(hearth_arena_t *a)
{
        size_t total = a->total;

        if (!a->head->next) {
                a->head->used = 0;
                return;
        }
        /* Several blocks: replace them by one that holds a whole batch. */
        arena_free_blocks(a);
        arena_add_block(a, total > ARENA_KEEP_MAX ? a->block_size : total);
}

void hearth_arena_free(hearth_arena_t *a)
{
        if (!a)
                return;
        arena_free_blocks(a);
        free(a);
}

/* ---- RESP encoding ---- */

static void buf_grow(resp_buf_t *b, size_t extra)
{
        b->cap = b->cap ? b->cap : 4096;
        while (b->len + extra > b->cap)
                b->cap *= 2;
        b->data = checked_realloc(b->data, b->cap);
}

/* Inline: a batch writes millions of short pieces. */
static inline void buf_put(resp_buf_t *b, const void *p, size_t n)
{
        if (n == 0)
                return;
        if (b->len + n > b->cap)
                buf_grow(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

/* Writes "<mark><n>\r\n", the header of an array or a bulk string. */
static void buf_put_count(resp_buf_t *b, char mark, size_t n)
{
        char tmp[24];
        size_t i = sizeof(tmp);

        tmp[--i] = '\n';
        tmp[--i] = '\r';
        do {
                tmp[--i] = (char)('0' + n % 10);
                n /= 10;
        } while (n);
        tmp[--i] = mark;
        buf_put(b, tmp + i, sizeof(tmp) - i);
}

static void buf_put_bulk(resp_buf_t *b, const void *p, size_t n)
{
        buf_put_count(b, '$', n);
        buf_put(b, p, n);
        buf_put(b, "\r\n", 2);
}

static void buf_put_str(resp_buf_t *b, const char *s)
{
        buf_put_bulk(b, s, strlen(s));
}

static void buf_put_int(resp_buf_t *b, int64_t v)
{
        char tmp[24];
        uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
        size_t i = sizeof(tmp);

        do {
                tmp[--i] = (char)('0' + u % 10);
                u /= 10;
        } while (u);
        if (v < 0)
                tmp[--i] = '-';
        buf_put_bulk(b, tmp + i, sizeof(tmp) - i);
}

/*
 * Parses the decimal integer at the start of s, as strtoll does for the
 * scores Redis returns: a member's integer score is sent as its digits.
 */
static int64_t parse_int(const char *s)
{
        bool negative = *s == '-';
        uint64_t v = 0;

        if (negative || *s == '+')
                s++;
        for (; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint64_t)(*s - '0');
        return negative ? -(int64_t)v : (int64_t)v;
}

/* ---- replies in the arena ---- */

/*
 * While a batch reads its replies, hiredis builds them in the batch arena
 * through these functions instead of allocating every element: a sorted
 * set of thousands of members is one reply of thousands of strings. The
 * replies live until hearth_batch_reset() and must never reach
 * freeReplyObject().
 */
static redisReply *arena_reply(const redisReadTask *task, int type)
{
        redisReply *r = hearth_arena_alloc(task->privdata, sizeof(*r));

        memset(r, 0, sizeof(*r));
        r->type = type;
        if (task->parent) {
                redisReply *parent = task->parent->obj;

                parent->element[task->idx] = r;
        }
        return r;
}

static void *arena_string(const redisReadTask *task, char *str, size_t len)
{
        redisReply *r = arena_reply(task, task->type);

        r->str = hearth_arena_strndup(task->privdata, str, len);
        r->len = len;
        return r;
}

static void *arena_array(const redisReadTask *task, int elements)
{
        redisReply *r = arena_reply(task, REDIS_REPLY_ARRAY);
        size_t size = (size_t)(elements > 0 ? elements : 0) *
                      sizeof(*r->element);

        if (size > 0) {
                r->element = hearth_arena_alloc(task->privdata, size);
                memset(r->element, 0, size);
        }
        r->elements = (size_t)(elements > 0 ? elements : 0);
        return r;
}

static void *arena_integer(const redisReadTask *task, long long value)
{
        redisReply *r = arena_reply(task, REDIS_REPLY_INTEGER);

        r->integer = value;
        return r;
}

static void *arena_nil(const redisReadTask *task)
{
        return arena_reply(task, REDIS_REPLY_NIL);
}

static void arena_free_reply(void *reply)
{
        (void)reply;    /* freed with the arena */
}

static redisReplyObjectFunctions arena_reply_functions = {
        .createString = arena_string,
        .createArray = arena_array,
        .createInteger = arena_integer,
        .createNil = arena_nil,
        .freeObject = arena_free_reply,
};

typedef struct reply_mode {
        redisReplyObjectFunctions *fn;
        void *privdata;
} reply_mode_t;

static reply_mode_t replies_to_arena(hearth_batch_t *b)
{
        redisReader *reader = b->st->ctx->reader;
        reply_mode_t saved = {reader->fn, reader->privdata};

        reader->fn = &arena_reply_functions;
        reader->privdata = b->arena;
        return saved;
}

static void replies_to_heap(hearth_batch_t *b, reply_mode_t saved)
{
        redisReader *reader = b->st->ctx->reader;

        /* A reply cut off by an error is in the arena: never free it. */
        reader->reply = NULL;
        reader->fn = saved.fn;
        reader->privdata = saved.privdata;
}

/* Appends a whole pipeline of RESP commands to the connection's buffer. */
static int send_pipeline(hearth_batch_t *b, const resp_buf_t *buf,
                         char *errstr, size_t errstr_size)
{
        redisContext *ctx = b->st->ctx;

        if (redisAppendFormattedCommand(ctx, buf->data, buf->len) !=
            REDIS_OK) {
                snprintf(errstr, errstr_size, "Redis pipeline not queued: "
                         "%s", ctx->errstr);
                return -1;
        }
        b->st->round_trips++;
        return 0;
}

/* ---- batch cache ---- */

hearth_batch_t *hearth_batch_new(hearth_state_t *st)
{
        hearth_batch_t *b = calloc(1, sizeof(*b));

        b->st = st;
        b->arena = hearth_arena_new((size_t)1 << 20);
        b->n_slots = 1024;
        b->slots = calloc(b->n_slots, sizeof(*b->slots));
        return b;
}

void hearth_batch_reset(hearth_batch_t *b)
{
        b->n_entries = 0;
        b->last = 0;
        memset(b->slots, 0, b->n_slots * sizeof(*b->slots));
        b->first.len = 0;
        b->n_first = 0;
        b->cmds.len = 0;
        b->n_cmds = 0;
        b->open.name = NULL;
        b->open.args.len = 0;
        b->open.n_args = 0;
        hearth_arena_reset(b->arena);
}

void hearth_batch_free(hearth_batch_t *b)
{
        if (!b)
                return;
        free(b->entries);
        free(b->slots);
        free(b->first.data);
        free(b->cmds.data);
        free(b->open.args.data);
        free(b->out.data);
        hearth_arena_free(b->arena);
        free(b);
}

/* Copies at most *room bytes of s to *p, as snprintf truncates. */
static void put_truncated(char **p, size_t *room, const char *s, size_t n)
{
        if (n > *room)
                n = *room;
        memcpy(*p, s, n);
        *p += n;
        *room -= n;
}

/* Formats without snprintf: models build several keys per event. */
char *hearth_batch_key(const hearth_batch_t *b, int32_t partition,
                       const char *suffix, char *out, size_t size)
{
        const char *prefix = b->st->cfg->key_prefix;
        char digits[16];
        size_t n = sizeof(digits);
        uint32_t v = partition < 0 ? -(uint32_t)partition
                                   : (uint32_t)partition;
        size_t room;
        char *p = out;

        if (size == 0)
                return out;
        room = size - 1;
        digits[--n] = '}';
        do {
                digits[--n] = (char)('0' + v % 10);
                v /= 10;
        } while (v);
        if (partition < 0)
                digits[--n] = '-';
        put_truncated(&p, &room, prefix, strlen(prefix));
        put_truncated(&p, &room, hearth_config_persons_stage(b->st->cfg) ? "{r" : "{p",
                      2);
        put_truncated(&p, &room, digits + n, sizeof(digits) - n);
        put_truncated(&p, &room, ":", 1);
        put_truncated(&p, &room, suffix, strlen(suffix));
        *p = '\0';
        return out;
}

/* Hashes 8 bytes at a time; keys are 50 to 200 bytes long. */
static uint64_t hash_bytes(const char *s, size_t n)
{
        uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
        uint64_t w;

        for (; n >= 8; s += 8, n -= 8) {
                memcpy(&w, s, 8);
                h = (h ^ w) * 0xff51afd7ed558ccdULL;
                h ^= h >> 32;
        }
        w = 0;
        memcpy(&w, s, n);
        h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
        return h ^ (h >> 29);
}

static void grow_slots(hearth_batch_t *b)
{
        free(b->slots);
        b->n_slots *= 2;
        b->slots = calloc(b->n_slots, sizeof(*b->slots));
        for (size_t i = 0; i < b->n_entries; i++) {
                size_t s = b->entries[i].hash & (b->n_slots - 1);

                while (b->slots[s].index)
                        s = (s + 1) & (b->n_slots - 1);
                b->slots[s].hash = (uint32_t)(b->entries[i].hash >> 32);
                b->slots[s].index = (uint32_t)i + 1;
        }
}

static entry_t *add_entry(hearth_batch_t *b, const char *key, size_t len,
                          uint64_t hash, entry_type_t type, size_t slot)
{
        entry_t *e;

        if (b->n_entries == b->cap_entries) {
                b->cap_entries = b->cap_entries ? b->cap_entries * 2 : 256;
                b->entries = checked_realloc(b->entries, b->cap_entries *
                                                         sizeof(*b->entries));
        }
        e = &b->entries[b->n_entries++];
        memset(e, 0, sizeof(*e));
        e->key = hearth_arena_strndup(b->arena, key, len);
        e->key_len = len;
        e->hash = hash;
        e->type = type;
        b->slots[slot].hash = (uint32_t)(hash >> 32);
        b->slots[slot].index = (uint32_t)b->n_entries;
        b->last = b->n_entries;
        if (b->n_entries * 2 > b->n_slots)
                grow_slots(b);
        return &b->entries[b->n_entries - 1];
}

static bool entry_is(const entry_t *e, const char *key, size_t len)
{
        return e->key_len == len && memcmp(e->key, key, len) == 0;
}

/*
 * Returns the entry for key, creating it with type when create is set.
 * Models ask for one key several times in a row, so the entry found last
 * is tried before the table.
 */
static entry_t *lookup(hearth_batch_t *b, const char *key, int create,
                       entry_type_t type)
{
        size_t len = strlen(key);
        uint64_t hash;
        size_t s;

        if (b->last && entry_is(&b->entries[b->last - 1], key, len))
                return &b->entries[b->last - 1];
        hash = hash_bytes(key, len);
        s = hash & (b->n_slots - 1);
        while (b->slots[s].index) {
                entry_t *e = &b->entries[b->slots[s].index - 1];

                if (b->slots[s].hash == (uint32_t)(hash >> 32) &&
                    entry_is(e, key, len)) {
                        b->last = b->slots[s].index;
                        return e;
                }
                s = (s + 1) & (b->n_slots - 1);
        }
        if (!create)
                return NULL;
        return add_entry(b, key, len, hash, type, s);
}

void hearth_batch_need_zset(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_ZSET)->type = ENTRY_ZSET;
}

void hearth_batch_need_hash(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_HASH)->type = ENTRY_HASH;
}

void hearth_batch_need_list(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_LIST)->type = ENTRY_LIST;
}

void hearth_batch_watch(hearth_batch_t *b, const char *key)
{
        lookup(b, key, 1, ENTRY_NONE)->watched = true;
}

static pair_t *add_pair(hearth_batch_t *b, entry_t *e)
{
        if (e->n_pairs == e->cap_pairs) {
                size_t cap = e->cap_pairs ? e->cap_pairs * 2 : 8;
                pair_t *pairs = hearth_arena_alloc(b->arena,
                                                   cap * sizeof(*pairs));

                if (e->n_pairs)
                        memcpy(pairs, e->pairs, e->n_pairs * sizeof(*pairs));
                e->pairs = pairs;
                e->cap_pairs = cap;
        }
        return &e->pairs[e->n_pairs++];
}

static const char *const read_commands[] = {
        [ENTRY_ZSET] = "ZRANGE",
        [ENTRY_HASH] = "HGETALL",
        [ENTRY_LIST] = "LLEN",
};

/* Writes the read of entry e: the whole sorted set or hash, a list's length. */
static void put_read(resp_buf_t *buf, const entry_t *e)
{
        buf_put_count(buf, '*', e->type == ENTRY_ZSET ? 5 : 2);
        buf_put_str(buf, read_commands[e->type]);
        buf_put_bulk(buf, e->key, e->key_len);
        if (e->type != ENTRY_ZSET)
                return;
        buf_put_bulk(buf, "0", 1);
        buf_put_bulk(buf, "-1", 2);
        buf_put_str(buf, "WITHSCORES");
}

/*
 * Builds the load pipeline: one WATCH of every watched key, which has to
 * precede the reads it guards, then one read per declared key. Returns the
 * number of replies to expect.
 */
static size_t build_load(hearth_batch_t *b)
{
        resp_buf_t *buf = &b->out;
        size_t n_watched = 0, n_replies = 0;

        buf->len = 0;
        for (size_t i = 0; i < b->n_entries; i++)
                n_watched += b->entries[i].watched && !b->entries[i].fetched;
        if (n_watched > 0) {
                buf_put_count(buf, '*', n_watched + 1);
                buf_put_str(buf, "WATCH");
                for (size_t i = 0; i < b->n_entries; i++)
                        if (b->entries[i].watched && !b->entries[i].fetched)
                                buf_put_bulk(buf, b->entries[i].key,
                                             b->entries[i].key_len);
                n_replies++;
        }
        for (size_t i = 0; i < b->n_entries; i++) {
                if (b->entries[i].type == ENTRY_NONE ||
                    b->entries[i].fetched)
                        continue;
                put_read(buf, &b->entries[i]);
                n_replies++;
        }
        b->st->commands += n_replies;
        return n_replies;
}

static const char *type_name(entry_type_t type)
{
        switch (type) {
        case ENTRY_ZSET: return "sorted set";
        case ENTRY_HASH: return "hash";
        case ENTRY_LIST: return "list";
        default: return "watched";
        }
}

/* Keeps the members or fields of a read reply; strings stay in the arena. */
static void store_pairs(hearth_batch_t *b, entry_t *e, const redisReply *r)
{
        size_t n = r->elements / 2;

        e->pairs = hearth_arena_alloc(b->arena, (n + 4) * sizeof(*e->pairs));
        e->cap_pairs = n + 4;
        e->n_pairs = 0;
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
                const redisReply *a = r->element[i], *v = r->element[i + 1];
                pair_t *p = add_pair(b, e);

                p->name = a->str;
                p->name_len = a->len;
                p->value = e->type == ENTRY_ZSET ? NULL : v->str;
                p->score = e->type == ENTRY_ZSET ? parse_int(v->str) : 0;
        }
}

static int store_reply(hearth_batch_t *b, entry_t *e, const redisReply *r,
                       char *errstr, size_t errstr_size)
{
        if (r->type == REDIS_REPLY_ERROR) {
                snprintf(errstr, errstr_size, "Redis read of a %s key: %s",
                         type_name(e ? e->type : ENTRY_NONE), r->str);
                return -1;
        }
        if (e && r->type == REDIS_REPLY_ARRAY)
                store_pairs(b, e, r);
        return 0;
}

/* Reads n replies; the first error is kept in errstr. */
static int read_load_replies(hearth_batch_t *b, size_t n_replies,
                             char *errstr, size_t errstr_size)
{
        redisContext *ctx = b->st->ctx;
        size_t next = 0;
        bool watch = false;
        int rc = 0;

        for (size_t i = 0; i < b->n_entries; i++)
                watch |= b->entries[i].watched && !b->entries[i].fetched;
        for (size_t k = 0; k < n_replies; k++) {
                entry_t *e = NULL;
                redisReply *r;

                if (!(watch && k == 0)) {
                        while (b->entries[next].type == ENTRY_NONE ||
                               b->entries[next].fetched)
                                next++;
                        e = &b->entries[next++];
                }
                if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
                        snprintf(errstr, errstr_size, "Redis read failed: "
                                 "%s", ctx->errstr);
                        return -1;
                }
                if (rc == 0)
                        rc = store_reply(b, e, r, errstr, errstr_size);
        }
        return rc;
}

int hearth_batch_load(hearth_batch_t *b, char *errstr, size_t errstr_size)
{
        size_t n_replies = build_load(b);
        reply_mode_t saved;
        int rc;

        if (n_replies == 0)
                return 0;
        if (send_pipeline(b, &b->out, errstr, errstr_size) != 0)
                return -1;
        saved = replies_to_arena(b);
        rc = read_load_replies(b, n_replies, errstr, errstr_size);
        replies_to_heap(b, saved);
        for (size_t i = 0; i < b->n_entries; i++)
                b->entries[i].fetched = true;
        return rc;
}

/* ---- queued writes ---- */

/* Moves the open command, if any, to the queued commands. */
static void close_command(hearth_batch_t *b)
{
        open_command_t *o = &b->open;
        const entry_t *e;

        if (!o->name)
                return;
        e = &b->entries[o->entry];
        buf_put_count(&b->cmds, '*', 2 + (o->option != NULL) + o->n_args);
        buf_put_str(&b->cmds, o->name);
        buf_put_bulk(&b->cmds, e->key, e->key_len);
        if (o->option)
                buf_put_str(&b->cmds, o->option);
        buf_put(&b->cmds, o->args.data, o->args.len);
        b->n_cmds++;
        o->name = NULL;
        o->args.len = 0;
        o->n_args = 0;
}

static bool same_option(const char *a, const char *b)
{
        return a == b || (a && b && strcmp(a, b) == 0);
}

/*
 * Returns the argument buffer of a "name key [option] ..." command: the
 * open one when it matches, else a new one. name and option must outlive
 * the batch (string literals).
 */
static resp_buf_t *open_command(hearth_batch_t *b, const char *name,
                                const entry_t *e, const char *option)
{
        open_command_t *o = &b->open;
        size_t index = (size_t)(e - b->entries);

        if (o->name && (strcmp(o->name, name) != 0 || o->entry != index ||
                        !same_option(o->option, option)))
                close_command(b);
        if (!o->name) {
                o->name = name;
                o->entry = index;
                o->option = option;
        }
        return &o->args;
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

static bool pairs_contain(const entry_t *e, const char *name, size_t len)
{
        for (size_t i = 0; i < e->n_pairs; i++)
                if (e->pairs[i].name_len == len &&
                    memcmp(e->pairs[i].name, name, len) == 0)
                        return true;
        return false;
}

bool hearth_zset_contains(hearth_batch_t *b, const char *key,
                          const char *member)
{
        return pairs_contain(loaded(b, key, ENTRY_ZSET), member,
                             strlen(member));
}

bool hearth_zset_score(hearth_batch_t *b, const char *key,
                       const char *member, int64_t *score)
{
        const entry_t *e = loaded(b, key, ENTRY_ZSET);
        size_t len = strlen(member);

        for (size_t i = 0; i < e->n_pairs; i++) {
                if (e->pairs[i].name_len == len &&
                    memcmp(e->pairs[i].name, member, len) == 0) {
                        *score = e->pairs[i].score;
                        return true;
                }
        }
        return false;
}

bool hearth_zset_add_nx(hearth_batch_t *b, const char *key,
                        const char *member, int64_t score, int64_t ttl_ms)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        size_t len = strlen(member);
        resp_buf_t *args;
        pair_t *p;

        if (pairs_contain(e, member, len))
                return false;
        p = add_pair(b, e);
        p->name = hearth_arena_strndup(b->arena, member, len);
        p->name_len = len;
        p->value = NULL;
        p->score = score;
        args = open_command(b, "ZADD", e, "NX");
        buf_put_int(args, score);
        buf_put_bulk(args, member, len);
        b->open.n_args += 2;
        want_ttl(e, ttl_ms);
        return true;
}

void hearth_zset_remove(hearth_batch_t *b, const char *key,
                        const char *member)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        size_t len = strlen(member), kept = 0;
        resp_buf_t *args;

        for (size_t i = 0; i < e->n_pairs; i++)
                if (e->pairs[i].name_len != len ||
                    memcmp(e->pairs[i].name, member, len) != 0)
                        e->pairs[kept++] = e->pairs[i];
        e->n_pairs = kept;
        args = open_command(b, "ZREM", e, NULL);
        buf_put_bulk(args, member, len);
        b->open.n_args++;
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
        const pair_t *stack[64], **hits = stack;
        size_t n = 0;

        for (size_t i = 0; i < e->n_pairs; i++)
                n += e->pairs[i].score > lo && e->pairs[i].score <= hi;
        if (!fn || n == 0)
                return n;
        /* fn may use the batch, so the list is not shared between calls. */
        if (n > 64)
                hits = hearth_arena_alloc(b->arena, n * sizeof(*hits));
        n = 0;
        for (size_t i = 0; i < e->n_pairs; i++)
                if (e->pairs[i].score > lo && e->pairs[i].score <= hi)
                        hits[n++] = &e->pairs[i];
        qsort(hits, n, sizeof(*hits), by_score);
        for (size_t i = 0; i < n; i++)
                fn(ctx, hits[i]->name, hits[i]->score);
        return n;
}

void hearth_zset_trim(hearth_batch_t *b, const char *key, int64_t max)
{
        entry_t *e = loaded(b, key, ENTRY_ZSET);
        size_t kept = 0;

        for (size_t i = 0; i < e->n_pairs; i++)
                if (e->pairs[i].score > max)
                        e->pairs[kept++] = e->pairs[i];
        if (kept == e->n_pairs)
                return;
        e->n_pairs = kept;
        /* A range is no list of arguments: it never joins another one. */
        close_command(b);
        buf_put_count(&b->cmds, '*', 4);
        buf_put_str(&b->cmds, "ZREMRANGEBYSCORE");
        buf_put_bulk(&b->cmds, e->key, e->key_len);
        buf_put_str(&b->cmds, "-inf");
        buf_put_int(&b->cmds, max);
        b->n_cmds++;
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

bool hearth_hash_field_at(hearth_batch_t *b, const char *key, size_t i,
                          const char **field, const char **value)
{
        entry_t *e = loaded(b, key, ENTRY_HASH);

        if (i >= e->n_pairs)
                return false;
        *field = e->pairs[i].name;
        *value = e->pairs[i].value;
        return true;
}

void hearth_hash_set(hearth_batch_t *b, const char *key, const char *field,
                     const char *value, int64_t ttl_ms)
{
        entry_t *e = loaded(b, key, ENTRY_HASH);
        size_t field_len = strlen(field), value_len = strlen(value);
        const char *copy = hearth_arena_strndup(b->arena, value, value_len);
        resp_buf_t *args;
        size_t i;

        for (i = 0; i < e->n_pairs; i++)
                if (strcmp(e->pairs[i].name, field) == 0)
                        break;
        if (i == e->n_pairs) {
                pair_t *p = add_pair(b, e);

                p->name = hearth_arena_strndup(b->arena, field, field_len);
                p->name_len = field_len;
                p->score = 0;
                i = e->n_pairs - 1;
        }
        /* The old value stays valid: a caller may still hold it. */
        e->pairs[i].value = copy;
        args = open_command(b, "HSET", e, NULL);
        buf_put_bulk(args, field, field_len);
        buf_put_bulk(args, value, value_len);
        b->open.n_args += 2;
        want_ttl(e, ttl_ms);
}

void hearth_batch_rpush(hearth_batch_t *b, const char *key, const void *value,
                        size_t len, int64_t ttl_ms)
{
        entry_t *e = lookup(b, key, 1, ENTRY_NONE);
        resp_buf_t *args = open_command(b, "RPUSH", e, NULL);

        buf_put_bulk(args, value, len);
        b->open.n_args++;
        want_ttl(e, ttl_ms);
}

void hearth_batch_del_first(hearth_batch_t *b, const char *key)
{
        buf_put_count(&b->first, '*', 2);
        buf_put_str(&b->first, "DEL");
        buf_put_str(&b->first, key);
        b->n_first++;
}

/* ---- commit ---- */

/*
 * Builds MULTI, the DELs that go first, the queued writes, one PEXPIRE per
 * written key, and EXEC.
 */
static size_t build_commit(hearth_batch_t *b)
{
        resp_buf_t *buf = &b->out;
        size_t sent = 2 + b->n_first + b->n_cmds;

        buf->len = 0;
        buf_put_count(buf, '*', 1);
        buf_put_str(buf, "MULTI");
        buf_put(buf, b->first.data, b->first.len);
        buf_put(buf, b->cmds.data, b->cmds.len);
        for (size_t i = 0; i < b->n_entries; i++) {
                const entry_t *e = &b->entries[i];

                if (e->ttl_ms <= 0)
                        continue;
                buf_put_count(buf, '*', 3);
                buf_put_str(buf, "PEXPIRE");
                buf_put_bulk(buf, e->key, e->key_len);
                buf_put_int(buf, e->ttl_ms);
                sent++;
        }
        buf_put_count(buf, '*', 1);
        buf_put_str(buf, "EXEC");
        b->st->commands += sent;
        return sent;
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

/* Replies: +OK for MULTI, +QUEUED per command, then EXEC's array. */
static int read_commit_replies(hearth_batch_t *b, size_t sent, char *errstr,
                               size_t errstr_size)
{
        redisContext *ctx = b->st->ctx;
        redisReply *r = NULL;
        int rc = 0;

        for (size_t i = 0; i < sent; i++) {
                if (redisGetReply(ctx, (void **)&r) != REDIS_OK) {
                        snprintf(errstr, errstr_size, "Redis transaction "
                                 "failed: %s", ctx->errstr);
                        return -1;
                }
                if (i + 1 < sent && r->type == REDIS_REPLY_ERROR && rc == 0) {
                        snprintf(errstr, errstr_size, "Redis rejected a "
                                 "batch command: %s", r->str);
                        rc = -1;
                }
        }
        if (rc == 0)
                rc = check_exec(r, errstr, errstr_size);
        return rc;
}

int hearth_batch_commit(hearth_batch_t *b, char *errstr, size_t errstr_size)
{
        size_t sent;
        reply_mode_t saved;
        int rc;

        close_command(b);
        sent = build_commit(b);
        if (send_pipeline(b, &b->out, errstr, errstr_size) != 0)
                return -1;
        saved = replies_to_arena(b);
        rc = read_commit_replies(b, sent, errstr, errstr_size);
        replies_to_heap(b, saved);
        return rc;
}
