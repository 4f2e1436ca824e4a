/*
 * Repeat calls: domestic incidents at one household within sliding windows.
 *
 * Defaults: 2 or more incidents within 72 hours raise P3, 3 or more within
 * 30 days raise P2. A window ending at event time t covers (t - W, t]. An
 * incident counts once, at the event time of the first of its events that
 * the model receives, and only that first event can trigger an alert. When both
 * rules hold, only the more urgent alert is considered. An alert at
 * priority P is suppressed when the household already had an alert at P or
 * a more urgent priority less than P's window earlier (in event time).
 *
 * NOTE: counts are taken when each event is applied, so an event that
 * arrives after later events of its household (within the allowed
 * lateness) does not raise their counts. Alerts then depend on arrival
 * order, and a replay in event-time order can differ from such a live run.
 *
 * An incident belongs to the household of its first event, even when a
 * later event of it carries another address.
 *
 * State, per household subject S and incident I in input partition N:
 *   <prefix>{pN}:rc:S       sorted set: incident id -> event time (ms)
 *   <prefix>{pN}:rc.sup:S   hash: priority -> event time of its last alert
 *   <prefix>{pN}:inc:I      hash shared by the incident models (see
 *                           hearth_incident_key()), field "rc.h" -> the
 *                           household I was counted for
 * The first two expire after the long window plus the allowed lateness,
 * the incident key after the longest TTL of the incident models
 * (hearth_incident_ttl()), which is no shorter.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)

typedef struct rule {
        int64_t window_ms;
        int64_t threshold;
        int priority;
        const char *code;
} rule_t;

typedef struct repeat_calls {
        rule_t rules[2];        /* short, long */
        int64_t ttl_ms;
        int64_t lateness_ms;
        int64_t incident_ttl_ms;
        size_t max_ids;
} repeat_calls_t;

static void *rc_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        repeat_calls_t *m;

        (void)errstr_size;
        errstr[0] = '\0';
        if (!cfg->rc_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->rules[0] = (rule_t){cfg->rc_short_window_h * HOUR_MS,
                               cfg->rc_short_threshold,
                               (int)cfg->rc_short_priority,
                               "repeat_calls.short"};
        m->rules[1] = (rule_t){cfg->rc_long_window_d * DAY_MS,
                               cfg->rc_long_threshold,
                               (int)cfg->rc_long_priority,
                               "repeat_calls.long"};
        m->lateness_ms = cfg->allowed_lateness_ms;
        m->ttl_ms = m->rules[1].window_ms + cfg->allowed_lateness_ms;
        if (m->rules[0].window_ms > m->rules[1].window_ms)
                m->ttl_ms = m->rules[0].window_ms + cfg->allowed_lateness_ms;
        m->incident_ttl_ms = hearth_incident_ttl(cfg);
        m->max_ids = (size_t)cfg->rc_max_incident_ids;
        return m;
}

static void rc_destroy(void *self)
{
        free(self);
}

typedef struct rc_keys {
        char subject[HEARTH_SUBJECT_MAX];
        char incidents[256];    /* sorted set of the household */
        char suppression[256];
        char incident[HEARTH_KEY_MAX]; /* the incident's shared hash */
} rc_keys_t;

static bool keys_for(const hearth_event_t *e, hearth_batch_t *b,
                     rc_keys_t *k)
{
        char suffix[160];

        if (!e->msg->is_domestic ||
            !hearth_household_key(e->msg, k->subject, sizeof(k->subject)))
                return false;
        snprintf(suffix, sizeof(suffix), "rc:%s", k->subject);
        hearth_batch_key(b, e->partition, suffix, k->incidents,
                         sizeof(k->incidents));
        snprintf(suffix, sizeof(suffix), "rc.sup:%s", k->subject);
        hearth_batch_key(b, e->partition, suffix, k->suppression,
                         sizeof(k->suppression));
        return hearth_incident_key(b, e, k->incident, sizeof(k->incident));
}

static void rc_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        rc_keys_t k;

        (void)self;
        if (!keys_for(e, b, &k))
                return;
        hearth_batch_need_zset(b, k.incidents);
        hearth_batch_need_hash(b, k.suppression);
        hearth_batch_need_hash(b, k.incident);
}

/* Returns false when the incident was already counted for another
 * household; records the household on first sight. */
static bool claim_incident(repeat_calls_t *m, hearth_batch_t *b,
                           const rc_keys_t *k)
{
        const char *owner = hearth_hash_get(b, k->incident, "rc.h");

        if (owner)
                return strcmp(owner, k->subject) == 0;
        hearth_hash_set(b, k->incident, "rc.h", k->subject,
                        m->incident_ttl_ms);
        return true;
}

/* Picks the most urgent rule that holds; NULL when none does. */
static const rule_t *pick_rule(repeat_calls_t *m, hearth_batch_t *b,
                               const char *zkey, int64_t t, uint32_t *count)
{
        const rule_t *best = NULL;

        for (int i = 0; i < 2; i++) {
                const rule_t *r = &m->rules[i];
                size_t n = hearth_zset_range(b, zkey, t - r->window_ms, t,
                                             NULL, NULL);

                if ((int64_t)n < r->threshold)
                        continue;
                if (!best || r->priority < best->priority ||
                    (r->priority == best->priority &&
                     r->window_ms > best->window_ms)) {
                        best = r;
                        *count = (uint32_t)n;
                }
        }
        return best;
}

static void emit_alert(repeat_calls_t *m, hearth_batch_t *b,
                       const hearth_event_t *e, const char *zkey,
                       const rule_t *rule, uint32_t count, hearth_emit_fn emit,
                       void *emit_ctx)
{
        hearth_candidate_t c = {.model = "repeat_calls"};
        int64_t t = e->msg->event_time_ms;
        char **ids = calloc(m->max_ids, sizeof(char *));
        const char *subject = strstr(zkey, "}:rc:") + 5;

        size_t n_ids = hearth_model_recent_ids(b, zkey, t - rule->window_ms,
                                               t, ids, m->max_ids);
        c.priority = rule->priority;
        c.score = (double)count / (double)rule->threshold;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__HOUSEHOLD;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s", subject);
        c.window_start_ms = t - rule->window_ms + 1;
        c.window_end_ms = t;
        c.count = count;
        c.incident_ids = ids;
        c.n_incident_ids = n_ids;
        snprintf(c.reason_code, sizeof(c.reason_code), "%s", rule->code);
        if (rule->window_ms % DAY_MS == 0 && rule->window_ms >= 7 * DAY_MS)
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "%u domestic incidents at this household within "
                         "%" PRId64 " days", count, rule->window_ms / DAY_MS);
        else
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "%u domestic incidents at this household within "
                         "%" PRId64 " h", count, rule->window_ms / HOUR_MS);
        emit(emit_ctx, e, &c);
        free(ids);
}

static void rc_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        repeat_calls_t *m = self;
        char value[32], field[8];
        int64_t t = e->msg->event_time_ms;
        const rule_t *rule;
        uint32_t count = 0;
        rc_keys_t k;

        if (!keys_for(e, b, &k) || !claim_incident(m, b, &k))
                return;
        if (!hearth_zset_add_nx(b, k.incidents, e->msg->incident_id, t,
                                m->ttl_ms))
                return;
        hearth_zset_trim(b, k.incidents, t - m->ttl_ms);
        if (e->late)
                return;
        rule = pick_rule(m, b, k.incidents, t, &count);
        if (!rule || hearth_model_suppressed(b, k.suppression, rule->priority,
                                           rule->window_ms, t))
                return;
        snprintf(value, sizeof(value), "%" PRId64, t);
        snprintf(field, sizeof(field), "%d", rule->priority);
        hearth_hash_set(b, k.suppression, field, value, m->ttl_ms);
        emit_alert(m, b, e, k.incidents, rule, count, emit, emit_ctx);
}

const hearth_model_ops_t hearth_model_repeat_calls = {
        .name = "repeat_calls",
        .create = rc_create,
        .plan = rc_plan,
        .apply = rc_apply,
        .destroy = rc_destroy,
};
