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

typedef struct partition_progress {
        int64_t stored_offset;  /* next offset per Redis; -1 when unknown */
        int64_t max_event_time; /* INT64_MIN when none yet */
        int64_t next_offset;    /* after this batch */
        bool present;
        char *key;              /* progress hash; NULL until first used */
        char *outbox_key;
        hearth_out_list_t out;  /* this batch's messages of the partition */
} partition_progress_t;

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
        *n = 0;
        for (size_t i = 0; hearth_models[i]; i++) {
                void *self = hearth_models[i]->create(cfg, errstr,
                                                      errstr_size);

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
        }
        free(e->parts);
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
 * payload; lengths big-endian ---- */

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
        unsigned char *buf;

        if (8 + tl + kl + m->len > e->envelope_cap) {
                e->envelope_cap = 2 * (8 + tl + kl + m->len);
                e->envelope = realloc(e->envelope, e->envelope_cap);
        }
        buf = e->envelope;
        put_u32(buf, (uint32_t)tl);
        memcpy(buf + 4, m->topic, tl);
        put_u32(buf + 4 + tl, (uint32_t)kl);
        memcpy(buf + 8 + tl, m->key, kl);
        memcpy(buf + 8 + tl + kl, m->payload, m->len);
        *len = 8 + tl + kl + m->len;
        return buf;
}

static int envelope_decode(const unsigned char *buf, size_t len,
                           int32_t partition, hearth_out_list_t *out)
{
        char topic[256], key[256];
        uint32_t tl, kl;

        if (len < 8 || (tl = get_u32(buf)) >= sizeof(topic) || 8 + tl > len)
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
        return 0;
}

/* ---- validation ---- */

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
static const char *invalid_reason(const Hearth__V1__IncidentEvent *ev)
{
        const char *reason;

        if (!ev->incident_id || !*ev->incident_id)
                return "missing_incident_id";
        if (strlen(ev->incident_id) > MAX_ID_BYTES)
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
                    PRId64 " reason=%s", e->cfg->input_topic, m->partition,
                    m->offset, reason);
        doc = json_pack("{s:s, s:s, s:i, s:I, s:I}", "reason", reason,
                        "topic", e->cfg->input_topic, "partition",
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

static void publish_candidate(void *ctx, const hearth_event_t *trigger,
                              const hearth_candidate_t *c)
{
        hearth_engine_t *e = ((emit_ctx_t *)ctx)->e;
        const Hearth__V1__IncidentEvent *ev = trigger->msg;
        partition_progress_t *p = &e->parts[trigger->partition];
        Hearth__V1__Alert alert = HEARTH__V1__ALERT__INIT;
        Hearth__V1__Reason reason = HEARTH__V1__REASON__INIT;
        Hearth__V1__Reason *reasons[1] = {&reason};
        char id[33], topic[256];
        struct timespec now;
        unsigned char *buf;
        size_t len;

        hearth_alert_id(c->model, c->subject_key, c->priority,
                        ev->incident_id, id);
        clock_gettime(CLOCK_REALTIME, &now);
        alert.alert_id = id;
        alert.model = (char *)c->model;
        alert.priority = c->priority;
        alert.score = c->score;
        alert.subject_kind = c->subject_kind;
        alert.subject_key = (char *)c->subject_key;
        alert.province_code = ev->province_code;
        alert.city_code = ev->city_code;
        alert.district_code = ev->district_code;
        alert.window_start_ms = c->window_start_ms;
        alert.window_end_ms = c->window_end_ms;
        alert.count = c->count;
        alert.incident_ids = c->incident_ids;
        alert.n_incident_ids = c->n_incident_ids;
        reason.code = (char *)c->reason_code;
        reason.text = (char *)c->reason_text;
        alert.reasons = reasons;
        alert.n_reasons = 1;
        alert.rule_version = e->cfg->rule_version;
        alert.engine_version = HEARTH_ENGINE_VERSION;
        alert.event_time_ms = ev->event_time_ms;
        alert.emitted_at_ms = (int64_t)now.tv_sec * 1000 +
                              now.tv_nsec / 1000000;
        alert.trigger_incident_id = ev->incident_id;
        alert.trigger_ingest_time_ms = ev->ingest_time_ms;

        len = hearth__v1__alert__get_packed_size(&alert);
        buf = malloc(len ? len : 1);
        hearth__v1__alert__pack(&alert, buf);
        out_add(&p->out, priority_topic(e, c->priority, topic, sizeof(topic)),
                id, buf, len, trigger->partition);
        if (*e->cfg->region_topic_template && ev->city_code &&
            *ev->city_code)
                out_add(&p->out, region_topic(e, ev->city_code), id, buf,
                        len, trigger->partition);
        free(buf);
        e->stats.alerts++;
        e->stats.alerts_by_priority[c->priority]++;
        hearth_debug(COMPONENT, "alert %s model=%s priority=P%d partition=%d "
                     "offset=%" PRId64 " incident=%s", id, c->model,
                     c->priority, trigger->partition, trigger->offset,
                     ev->incident_id);
}

/* ---- batch ---- */

static void load_progress(hearth_engine_t *e, partition_progress_t *p)
{
        const char *v = hearth_hash_get(e->batch, p->key, "offset");

        p->stored_offset = v ? strtoll(v, NULL, 10) : -1;
        v = hearth_hash_get(e->batch, p->key, "max_event_time");
        p->max_event_time = v ? strtoll(v, NULL, 10) : INT64_MIN;
}

static void declare(hearth_engine_t *e, const hearth_input_msg_t *msgs,
                    size_t n, size_t n_events)
{
        for (size_t i = 0; i < n; i++) {
                partition_progress_t *p = &e->parts[msgs[i].partition];

                if (p->present)
                        continue;
                p->present = true;
                hearth_out_list_clear(&p->out);
                partition_keys(e, p, msgs[i].partition);
                hearth_batch_watch(e->batch, p->key);
                hearth_batch_need_hash(e->batch, p->key);
                hearth_batch_need_list(e->batch, p->outbox_key);
        }
        for (size_t i = 0; i < n_events; i++)
                for (size_t k = 0; k < e->n_models; k++)
                        e->models[k].ops->plan(e->models[k].self, e->batch,
                                               &e->events[i]);
}

/* Runs the models over the events not yet applied, in input order. */
static void apply_events(hearth_engine_t *e, size_t n_events)
{
        emit_ctx_t ctx = {.e = e};

        for (size_t i = 0; i < n_events; i++) {
                hearth_event_t *ev = &e->events[i];
                partition_progress_t *p = &e->parts[ev->partition];
                int64_t t = ev->msg->event_time_ms;

                if (ev->offset < p->stored_offset) {
                        e->stats.skipped++;
                        continue;
                }
                ev->late = p->max_event_time != INT64_MIN &&
                           t < p->max_event_time - e->cfg->allowed_lateness_ms;
                if (t > p->max_event_time)
                        p->max_event_time = t;
                e->stats.events++;
                e->stats.late += ev->late;
                e->stats.domestic += ev->msg->is_domestic;
                for (size_t k = 0; k < e->n_models; k++)
                        e->models[k].ops->apply(e->models[k].self, e->batch,
                                                ev, publish_candidate, &ctx);
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
                e->reasons[i] = ev ? invalid_reason(ev) : "invalid_protobuf";
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

static void finish_batch(hearth_engine_t *e, hearth_out_list_t *out,
                         int applied)
{
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++) {
                partition_progress_t *p = &e->parts[i];

                if (!p->present)
                        continue;
                if (applied)
                        out_move(out, &p->out);
                hearth_out_list_clear(&p->out);
                p->present = false;
        }
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
        queue_progress(e);
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
