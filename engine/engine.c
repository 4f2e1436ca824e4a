/*
 * Batch processing: decode, validate, plan, load, apply models, build
 * alerts, and commit state, outbox and offsets in one transaction.
 */
#include "engine/engine.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/common/log.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"
#include "hearth/v1/tag.pb-c.h"
#include "models/model.h"

#define COMPONENT "engine"
#define MAX_EVENT_TIME_MS INT64_C(4102444800000)  /* 2100-01-01T00:00:00Z */
#define MAX_ID_BYTES 128
#define MAX_PARTIES 64
/* Region codes become Redis keys, alert fields and, for the city, part of
 * a Kafka topic name, whose maximum length is 249 characters. */
#define MAX_CODE_BYTES 64

typedef struct model_instance {
        const hearth_model_ops_t *ops;
        void *self;
} model_instance_t;

/* Persons stage: how far one input partition of the incidents stage had
 * got, as its copies and heartbeats tell. */
typedef struct source_time {
        int32_t source;
        int64_t time;
} source_time_t;

typedef struct partition_progress {
        int64_t stored_offset;  /* next offset per Redis; -1 when unknown */
        int64_t max_event_time; /* INT64_MIN when none yet */
        int64_t next_offset;    /* after this batch */
        bool present;
        char *key;              /* progress hash; NULL until first used */
        char *outbox_key;
        hearth_out_list_t out;  /* this batch's messages of the partition */
        /* Persons stage: per source partition, whose least time is the
         * partition's largest event time, so its watermark. */
        source_time_t *sources;
        size_t n_sources, cap_sources;
        bool sources_changed;
        /* Incidents stage: per person partition, the time this partition
         * had reached when it last sent a copy or heartbeat there, or
         * INT64_MIN when it never sent a copy there. Kept in the progress
         * hash as fields "to:<person partition>". */
        int64_t *sent_times;
        bool sent_times_changed;
} partition_progress_t;

/*
 * An alert or a label change that a model emitted, kept until the end of
 * the batch: fusion and labels read keys that only the emitted subjects
 * name, loaded in a second round trip.
 */
typedef struct pending {
        bool is_tag;
        hearth_candidate_t c;           /* alert; incident_ids malloc'd */
        char fusion_subject[HEARTH_SUBJECT_MAX + 8];  /* "" for none */
        /* Trigger, copied: a timer's trigger lives on the model's stack. */
        int32_t partition;
        int64_t offset;
        int64_t event_time_ms;
        int64_t ingest_time_ms;
        char *incident_id;
        char *province_code;
        char *city_code;
        char *district_code;
        /* Label change. */
        char *person_key;
        char *label;
        int64_t expires_at_ms;
} pending_t;

struct hearth_engine {
        const hearth_config_t *cfg;
        hearth_state_t *state;
        hearth_batch_t *batch;
        model_instance_t models[16];
        size_t n_models;
        hearth_engine_stats_t stats;
        partition_progress_t *parts;    /* indexed by partition */
        /* Current batch, for the emit callback. */
        hearth_event_t *events;
        const char **reasons;   /* per input message: NULL or why rejected */
        size_t cap_events;
        /* Decoded events of the current batch, freed all at once. */
        hearth_arena_t *decoded;
        ProtobufCAllocator decode_allocator;
        unsigned char *envelope;        /* outbox entry being encoded */
        size_t envelope_cap;
        pending_t *pending;
        size_t n_pending, cap_pending;
        int64_t *advance;               /* per partition: ms to add to its
                                         * largest event time, or 0 */
        int32_t person_partitions;      /* 0: copies go by key */
        char priority_topics[5][256];   /* by priority 1 to 4 */
        char region_city[64];           /* city of region_topic */
        char region_topic[256];
};

void hearth_out_list_clear(hearth_out_list_t *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->msgs[i].topic);
                free(l->msgs[i].key);
                free(l->msgs[i].payload);
        }
        l->n = 0;
}

static hearth_out_msg_t *out_push(hearth_out_list_t *l)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 64;
                l->msgs = realloc(l->msgs, l->cap * sizeof(*l->msgs));
        }
        return &l->msgs[l->n++];
}

static void out_add(hearth_out_list_t *l, const char *topic, const char *key,
                    const void *payload, size_t len, int32_t partition)
{
        hearth_out_msg_t *m = out_push(l);

        m->topic = strdup(topic);
        m->key = strdup(key ? key : "");
        m->payload = malloc(len ? len : 1);
        memcpy(m->payload, payload, len);
        m->len = len;
        m->source_partition = partition;
        m->partition = -1;
        m->event_time_ms = 0;
}

/* Moves the messages of from to the end of to, leaving from empty. */
static void out_move(hearth_out_list_t *to, hearth_out_list_t *from)
{
        for (size_t i = 0; i < from->n; i++)
                *out_push(to) = from->msgs[i];
        from->n = 0;
}

static void *decode_alloc(void *arena, size_t size)
{
        return hearth_arena_alloc(arena, size);
}

static void decode_free(void *arena, void *pointer)
{
        (void)arena;    /* released by hearth_arena_reset() */
        (void)pointer;
}

static void cache_topics(hearth_engine_t *e)
{
        char value[16];

        for (int p = 1; p <= 4; p++) {
                snprintf(value, sizeof(value), "%d", p);
                hearth_topic_from_template(e->cfg->priority_topic_template,
                                           "{priority}", value,
                                           e->priority_topics[p],
                                           sizeof(e->priority_topics[p]));
        }
}

/* Returns a partition's key with a short suffix, malloc'd. */
static char *make_key(hearth_engine_t *e, int32_t partition,
                      const char *suffix)
{
        /* The prefix has no length limit: size the key to it. */
        size_t size = strlen(e->cfg->key_prefix) + strlen(suffix) + 16;

        return hearth_batch_key(e->batch, partition, suffix, malloc(size),
                                size);
}

/* Makes the progress and outbox keys of a partition on its first batch. */
static void partition_keys(hearth_engine_t *e, partition_progress_t *p,
                           int32_t partition)
{
        if (p->key)
                return;
        p->key = make_key(e, partition, "progress");
        p->outbox_key = make_key(e, partition, "outbox");
}

static void destroy_models(model_instance_t *models, size_t n)
{
        for (size_t i = 0; i < n; i++)
                models[i].ops->destroy(models[i].self);
}

/* Creates every enabled model; -1 and errstr when one is misconfigured. */
static int create_models(const hearth_config_t *cfg, model_instance_t *out,
                         size_t *n, char *errstr, size_t errstr_size)
{
        hearth_stage_t stage = hearth_config_persons_stage(cfg)
                                       ? HEARTH_STAGE_PERSONS
                                       : HEARTH_STAGE_INCIDENTS;

        *n = 0;
        for (size_t i = 0; hearth_models[i]; i++) {
                void *self;

                if (hearth_models[i]->stage != stage)
                        continue;
                self = hearth_models[i]->create(cfg, errstr, errstr_size);

                if (!self && *errstr) {
                        destroy_models(out, *n);
                        *n = 0;
                        return -1;
                }
                if (!self)
                        continue;
                out[*n].ops = hearth_models[i];
                out[(*n)++].self = self;
        }
        return 0;
}

static void log_models(const hearth_engine_t *e)
{
        for (size_t i = 0; i < e->n_models; i++)
                hearth_info(COMPONENT, "model %s enabled",
                            e->models[i].ops->name);
}

hearth_engine_t *hearth_engine_new(const hearth_config_t *cfg,
                                   hearth_state_t *state, char *errstr,
                                   size_t errstr_size)
{
        hearth_engine_t *e = calloc(1, sizeof(*e));

        e->cfg = cfg;
        e->state = state;
        e->batch = hearth_batch_new(state);
        e->parts = calloc(HEARTH_MAX_PARTITIONS, sizeof(*e->parts));
        e->advance = calloc(HEARTH_MAX_PARTITIONS, sizeof(*e->advance));
        e->decoded = hearth_arena_new((size_t)4 << 20);
        e->decode_allocator = (ProtobufCAllocator){
                .alloc = decode_alloc,
                .free = decode_free,
                .allocator_data = e->decoded,
        };
        cache_topics(e);
        if (create_models(cfg, e->models, &e->n_models, errstr,
                          errstr_size) != 0) {
                hearth_engine_free(e);
                return NULL;
        }
        log_models(e);
        return e;
}

int hearth_engine_reload(hearth_engine_t *e, const hearth_config_t *cfg,
                         char *errstr, size_t errstr_size)
{
        model_instance_t fresh[16];
        size_t n;

        if (create_models(cfg, fresh, &n, errstr, errstr_size) != 0)
                return -1;
        destroy_models(e->models, e->n_models);
        memcpy(e->models, fresh, n * sizeof(fresh[0]));
        e->n_models = n;
        e->cfg = cfg;
        log_models(e);
        return 0;
}

void hearth_engine_free(hearth_engine_t *e)
{
        if (!e)
                return;
        for (size_t i = 0; i < e->n_models; i++)
                e->models[i].ops->destroy(e->models[i].self);
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                hearth_out_list_clear(&e->parts[i].out);
                free(e->parts[i].out.msgs);
                free(e->parts[i].key);
                free(e->parts[i].outbox_key);
                free(e->parts[i].sources);
                free(e->parts[i].sent_times);
        }
        free(e->parts);
        free(e->advance);
        free(e->pending);
        free(e->events);
        free(e->reasons);
        free(e->envelope);
        hearth_arena_free(e->decoded);
        hearth_batch_free(e->batch);
        free(e);
}

const hearth_engine_stats_t *hearth_engine_stats(const hearth_engine_t *e)
{
        return &e->stats;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
        sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * Returns SHA-256, fetched from the provider once: EVP_sha256() makes
 * every EVP_DigestInit_ex() fetch it again in OpenSSL 3, which cost more
 * than hashing an alert's few bytes.
 */
static const EVP_MD *sha256(void)
{
        pthread_once(&sha256_once, fetch_sha256);
        return sha256_md ? sha256_md : EVP_sha256();
}

void hearth_alert_id(const char *model, const char *subject, int priority,
                     const char *incident_id, char *out)
{
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int digest_len = 0;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        char prio[16];

        /* NUL separators keep ("ab", "c") and ("a", "bc") apart. */
        snprintf(prio, sizeof(prio), "%d", priority);
        if (!ctx)
                abort();
        EVP_DigestInit_ex(ctx, sha256(), NULL);
        EVP_DigestUpdate(ctx, model, strlen(model) + 1);
        EVP_DigestUpdate(ctx, subject, strlen(subject) + 1);
        EVP_DigestUpdate(ctx, prio, strlen(prio) + 1);
        EVP_DigestUpdate(ctx, incident_id, strlen(incident_id));
        EVP_DigestFinal_ex(ctx, digest, &digest_len);
        EVP_MD_CTX_free(ctx);
        for (int i = 0; i < 16; i++) {
                out[2 * i] = "0123456789abcdef"[digest[i] >> 4];
                out[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
        }
        out[32] = '\0';
}

void hearth_topic_from_template(const char *tmpl, const char *name,
                                const char *value, char *out, size_t size)
{
        const char *at = strstr(tmpl, name);
        size_t n;

        if (!at) {
                snprintf(out, size, "%s", tmpl);
                return;
        }
        snprintf(out, size, "%.*s", (int)(at - tmpl), tmpl);
        n = strlen(out);
        /* Kafka topic names allow only [A-Za-z0-9._-]. */
        for (const char *v = value; *v && n + 1 < size; v++) {
                char c = *v;
                int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                         c == '-';

                out[n++] = ok ? c : '_';
        }
        out[n] = '\0';
        snprintf(out + n, size - n, "%s", at + strlen(name));
}

/* ---- outbox envelopes: u32 topic length, topic, u32 key length, key,
 * payload; lengths big-endian. A message for a chosen partition sets the
 * top bit of the topic length and puts the partition (u32) after it. ---- */

#define ENVELOPE_PARTITION UINT32_C(0x80000000)

static void put_u32(unsigned char *p, uint32_t v)
{
        p[0] = (unsigned char)(v >> 24);
        p[1] = (unsigned char)(v >> 16);
        p[2] = (unsigned char)(v >> 8);
        p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
}

/* Encodes m into the engine's envelope buffer, valid until the next call. */
static unsigned char *envelope_encode(hearth_engine_t *e,
                                      const hearth_out_msg_t *m, size_t *len)
{
        size_t tl = strlen(m->topic), kl = strlen(m->key);
        size_t head = m->partition >= 0 ? 4 : 0;
        unsigned char *buf;

        if (head + 8 + tl + kl + m->len > e->envelope_cap) {
                e->envelope_cap = 2 * (head + 8 + tl + kl + m->len);
                e->envelope = realloc(e->envelope, e->envelope_cap);
        }
        buf = e->envelope;
        if (head) {
                put_u32(buf, (uint32_t)tl | ENVELOPE_PARTITION);
                put_u32(buf + 4, (uint32_t)m->partition);
        } else {
                put_u32(buf, (uint32_t)tl);
        }
        memcpy(buf + head + 4, m->topic, tl);
        put_u32(buf + head + 4 + tl, (uint32_t)kl);
        memcpy(buf + head + 8 + tl, m->key, kl);
        memcpy(buf + head + 8 + tl + kl, m->payload, m->len);
        *len = head + 8 + tl + kl + m->len;
        return buf;
}

static int envelope_decode(const unsigned char *buf, size_t len,
                           int32_t partition, hearth_out_list_t *out)
{
        char topic[256], key[256];
        int32_t target = -1;
        uint32_t tl, kl;

        if (len < 4)
                return -1;
        tl = get_u32(buf);
        if (tl & ENVELOPE_PARTITION) {
                if (len < 8 || get_u32(buf + 4) > INT32_MAX)
                        return -1;
                target = (int32_t)get_u32(buf + 4);
                tl &= ~ENVELOPE_PARTITION;
                buf += 4;
                len -= 4;
        }
        if (len < 8 || tl >= sizeof(topic) || 8 + tl > len)
                return -1;
        kl = get_u32(buf + 4 + tl);
        if (kl >= sizeof(key) || 8 + tl + kl > len)
                return -1;
        memcpy(topic, buf + 4, tl);
        topic[tl] = '\0';
        memcpy(key, buf + 8 + tl, kl);
        key[kl] = '\0';
        out_add(out, topic, key, buf + 8 + tl + kl, len - 8 - tl - kl,
                partition);
        out->msgs[out->n - 1].partition = target;
        return 0;
}

/* ---- validation ---- */

/* A persons-stage message that only reports how far a source got. */
static bool is_heartbeat(const Hearth__V1__IncidentEvent *ev)
{
        return (!ev->route_key || !*ev->route_key) &&
               (!ev->incident_id || !*ev->incident_id) &&
               ev->route_source_time_ms > 0;
}

/* Returns true when the enum declares value. */
static bool enum_known(const ProtobufCEnumDescriptor *desc, int value)
{
        return protobuf_c_enum_descriptor_get_value(desc, value) != NULL;
}

static bool code_too_long(const char *code)
{
        return code && strlen(code) > MAX_CODE_BYTES;
}

/*
 * Returns true when code contains only the characters Kafka allows in a
 * topic name (letters, digits, '.', '_', '-'), because the city code
 * becomes part of the regional topic's name.
 */
static bool topic_safe(const char *code)
{
        for (const char *c = code; c && *c; c++) {
                bool alnum = (*c >= 'a' && *c <= 'z') ||
                             (*c >= 'A' && *c <= 'Z') ||
                             (*c >= '0' && *c <= '9');

                if (!alnum && *c != '.' && *c != '_' && *c != '-')
                        return false;
        }
        return true;
}

static const char *invalid_party_reason(const Hearth__V1__Party *party)
{
        if (party->person_key &&
            strlen(party->person_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        if (!enum_known(&hearth__v1__party_role__descriptor, party->role) ||
            !enum_known(&hearth__v1__age_band__descriptor, party->age_band) ||
            !enum_known(&hearth__v1__sex__descriptor, party->sex))
                return "unknown_enum_value";
        return NULL;
}

/*
 * Returns the dead-letter reason of a decoded event, or NULL when the
 * engine can process it. protobuf-c accepts any number for a proto3 enum,
 * so values outside the schema are checked here.
 */
static const char *invalid_reason(const Hearth__V1__IncidentEvent *ev,
                                  bool persons)
{
        const char *reason;

        if (persons && is_heartbeat(ev))
                return ev->route_source_time_ms > MAX_EVENT_TIME_MS ||
                                       ev->route_source_partition < -1
                               ? "invalid_heartbeat"
                               : NULL;
        /* A bogus source time would move the persons stage's watermark. */
        if (persons && (ev->route_source_time_ms < 0 ||
                        ev->route_source_time_ms > MAX_EVENT_TIME_MS ||
                        ev->route_source_partition < -1))
                return "invalid_route_source";
        if (!ev->incident_id || !*ev->incident_id)
                return "missing_incident_id";
        if (strlen(ev->incident_id) > MAX_ID_BYTES)
                return "field_too_long";
        if (ev->route_key && strlen(ev->route_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        if (ev->event_time_ms <= 0 || ev->event_time_ms > MAX_EVENT_TIME_MS)
                return "invalid_event_time";
        if (ev->n_parties > MAX_PARTIES)
                return "too_many_parties";
        if (ev->address_key && strlen(ev->address_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        if (ev->caller_key && strlen(ev->caller_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        if (code_too_long(ev->province_code) ||
            code_too_long(ev->city_code) ||
            code_too_long(ev->district_code) ||
            code_too_long(ev->station_code) || code_too_long(ev->grid_id))
                return "field_too_long";
        if (!topic_safe(ev->city_code))
                return "invalid_city_code";
        if (!enum_known(&hearth__v1__event_type__descriptor, ev->event_type) ||
            !enum_known(&hearth__v1__disposition__descriptor,
                        ev->disposition))
                return "unknown_enum_value";
        for (size_t i = 0; i < ev->n_parties; i++) {
                reason = invalid_party_reason(ev->parties[i]);
                if (reason)
                        return reason;
        }
        return NULL;
}

static void dead_letter(hearth_engine_t *e, const hearth_input_msg_t *m,
                        const char *reason)
{
        partition_progress_t *p = &e->parts[m->partition];
        json_t *doc;
        char *text;
        char key[32];

        e->stats.dead_letters++;
        hearth_warn(COMPONENT, "dead letter topic=%s partition=%d offset=%"
                    PRId64 " reason=%s", hearth_config_stage_topic(e->cfg), m->partition,
                    m->offset, reason);
        doc = json_pack("{s:s, s:s, s:i, s:I, s:I}", "reason", reason,
                        "topic", hearth_config_stage_topic(e->cfg), "partition",
                        m->partition, "offset", (json_int_t)m->offset,
                        "bytes", (json_int_t)m->len);
        text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        snprintf(key, sizeof(key), "%s", reason);
        out_add(&p->out, e->cfg->dlq_topic, key, text, strlen(text),
                m->partition);
        free(text);
}

/* ---- alerts ---- */

typedef struct emit_ctx {
        hearth_engine_t *e;
} emit_ctx_t;

/* Returns the topic of a priority, made once for the usual 1 to 4. */
static const char *priority_topic(hearth_engine_t *e, int priority,
                                  char *buf, size_t size)
{
        char value[16];

        if (priority >= 1 && priority <= 4)
                return e->priority_topics[priority];
        snprintf(value, sizeof(value), "%d", priority);
        hearth_topic_from_template(e->cfg->priority_topic_template,
                                   "{priority}", value, buf, size);
        return buf;
}

/* Returns the regional topic of a city; consecutive alerts share a city. */
static const char *region_topic(hearth_engine_t *e, const char *city)
{
        if (strcmp(e->region_city, city) != 0) {
                hearth_topic_from_template(e->cfg->region_topic_template,
                                           "{city}", city, e->region_topic,
                                           sizeof(e->region_topic));
                snprintf(e->region_city, sizeof(e->region_city), "%s", city);
        }
        return e->region_topic;
}

static char *dup_or_empty(const char *s)
{
        return strdup(s ? s : "");
}

static pending_t *pending_push(hearth_engine_t *e, const hearth_event_t *t)
{
        const Hearth__V1__IncidentEvent *ev = t->msg;
        pending_t *q;

        if (e->n_pending == e->cap_pending) {
                e->cap_pending = e->cap_pending ? 2 * e->cap_pending : 64;
                e->pending = realloc(e->pending,
                                     e->cap_pending * sizeof(*e->pending));
        }
        q = &e->pending[e->n_pending++];
        memset(q, 0, sizeof(*q));
        q->partition = t->partition;
        q->offset = t->offset;
        q->event_time_ms = ev->event_time_ms;
        q->ingest_time_ms = ev->ingest_time_ms;
        q->incident_id = dup_or_empty(ev->incident_id);
        q->province_code = dup_or_empty(ev->province_code);
        q->city_code = dup_or_empty(ev->city_code);
        q->district_code = dup_or_empty(ev->district_code);
        return q;
}

static void pending_clear(hearth_engine_t *e)
{
        for (size_t i = 0; i < e->n_pending; i++) {
                pending_t *q = &e->pending[i];

                for (size_t k = 0; k < q->c.n_incident_ids; k++)
                        free(q->c.incident_ids[k]);
                free(q->c.incident_ids);
                free(q->incident_id);
                free(q->province_code);
                free(q->city_code);
                free(q->district_code);
                free(q->person_key);
                free(q->label);
        }
        e->n_pending = 0;
}

/*
 * The household or person whose alerts fuse: a household or person
 * subject itself, the household of an incident alert's trigger, none for
 * areas and for a timer's alert without a household.
 */
static void fusion_subject(const hearth_candidate_t *c,
                           const Hearth__V1__IncidentEvent *ev, char *out,
                           size_t size)
{
        char household[HEARTH_SUBJECT_MAX];

        out[0] = '\0';
        switch (c->subject_kind) {
        case HEARTH__V1__SUBJECT_KIND__HOUSEHOLD:
                snprintf(out, size, "h:%s", c->subject_key);
                break;
        case HEARTH__V1__SUBJECT_KIND__PERSON:
                snprintf(out, size, "p:%s", c->subject_key);
                break;
        case HEARTH__V1__SUBJECT_KIND__INCIDENT:
                if (hearth_household_key(ev, household, sizeof(household)))
                        snprintf(out, size, "h:%s", household);
                break;
        default:
                break;
        }
}

/* The emit callback of the models: keeps a copy until the batch ends. */
static void collect_candidate(void *ctx, const hearth_event_t *trigger,
                              const hearth_candidate_t *c)
{
        hearth_engine_t *e = ((emit_ctx_t *)ctx)->e;
        pending_t *q = pending_push(e, trigger);

        q->c = *c;
        q->c.incident_ids = calloc(c->n_incident_ids + 1, sizeof(char *));
        for (size_t k = 0; k < c->n_incident_ids; k++)
                q->c.incident_ids[k] = strdup(c->incident_ids[k]);
        if (e->cfg->fusion_window_h > 0)
                fusion_subject(c, trigger->msg, q->fusion_subject,
                               sizeof(q->fusion_subject));
}

void hearth_emit_tag(void *emit_ctx, const hearth_event_t *trigger,
                     const char *person_key, const char *label,
                     int64_t expires_at_ms, const char *reason_code,
                     const char *reason_text)
{
        hearth_engine_t *e = ((emit_ctx_t *)emit_ctx)->e;
        pending_t *q;

        if (!person_key || !*person_key ||
            strlen(person_key) > HEARTH_SUBJECT_MAX - 8)
                return;
        q = pending_push(e, trigger);
        q->is_tag = true;
        q->person_key = strdup(person_key);
        q->label = strdup(label);
        q->expires_at_ms = expires_at_ms;
        snprintf(q->c.reason_code, sizeof(q->c.reason_code), "%s",
                 reason_code);
        snprintf(q->c.reason_text, sizeof(q->c.reason_text), "%s",
                 reason_text);
}

static void publish_alert(hearth_engine_t *e, const pending_t *q,
                          int priority, Hearth__V1__Reason **reasons,
                          size_t n_reasons)
{
        const hearth_candidate_t *c = &q->c;
        partition_progress_t *p = &e->parts[q->partition];
        Hearth__V1__Alert alert = HEARTH__V1__ALERT__INIT;
        char id[33], topic[256];
        struct timespec now;
        unsigned char *buf;
        size_t len;

        hearth_alert_id(c->model, c->subject_key, priority, q->incident_id,
                        id);
        clock_gettime(CLOCK_REALTIME, &now);
        alert.alert_id = id;
        alert.model = (char *)c->model;
        alert.priority = priority;
        alert.score = c->score;
        alert.subject_kind = c->subject_kind;
        alert.subject_key = (char *)c->subject_key;
        alert.province_code = q->province_code;
        alert.city_code = q->city_code;
        alert.district_code = q->district_code;
        alert.window_start_ms = c->window_start_ms;
        alert.window_end_ms = c->window_end_ms;
        alert.count = c->count;
        alert.incident_ids = c->incident_ids;
        alert.n_incident_ids = c->n_incident_ids;
        alert.reasons = reasons;
        alert.n_reasons = n_reasons;
        alert.rule_version = e->cfg->rule_version;
        alert.engine_version = HEARTH_ENGINE_VERSION;
        alert.event_time_ms = q->event_time_ms;
        alert.emitted_at_ms = (int64_t)now.tv_sec * 1000 +
                              now.tv_nsec / 1000000;
        alert.trigger_incident_id = q->incident_id;
        alert.trigger_ingest_time_ms = q->ingest_time_ms;

        len = hearth__v1__alert__get_packed_size(&alert);
        buf = malloc(len ? len : 1);
        hearth__v1__alert__pack(&alert, buf);
        out_add(&p->out, priority_topic(e, priority, topic, sizeof(topic)),
                id, buf, len, q->partition);
        if (*e->cfg->region_topic_template && *q->city_code)
                out_add(&p->out, region_topic(e, q->city_code), id, buf, len,
                        q->partition);
        free(buf);
        e->stats.alerts++;
        e->stats.alerts_by_priority[priority]++;
        hearth_debug(COMPONENT, "alert %s model=%s priority=P%d partition=%d "
                     "offset=%" PRId64 " incident=%s", id, c->model, priority,
                     q->partition, q->offset, q->incident_id);
}

/* ---- fusion and labels, after the models ---- */

#define MAX_FUSED 8

static char *fusion_key(hearth_engine_t *e, const pending_t *q)
{
        char suffix[HEARTH_SUBJECT_MAX + 16];

        snprintf(suffix, sizeof(suffix), "fusion:%s", q->fusion_subject);
        return make_key(e, q->partition, suffix);
}

static char *labels_key(hearth_engine_t *e, const pending_t *q)
{
        char suffix[HEARTH_SUBJECT_MAX + 16];

        snprintf(suffix, sizeof(suffix), "labels:%s", q->person_key);
        return make_key(e, q->partition, suffix);
}

/*
 * Raises the alert's priority one level when another model alerted on the
 * same household or person less than the fusion window apart in event
 * time, or alerts on the same event. The alert lists every contributing
 * reason, and its own reason is recorded for later alerts: the hash maps a
 * model name to "<event time> <reason code>\t<reason text>" of its last
 * alert on the subject.
 */
/* Adds code and text as a contributing reason, unless the list is full. */
static void add_reason(Hearth__V1__Reason **reasons,
                       Hearth__V1__Reason *others, size_t *n, char *code,
                       char *text)
{
        if (*n > MAX_FUSED)
                return;
        others[*n - 1] = (Hearth__V1__Reason)HEARTH__V1__REASON__INIT;
        others[*n - 1].code = code;
        others[*n - 1].text = text;
        reasons[*n] = &others[*n - 1];
        (*n)++;
}

static void fuse_and_publish(hearth_engine_t *e, size_t index)
{
        const pending_t *q = &e->pending[index];
        Hearth__V1__Reason own = HEARTH__V1__REASON__INIT;
        Hearth__V1__Reason others[MAX_FUSED];
        Hearth__V1__Reason *reasons[MAX_FUSED + 1] = {&own};
        char *copies[MAX_FUSED] = {0};
        size_t n = 1;
        int priority = q->c.priority;
        int64_t window = e->cfg->fusion_window_h * 3600000;
        char *key = NULL, value[HEARTH_REASON_MAX + 96];

        own.code = (char *)q->c.reason_code;
        own.text = (char *)q->c.reason_text;
        if (*q->fusion_subject) {
                key = fusion_key(e, q);
                for (size_t i = 0; hearth_models[i] && n <= MAX_FUSED; i++) {
                        const char *name = hearth_models[i]->name;
                        const char *v;
                        char *code, *text, *end;
                        int64_t t;

                        if (strcmp(name, q->c.model) == 0 ||
                            !(v = hearth_hash_get(e->batch, key, name)))
                                continue;
                        t = strtoll(v, &end, 10);
                        if (*end != ' ' || llabs(q->event_time_ms - t) >= window)
                                continue;
                        copies[n - 1] = strdup(end + 1);
                        code = copies[n - 1];
                        text = strchr(code, '\t');
                        if (text)
                                *text++ = '\0';
                        add_reason(reasons, others, &n, code,
                                   text ? text : "");
                }
                /* Alerts of other models on the same event, still to come,
                 * fuse with this one as much as earlier alerts do. */
                for (size_t j = index + 1; j < e->n_pending; j++) {
                        pending_t *o = &e->pending[j];

                        if (!o->is_tag && o->partition == q->partition &&
                            o->offset == q->offset &&
                            o->event_time_ms == q->event_time_ms &&
                            strcmp(o->c.model, q->c.model) != 0 &&
                            strcmp(o->fusion_subject, q->fusion_subject) == 0)
                                add_reason(reasons, others, &n,
                                           o->c.reason_code,
                                           o->c.reason_text);
                }
                if (n > 1 && priority > 1)
                        priority--;
                snprintf(value, sizeof(value), "%" PRId64 " %s\t%s",
                         q->event_time_ms, q->c.reason_code,
                         q->c.reason_text);
                hearth_hash_set(e->batch, key, q->c.model, value,
                                window + e->cfg->allowed_lateness_ms);
        }
        publish_alert(e, q, priority, reasons, n);
        for (size_t i = 0; i < MAX_FUSED; i++)
                free(copies[i]);
        free(key);
}

/* Stores a label change and publishes it when the label is new or
 * lasts longer than before. */
static void apply_tag(hearth_engine_t *e, const pending_t *q)
{
        Hearth__V1__Tag tag = HEARTH__V1__TAG__INIT;
        partition_progress_t *p = &e->parts[q->partition];
        char *key = labels_key(e, q), id[33], model[64], value[32];
        const char *v = hearth_hash_get(e->batch, key, q->label);
        int64_t current = v ? strtoll(v, NULL, 10) : 0;
        int64_t ttl = q->expires_at_ms - q->event_time_ms +
                      e->cfg->allowed_lateness_ms;
        unsigned char *buf;
        size_t len;

        if (q->expires_at_ms <= current || ttl <= 0) {
                free(key);
                return;
        }
        snprintf(value, sizeof(value), "%" PRId64, q->expires_at_ms);
        hearth_hash_set(e->batch, key, q->label, value, ttl);
        snprintf(model, sizeof(model), "tag.%s", q->label);
        hearth_alert_id(model, q->person_key, 0, q->incident_id, id);
        tag.tag_id = id;
        tag.person_key = q->person_key;
        tag.label = q->label;
        tag.change = current > q->event_time_ms ? HEARTH__V1__TAG_CHANGE__RENEWED
                                                : HEARTH__V1__TAG_CHANGE__ADDED;
        tag.reason_code = (char *)q->c.reason_code;
        tag.reason_text = (char *)q->c.reason_text;
        tag.expires_at_ms = q->expires_at_ms;
        tag.event_time_ms = q->event_time_ms;
        tag.incident_id = q->incident_id;
        tag.province_code = q->province_code;
        tag.city_code = q->city_code;
        tag.district_code = q->district_code;
        tag.rule_version = e->cfg->rule_version;
        tag.engine_version = HEARTH_ENGINE_VERSION;
        len = hearth__v1__tag__get_packed_size(&tag);
        buf = malloc(len ? len : 1);
        hearth__v1__tag__pack(&tag, buf);
        out_add(&p->out, e->cfg->tags_topic, q->person_key, buf, len,
                q->partition);
        free(buf);
        free(key);
}

/* Loads the fusion and label keys of the emitted subjects, then fuses and
 * publishes in emission order. */
static int resolve_pending(hearth_engine_t *e, char *errstr,
                           size_t errstr_size)
{
        for (size_t i = 0; i < e->n_pending; i++) {
                pending_t *q = &e->pending[i];
                char *key = q->is_tag            ? labels_key(e, q)
                            : *q->fusion_subject ? fusion_key(e, q)
                                                 : NULL;

                if (key)
                        hearth_batch_need_hash(e->batch, key);
                free(key);
        }
        if (e->n_pending &&
            hearth_batch_load(e->batch, errstr, errstr_size) != 0)
                return -1;
        for (size_t i = 0; i < e->n_pending; i++) {
                if (e->pending[i].is_tag)
                        apply_tag(e, &e->pending[i]);
                else
                        fuse_and_publish(e, i);
        }
        return 0;
}

/* ---- batch ---- */

/* ---- persons stage watermark: the least time of its sources ---- */

static source_time_t *source_of(partition_progress_t *p, int32_t source)
{
        for (size_t i = 0; i < p->n_sources; i++)
                if (p->sources[i].source == source)
                        return &p->sources[i];
        if (p->n_sources == p->cap_sources) {
                p->cap_sources = p->cap_sources ? 2 * p->cap_sources : 16;
                p->sources = realloc(p->sources,
                                     p->cap_sources * sizeof(*p->sources));
        }
        p->sources[p->n_sources] = (source_time_t){source, INT64_MIN};
        return &p->sources[p->n_sources++];
}

static int64_t least_source_time(const partition_progress_t *p)
{
        int64_t least = INT64_MAX;

        for (size_t i = 0; i < p->n_sources; i++)
                if (p->sources[i].time < least)
                        least = p->sources[i].time;
        return p->n_sources ? least : INT64_MIN;
}

/* Reads the "src:<partition>" fields of the progress hash. */
static void load_sources(hearth_engine_t *e, partition_progress_t *p)
{
        const char *field, *value;

        p->n_sources = 0;
        p->sources_changed = false;
        for (size_t i = 0;
             hearth_hash_field_at(e->batch, p->key, i, &field, &value); i++)
                if (strncmp(field, "src:", 4) == 0)
                        source_of(p, (int32_t)strtol(field + 4, NULL, 10))
                                ->time = strtoll(value, NULL, 10);
        if (p->n_sources)
                p->max_event_time = least_source_time(p);
}

/* Reads the "to:<person partition>" fields of the progress hash. */
static void load_sent_times(hearth_engine_t *e, partition_progress_t *p)
{
        const char *field, *value;

        for (int32_t k = 0; k < e->person_partitions; k++)
                p->sent_times[k] = INT64_MIN;
        p->sent_times_changed = false;
        for (size_t i = 0;
             hearth_hash_field_at(e->batch, p->key, i, &field, &value); i++) {
                long k;

                if (strncmp(field, "to:", 3) != 0)
                        continue;
                k = strtol(field + 3, NULL, 10);
                if (k >= 0 && k < e->person_partitions)
                        p->sent_times[k] = strtoll(value, NULL, 10);
        }
}

static void load_progress(hearth_engine_t *e, partition_progress_t *p)
{
        const char *v = hearth_hash_get(e->batch, p->key, "offset");

        p->stored_offset = v ? strtoll(v, NULL, 10) : -1;
        v = hearth_hash_get(e->batch, p->key, "max_event_time");
        p->max_event_time = v ? strtoll(v, NULL, 10) : INT64_MIN;
        if (hearth_config_persons_stage(e->cfg))
                load_sources(e, p);
        else if (p->sent_times)
                load_sent_times(e, p);
}

/*
 * Takes a persons-stage event's source time and returns whether the
 * partition's watermark moved. A copy is late when the incidents stage
 * found it late. An event without a source time did not come from the
 * incidents stage, so it counts as its own source (-1) and is late as an
 * input event of the incidents stage would be.
 */
static bool note_source(hearth_engine_t *e, hearth_event_t *ev)
{
        partition_progress_t *p = &e->parts[ev->partition];
        const Hearth__V1__IncidentEvent *msg = ev->msg;
        bool stamped = msg->route_source_time_ms > 0;
        int64_t before = p->max_event_time, t = msg->event_time_ms;
        source_time_t *src = source_of(
                p, stamped ? msg->route_source_partition : -1);
        int64_t stamp = stamped ? msg->route_source_time_ms : t;

        ev->late = stamped ? msg->route_late
                           : before != INT64_MIN &&
                                     t < before - e->cfg->allowed_lateness_ms;
        if (stamp > src->time) {
                src->time = stamp;
                p->sources_changed = true;
        }
        p->max_event_time = least_source_time(p);
        return p->max_event_time > before;
}

/* Declares a partition's progress, outbox and timer keys, once a batch. */
static void declare_partition(hearth_engine_t *e, int32_t partition)
{
        partition_progress_t *p = &e->parts[partition];

        if (p->present)
                return;
        p->present = true;
        hearth_out_list_clear(&p->out);
        partition_keys(e, p, partition);
        hearth_batch_watch(e->batch, p->key);
        hearth_batch_need_hash(e->batch, p->key);
        hearth_batch_need_list(e->batch, p->outbox_key);
        for (size_t k = 0; k < e->n_models; k++)
                if (e->models[k].ops->plan_tick)
                        e->models[k].ops->plan_tick(e->models[k].self,
                                                    e->batch, partition);
}

static void declare(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                    size_t n, size_t n_events)
{
        for (size_t i = 0; i < n; i++)
                declare_partition(e, msgs[i].partition);
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++)
                if (e->advance[i])
                        declare_partition(e, i);
        for (size_t i = 0; i < n_events; i++)
                for (size_t k = 0; k < e->n_models; k++)
                        e->models[k].ops->plan(e->models[k].self, e->batch,
                                               &e->events[i]);
}

/*
 * Copies an event to the person repartition topic once per distinct
 * suspect or victim person key, keyed by it and with route_key set.
 */
static void repartition(hearth_engine_t *e, const hearth_event_t *ev)
{
        Hearth__V1__IncidentEvent *msg = (Hearth__V1__IncidentEvent *)ev->msg;
        partition_progress_t *p = &e->parts[ev->partition];
        char *saved = msg->route_key;

        msg->route_source_partition = ev->partition;
        msg->route_source_time_ms = p->max_event_time;
        msg->route_late = ev->late;

        for (size_t i = 0; i < msg->n_parties; i++) {
                const Hearth__V1__Party *party = msg->parties[i];
                const char *key = party->person_key;
                bool seen = false;
                unsigned char *buf;
                size_t len;

                if (!key || !*key ||
                    (party->role != HEARTH__V1__PARTY_ROLE__SUSPECT &&
                     party->role != HEARTH__V1__PARTY_ROLE__VICTIM))
                        continue;
                for (size_t k = 0; k < i && !seen; k++)
                        seen = msg->parties[k]->person_key &&
                               strcmp(msg->parties[k]->person_key, key) == 0;
                if (seen)
                        continue;
                msg->route_key = (char *)key;
                len = hearth__v1__incident_event__get_packed_size(msg);
                buf = malloc(len ? len : 1);
                hearth__v1__incident_event__pack(msg, buf);
                out_add(&p->out, e->cfg->persons_topic, key, buf, len,
                        ev->partition);
                p->out.msgs[p->out.n - 1].event_time_ms = msg->event_time_ms;
                if (e->person_partitions > 0) {
                        int32_t target = hearth_person_partition(
                                key, e->person_partitions);

                        p->out.msgs[p->out.n - 1].partition = target;
                        p->sent_times[target] = p->max_event_time;
                        p->sent_times_changed = true;
                }
                free(buf);
        }
        msg->route_key = saved;
        msg->route_source_partition = 0;
        msg->route_source_time_ms = 0;
        msg->route_late = 0;
}

/*
 * Tells each person partition that got nothing from this input partition
 * for engine.person_heartbeat_ms of event time how far the partition has
 * got, so the persons stage's watermark moves on without copies.
 */
static void heartbeats(hearth_engine_t *e, int32_t partition)
{
        partition_progress_t *p = &e->parts[partition];
        Hearth__V1__IncidentEvent beat = HEARTH__V1__INCIDENT_EVENT__INIT;
        unsigned char buf[64];
        size_t len;

        if (e->person_partitions <= 0 || p->max_event_time == INT64_MIN)
                return;
        beat.route_source_partition = partition;
        beat.route_source_time_ms = p->max_event_time;
        beat.event_time_ms = p->max_event_time;
        len = hearth__v1__incident_event__pack(&beat, buf);
        for (int32_t k = 0; k < e->person_partitions; k++) {
                /* A person partition that never got a copy from here does
                 * not wait for this partition. */
                if (p->sent_times[k] == INT64_MIN ||
                    p->max_event_time - p->sent_times[k] <
                            e->cfg->person_heartbeat_ms)
                        continue;
                out_add(&p->out, e->cfg->persons_topic, "", buf, len,
                        partition);
                p->out.msgs[p->out.n - 1].partition = k;
                p->out.msgs[p->out.n - 1].event_time_ms = p->max_event_time;
                p->sent_times[k] = p->max_event_time;
                p->sent_times_changed = true;
        }
}

void hearth_engine_set_person_partitions(hearth_engine_t *e, int32_t n)
{
        e->person_partitions = n > 0 ? n : 0;
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                free(e->parts[i].sent_times);
                e->parts[i].sent_times = NULL;
                if (n <= 0)
                        continue;
                e->parts[i].sent_times = malloc((size_t)n * sizeof(int64_t));
                for (int32_t k = 0; k < n; k++)
                        e->parts[i].sent_times[k] = INT64_MIN;
        }
}

/*
 * NOTE: adding partitions to the person topic moves persons to other
 * partitions, whose state lacks their history, as for the input topic.
 */
int32_t hearth_person_partition(const char *person_key, int32_t n)
{
        uint64_t h = UINT64_C(14695981039346656037);

        for (const unsigned char *c = (const unsigned char *)person_key; *c;
             c++) {
                h ^= *c;
                h *= UINT64_C(1099511628211);
        }
        return n > 0 ? (int32_t)(h % (uint64_t)n) : 0;
}

/* Fires the timers of one partition due at its watermark. */
static void tick_partition(hearth_engine_t *e, int32_t partition)
{
        emit_ctx_t ctx = {.e = e};
        int64_t watermark = e->parts[partition].max_event_time -
                            e->cfg->allowed_lateness_ms;

        for (size_t k = 0; k < e->n_models; k++)
                if (e->models[k].ops->tick)
                        e->models[k].ops->tick(e->models[k].self, e->batch,
                                               partition, watermark,
                                               collect_candidate, &ctx);
}

/* Fires the timers of every partition of the batch at its watermark. */
static void tick_partitions(hearth_engine_t *e)
{
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                partition_progress_t *p = &e->parts[i];

                if (p->present && p->max_event_time != INT64_MIN)
                        tick_partition(e, i);
        }
}

/* Moves the largest event time of idle partitions forward, as requested. */
static void advance_partitions(hearth_engine_t *e)
{
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                partition_progress_t *p = &e->parts[i];

                if (e->advance[i] > 0 && p->present &&
                    p->max_event_time != INT64_MIN) {
                        p->max_event_time += e->advance[i];
                        /* In the persons stage every source moves on. */
                        for (size_t k = 0; k < p->n_sources; k++)
                                if (p->sources[k].time != INT64_MIN)
                                        p->sources[k].time += e->advance[i];
                        p->sources_changed |= p->n_sources > 0;
                }
                e->advance[i] = 0;
        }
}

/* Runs the models over the events not yet applied, in input order. */
static void apply_events(hearth_engine_t *e, size_t n_events)
{
        bool persons = hearth_config_persons_stage(e->cfg);
        bool copy = !persons && *e->cfg->persons_topic;

        emit_ctx_t ctx = {.e = e};

        for (size_t i = 0; i < n_events; i++) {
                hearth_event_t *ev = &e->events[i];
                partition_progress_t *p = &e->parts[ev->partition];
                int64_t t = ev->msg->event_time_ms;
                bool advanced;

                if (ev->offset < p->stored_offset) {
                        e->stats.skipped++;
                        continue;
                }
                if (persons) {
                        advanced = note_source(e, ev);
                        if (is_heartbeat(ev->msg)) {
                                if (advanced)
                                        tick_partition(e, ev->partition);
                                continue;
                        }
                } else {
                        ev->late = p->max_event_time != INT64_MIN &&
                                   t < p->max_event_time -
                                                   e->cfg->allowed_lateness_ms;
                        advanced = t > p->max_event_time;
                        if (advanced)
                                p->max_event_time = t;
                }
                e->stats.events++;
                e->stats.late += ev->late;
                e->stats.domestic += ev->msg->is_domestic;
                for (size_t k = 0; k < e->n_models; k++)
                        e->models[k].ops->apply(e->models[k].self, e->batch,
                                                ev, collect_candidate, &ctx);
                if (copy && ev->msg->n_parties)
                        repartition(e, ev);
                /*
                 * Timers fire as soon as the watermark passes them, so a
                 * later event of the same batch cannot cancel them, and
                 * the outcome does not depend on the batch sizes.
                 */
                if (advanced)
                        tick_partition(e, ev->partition);
        }
}

static void queue_progress(hearth_engine_t *e)
{
        int64_t ttl = e->cfg->outbox_ttl_s * 1000;
        char value[32];

        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                partition_progress_t *p = &e->parts[i];

                if (!p->present)
                        continue;
                /* A fully redelivered batch must not move the offset back. */
                if (p->next_offset < p->stored_offset)
                        p->next_offset = p->stored_offset;
                snprintf(value, sizeof(value), "%" PRId64, p->next_offset);
                hearth_hash_set(e->batch, p->key, "offset", value, ttl);
                snprintf(value, sizeof(value), "%" PRId64, p->max_event_time);
                if (p->max_event_time != INT64_MIN)
                        hearth_hash_set(e->batch, p->key, "max_event_time",
                                        value, ttl);
                for (size_t k = 0; p->sources_changed && k < p->n_sources;
                     k++) {
                        char field[24];

                        snprintf(field, sizeof(field), "src:%d",
                                 p->sources[k].source);
                        snprintf(value, sizeof(value), "%" PRId64,
                                 p->sources[k].time);
                        hearth_hash_set(e->batch, p->key, field, value, ttl);
                }
                p->sources_changed = false;
                for (int32_t k = 0; p->sent_times_changed &&
                                    k < e->person_partitions; k++) {
                        char field[24];

                        if (p->sent_times[k] == INT64_MIN)
                                continue;
                        snprintf(field, sizeof(field), "to:%d", k);
                        snprintf(value, sizeof(value), "%" PRId64,
                                 p->sent_times[k]);
                        hearth_hash_set(e->batch, p->key, field, value, ttl);
                }
                p->sent_times_changed = false;
                for (size_t k = 0; k < p->out.n; k++) {
                        size_t len;
                        unsigned char *env = envelope_encode(
                                e, &p->out.msgs[k], &len);

                        hearth_batch_rpush(e->batch, p->outbox_key, env, len,
                                           ttl);
                }
        }
}

/* Decodes the messages; returns how many became events. */
static size_t decode_all(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                         size_t n)
{
        size_t n_events = 0;

        if (n > e->cap_events) {
                e->cap_events = n;
                e->events = realloc(e->events, n * sizeof(*e->events));
                e->reasons = realloc(e->reasons, n * sizeof(*e->reasons));
        }
        for (size_t i = 0; i < n; i++) {
                const hearth_input_msg_t *m = &msgs[i];
                Hearth__V1__IncidentEvent *ev = NULL;

                e->parts[m->partition].next_offset = m->offset + 1;
                e->events[n_events] = (hearth_event_t){.partition = m->partition,
                                                      .offset = m->offset};
                e->reasons[i] = "message_too_large";
                if (m->len > (size_t)e->cfg->max_message_bytes)
                        continue;
                ev = hearth__v1__incident_event__unpack(
                        &e->decode_allocator, m->len, m->payload);
                e->reasons[i] = ev ? invalid_reason(
                                             ev, hearth_config_persons_stage(
                                                         e->cfg))
                                   : "invalid_protobuf";
                if (e->reasons[i])
                        continue;
                e->events[n_events++].msg = ev;
        }
        return n_events;
}

/* Dead letters are decided after the stored offsets are known, so a
 * redelivered bad message is not dead-lettered twice. */
static void dead_letters(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                         size_t n)
{
        for (size_t i = 0; i < n; i++) {
                const hearth_input_msg_t *m = &msgs[i];

                if (e->reasons[i] &&
                    m->offset >= e->parts[m->partition].stored_offset)
                        dead_letter(e, m, e->reasons[i]);
        }
}

static int by_event_time(const void *a, const void *b)
{
        const hearth_out_msg_t *x = a, *y = b;

        if (x->event_time_ms != y->event_time_ms)
                return x->event_time_ms < y->event_time_ms ? -1 : 1;
        /* Ties keep their order: source_partition is the position here. */
        return (x->source_partition > y->source_partition) -
               (x->source_partition < y->source_partition);
}

/*
 * Orders the batch's person-topic copies by event time across input
 * partitions, ahead of which the other messages keep their order. The
 * batch lists each input partition's messages together, so without this
 * the persons stage would see one district's weeks, then another's, and
 * take most events for late.
 */
static void sort_copies(hearth_out_list_t *out, size_t from)
{
        size_t n = out->n - from;
        int32_t *partitions;

        if (n < 2)
                return;
        partitions = malloc(n * sizeof(*partitions));
        for (size_t i = 0; i < n; i++) {
                partitions[i] = out->msgs[from + i].source_partition;
                out->msgs[from + i].source_partition = (int32_t)i;
        }
        qsort(out->msgs + from, n, sizeof(*out->msgs), by_event_time);
        for (size_t i = 0; i < n; i++) {
                hearth_out_msg_t *m = &out->msgs[from + i];

                m->source_partition = partitions[m->source_partition];
        }
        free(partitions);
}

static void finish_batch(hearth_engine_t *e, hearth_out_list_t *out,
                         int applied)
{
        size_t first = out ? out->n : 0;

        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                partition_progress_t *p = &e->parts[i];

                if (!p->present)
                        continue;
                if (applied)
                        out_move(out, &p->out);
                hearth_out_list_clear(&p->out);
                p->present = false;
        }
        if (applied && !hearth_config_persons_stage(e->cfg))
                sort_copies(out, first);
        pending_clear(e);
        memset(e->advance, 0, HEARTH_MAX_PARTITIONS * sizeof(*e->advance));
        hearth_batch_reset(e->batch);
        hearth_arena_reset(e->decoded);
}

static int check_partitions(const hearth_input_msg_t *msgs, size_t n,
                            char *errstr, size_t errstr_size)
{
        for (size_t i = 0; i < n; i++) {
                if (msgs[i].partition < 0 ||
                    msgs[i].partition >= HEARTH_MAX_PARTITIONS) {
                        snprintf(errstr, errstr_size, "partition %d is "
                                 "outside 0..%d", msgs[i].partition,
                                 HEARTH_MAX_PARTITIONS - 1);
                        return -1;
                }
        }
        return 0;
}

int hearth_engine_prepare(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                          size_t n, char *errstr, size_t errstr_size)
{
        size_t n_events;

        if (check_partitions(msgs, n, errstr, errstr_size) != 0)
                return -1;
        n_events = decode_all(e, msgs, n);
        declare(e, msgs, n, n_events);
        if (hearth_batch_load(e->batch, errstr, errstr_size) != 0) {
                finish_batch(e, NULL, 0);
                return -1;
        }
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++)
                if (e->parts[i].present)
                        load_progress(e, &e->parts[i]);
        dead_letters(e, msgs, n);
        apply_events(e, n_events);
        advance_partitions(e);
        if (!hearth_config_persons_stage(e->cfg))
                for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++)
                        if (e->parts[i].present)
                                heartbeats(e, i);
        tick_partitions(e);
        if (resolve_pending(e, errstr, errstr_size) != 0) {
                finish_batch(e, NULL, 0);
                return -1;
        }
        queue_progress(e);
        return 0;
}

int hearth_engine_advance(hearth_engine_t *e, const int32_t *partitions,
                          const int64_t *deltas, size_t n, char *errstr,
                          size_t errstr_size)
{
        for (size_t i = 0; i < n; i++) {
                if (partitions[i] < 0 ||
                    partitions[i] >= HEARTH_MAX_PARTITIONS) {
                        snprintf(errstr, errstr_size, "partition %d is "
                                 "outside 0..%d", partitions[i],
                                 HEARTH_MAX_PARTITIONS - 1);
                        return -1;
                }
                e->advance[partitions[i]] = deltas[i];
        }
        return 0;
}

int hearth_engine_commit(hearth_engine_t *e, const int32_t *published,
                         size_t n_published, hearth_out_list_t *out,
                         char *errstr, size_t errstr_size)
{
        int rc;

        for (size_t i = 0; i < n_published; i++) {
                char *key = make_key(e, published[i], "outbox");

                hearth_batch_del_first(e->batch, key);
                free(key);
        }
        rc = hearth_batch_commit(e->batch, errstr, errstr_size);
        if (rc == 1)
                e->stats.ownership_lost++;
        if (rc == 0)
                e->stats.batches++;
        finish_batch(e, out, rc == 0);
        return rc;
}

void hearth_engine_abort(hearth_engine_t *e)
{
        finish_batch(e, NULL, 0);
}

int hearth_engine_process(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                          size_t n, hearth_out_list_t *out, char *errstr,
                          size_t errstr_size)
{
        int rc = hearth_engine_prepare(e, msgs, n, errstr, errstr_size);

        if (rc != 0)
                return rc;
        return hearth_engine_commit(e, NULL, 0, out, errstr, errstr_size);
}

int hearth_engine_stored_offset(hearth_engine_t *e, int32_t partition,
                                int64_t *offset, char *errstr,
                                size_t errstr_size)
{
        char value[32], *key = make_key(e, partition, "progress");
        const char *argv[3] = {"HGET", key, "offset"};
        int rc = hearth_state_command(e->state, 3, argv, NULL, value,
                                      sizeof(value), errstr, errstr_size);

        free(key);
        if (rc != 0)
                return -1;
        *offset = *value ? strtoll(value, NULL, 10) : -1;
        return 0;
}

int hearth_engine_outbox_read(hearth_engine_t *e, int32_t partition,
                              hearth_out_list_t *out, char *errstr,
                              size_t errstr_size)
{
        char *key = make_key(e, partition, "outbox");
        redisContext *ctx = hearth_state_context(e->state);
        redisReply *r;
        int rc = 0;

        r = redisCommand(ctx, "LRANGE %s 0 -1", key);
        free(key);
        if (!r || r->type != REDIS_REPLY_ARRAY) {
                snprintf(errstr, errstr_size, "Redis LRANGE of the outbox "
                         "failed: %s", r ? r->str : ctx->errstr);
                rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < r->elements; i++) {
                if (envelope_decode((unsigned char *)r->element[i]->str,
                                    r->element[i]->len, partition, out) != 0)
                        hearth_error(COMPONENT, "outbox entry %zu of "
                                     "partition %d is corrupt; skipped", i,
                                     partition);
        }
        if (r)
                freeReplyObject(r);
        return rc;
}

int hearth_engine_outbox_clear(hearth_engine_t *e, const int32_t *partitions,
                               size_t n, char *errstr, size_t errstr_size)
{
        const char *argv[2] = {"DEL", NULL};
        int rc = 0;

        for (size_t i = 0; i < n && rc == 0; i++) {
                char *key = make_key(e, partitions[i], "outbox");

                argv[1] = key;
                rc = hearth_state_command(e->state, 2, argv, NULL, NULL, 0,
                                          errstr, errstr_size);
                free(key);
        }
        return rc;
}
