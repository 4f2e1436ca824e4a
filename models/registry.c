/*
 * The list of models and helpers they share.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"
#include "models/model.h"

extern const hearth_model_ops_t hearth_model_repeat_calls;
extern const hearth_model_ops_t hearth_model_special_circumstances;
extern const hearth_model_ops_t hearth_model_repeat_dispositions;
extern const hearth_model_ops_t hearth_model_hotspot;
extern const hearth_model_ops_t hearth_model_dispatch_overdue;
extern const hearth_model_ops_t hearth_model_repeat_offender;
extern const hearth_model_ops_t hearth_model_order_violation;
extern const hearth_model_ops_t hearth_model_follow_up_overdue;
extern const hearth_model_ops_t hearth_model_labels;

const hearth_model_ops_t *const hearth_models[] = {
        &hearth_model_repeat_calls,
        &hearth_model_special_circumstances,
        &hearth_model_repeat_dispositions,
        &hearth_model_hotspot,
        &hearth_model_dispatch_overdue,
        &hearth_model_repeat_offender,
        &hearth_model_order_violation,
        &hearth_model_follow_up_overdue,
        &hearth_model_labels,
        NULL,
};

const Hearth__V1__Party *hearth_route_party(
        const Hearth__V1__IncidentEvent *msg)
{
        if (!msg->route_key || !*msg->route_key)
                return NULL;
        for (size_t i = 0; i < msg->n_parties; i++)
                if (msg->parties[i]->person_key &&
                    strcmp(msg->parties[i]->person_key, msg->route_key) == 0)
                        return msg->parties[i];
        return NULL;
}

bool hearth_timer_member(char *out, size_t size, const char *const *fields,
                         size_t n)
{
        size_t len = 0;

        for (size_t i = 0; i < n; i++) {
                size_t fl = strlen(fields[i] ? fields[i] : "");

                if (len + fl + 2 > size)
                        return false;
                if (i)
                        out[len++] = '\x1f';
                memcpy(out + len, fields[i] ? fields[i] : "", fl);
                len += fl;
        }
        out[len] = '\0';
        return true;
}

size_t hearth_timer_fields(char *member, char **fields, size_t max)
{
        size_t n = 0;
        char *p = member;

        while (n < max) {
                char *sep = strchr(p, '\x1f');

                fields[n++] = p;
                if (!sep)
                        break;
                *sep = '\0';
                p = sep + 1;
        }
        return n;
}

bool hearth_household_key(const Hearth__V1__IncidentEvent *msg, char *out,
                          size_t size)
{
        if (msg->address_key && *msg->address_key) {
                snprintf(out, size, "a:%s", msg->address_key);
                return true;
        }
        if (msg->caller_key && *msg->caller_key) {
                snprintf(out, size, "c:%s", msg->caller_key);
                return true;
        }
        for (size_t i = 0; i < msg->n_parties; i++) {
                const Hearth__V1__Party *p = msg->parties[i];

                if (p->role == HEARTH__V1__PARTY_ROLE__VICTIM &&
                    p->person_key && *p->person_key) {
                        snprintf(out, size, "v:%s", p->person_key);
                        return true;
                }
        }
        return false;
}

bool hearth_incident_key(hearth_batch_t *b, const hearth_event_t *e,
                         char *out, size_t size)
{
        char suffix[HEARTH_KEY_MAX];

        snprintf(suffix, sizeof(suffix), "inc:%s", e->msg->incident_id);
        hearth_batch_key(b, e->partition, suffix, out, size);
        /* A truncated key could name another incident's state. */
        if (strlen(out) + 1 >= size) {
                hearth_error("models", "state key of incident %s exceeds "
                             "%zu bytes; shorten redis.key_prefix",
                             e->msg->incident_id, size - 1);
                return false;
        }
        return true;
}

int64_t hearth_incident_ttl(const hearth_config_t *cfg)
{
        const int64_t hour = INT64_C(3600000), day = 24 * hour;
        int64_t ttl = 0, t;

        /* The TTLs the three models give their state; see their create(). */
        if (cfg->rc_enabled) {
                t = cfg->rc_long_window_d * day;
                if (cfg->rc_short_window_h * hour > t)
                        t = cfg->rc_short_window_h * hour;
                if (t > ttl)
                        ttl = t;
        }
        if (cfg->sc_enabled && cfg->sc_dedup_window_d * day > ttl)
                ttl = cfg->sc_dedup_window_d * day;
        if (cfg->hs_enabled) {
                t = (cfg->hs_baseline_d + cfg->hs_guard_d + 1) * day;
                if (t > ttl)
                        ttl = t;
        }
        return ttl + cfg->allowed_lateness_ms;
}

bool hearth_model_suppressed(hearth_batch_t *b, const char *key, int priority,
                             int64_t window_ms, int64_t t)
{
        return hearth_model_suppressed_in(b, key, "", priority, window_ms, t);
}

bool hearth_model_suppressed_in(hearth_batch_t *b, const char *key,
                                const char *prefix, int priority,
                                int64_t window_ms, int64_t t)
{
        char field[64];

        for (int p = 1; p <= priority; p++) {
                const char *last;
                int64_t gap;

                snprintf(field, sizeof(field), "%s%d", prefix, p);
                last = hearth_hash_get(b, key, field);
                if (!last)
                        continue;
                gap = t - strtoll(last, NULL, 10);
                if (gap < window_ms && gap > -window_ms)
                        return true;
        }
        return false;
}

void hearth_model_mark_alerted(hearth_batch_t *b, const char *key,
                               int priority, int64_t t, int64_t ttl_ms)
{
        char field[8], value[32];

        snprintf(field, sizeof(field), "%d", priority);
        snprintf(value, sizeof(value), "%" PRId64, t);
        hearth_hash_set(b, key, field, value, ttl_ms);
}

void hearth_model_fire_timers(hearth_batch_t *b, const char *key,
                              int64_t watermark,
                              void (*fn)(void *ctx, const char *member,
                                         int64_t due),
                              void *ctx)
{
        if (hearth_zset_range(b, key, INT64_MIN, watermark - 1, fn, ctx))
                hearth_zset_trim(b, key, watermark - 1);
}

void hearth_model_emit_timer(hearth_emit_fn emit, void *emit_ctx,
                             int32_t partition, const char *incident_id,
                             const char *const region[3], int64_t due,
                             hearth_candidate_t *c)
{
        Hearth__V1__IncidentEvent msg = HEARTH__V1__INCIDENT_EVENT__INIT;
        hearth_event_t trigger = {.msg = &msg, .partition = partition};
        char *ids[1] = {(char *)incident_id};

        msg.incident_id = (char *)incident_id;
        msg.province_code = (char *)region[0];
        msg.city_code = (char *)region[1];
        msg.district_code = (char *)region[2];
        msg.event_time_ms = due;
        msg.is_domestic = true;
        c->incident_ids = ids;
        c->n_incident_ids = 1;
        c->count = 1;
        c->score = 1.0;
        c->window_end_ms = due;
        emit(emit_ctx, &trigger, c);
}

typedef struct id_list {
        char **ids;
        size_t n, cap;
} id_list_t;

static void collect_id(void *ctx, const char *member, int64_t score)
{
        id_list_t *l = ctx;

        (void)score;
        if (l->n < l->cap) {
                l->ids[l->n++] = (char *)member;
                return;
        }
        /* Keep the most recent: shift out the oldest. */
        memmove(l->ids, l->ids + 1, (l->cap - 1) * sizeof(*l->ids));
        l->ids[l->cap - 1] = (char *)member;
}

size_t hearth_model_recent_ids(hearth_batch_t *b, const char *key, int64_t lo,
                               int64_t hi, char **ids, size_t max)
{
        id_list_t list = {.ids = ids, .cap = max};

        if (max == 0)
                return 0;
        hearth_zset_range(b, key, lo, hi, collect_id, &list);
        return list.n;
}
