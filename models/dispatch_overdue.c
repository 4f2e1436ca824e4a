/*
 * Dispatch overdue: a domestic call that no unit was dispatched to.
 *
 * Default: a CALL_RECEIVED with no DISPATCHED of the same incident within
 * 10 minutes raises P2 with code "dispatch_overdue" on the incident, when
 * the watermark passes the deadline. A dispatch after the deadline does not
 * cancel it, so the result does not depend on where batches end. Only calls from the connector
 * profiles listed in models.dispatch_overdue.profiles start a timer:
 * other sources (for example open-data call logs) never report dispatch.
 * A late call (older than the partition's watermark) starts no timer, as
 * its window may have closed.
 *
 * State, per input partition N:
 *   <prefix>{pN}:do:timers       sorted set: timer -> deadline (ms); a
 *                                timer is incident, province, city and
 *                                district joined by 0x1f
 *   <prefix>{pN}:do:dispatched   sorted set: incident id -> dispatch time,
 *                                so that a call that arrives after its
 *                                dispatch, or again, starts no timer
 * Both hold only the last deadline plus the allowed lateness of traffic:
 * members are removed when dispatched or fired, or trimmed by time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define MINUTE_MS INT64_C(60000)
#define KEY_MAX 256
#define MEMBER_MAX 512
#define MAX_PROFILES 16

typedef struct dispatch_overdue {
        int64_t due_ms;
        int priority;
        int64_t keep_ms;        /* how long dispatches are remembered */
        char profiles[MAX_PROFILES][64];
        size_t n_profiles;
} dispatch_overdue_t;

static void *do_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        dispatch_overdue_t *m;
        char *copy, *save = NULL, *item;

        errstr[0] = '\0';
        if (!cfg->do_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->due_ms = cfg->do_due_min * MINUTE_MS;
        m->priority = (int)cfg->do_priority;
        m->keep_ms = m->due_ms + cfg->allowed_lateness_ms;
        copy = strdup(cfg->do_profiles);
        for (item = strtok_r(copy, ", ", &save); item;
             item = strtok_r(NULL, ", ", &save)) {
                if (m->n_profiles == MAX_PROFILES || strlen(item) >= 64) {
                        snprintf(errstr, errstr_size, "option models."
                                 "dispatch_overdue.profiles: at most %d "
                                 "names of under 64 bytes", MAX_PROFILES);
                        free(copy);
                        free(m);
                        return NULL;
                }
                snprintf(m->profiles[m->n_profiles++], 64, "%s", item);
        }
        free(copy);
        return m;
}

static void do_destroy(void *self)
{
        free(self);
}

static bool tracked(const dispatch_overdue_t *m,
                    const Hearth__V1__IncidentEvent *msg)
{
        const char *profile = msg->source ? msg->source->profile : NULL;

        if (!msg->is_domestic || !profile)
                return false;
        for (size_t i = 0; i < m->n_profiles; i++)
                if (strcmp(m->profiles[i], profile) == 0)
                        return true;
        return false;
}

static void keys(hearth_batch_t *b, int32_t partition, char *timers,
                 char *dispatched)
{
        hearth_batch_key(b, partition, "do:timers", timers, KEY_MAX);
        hearth_batch_key(b, partition, "do:dispatched", dispatched, KEY_MAX);
}

static void do_plan_tick(void *self, hearth_batch_t *b, int32_t partition)
{
        char timers[KEY_MAX], dispatched[KEY_MAX];

        (void)self;
        keys(b, partition, timers, dispatched);
        hearth_batch_need_zset(b, timers);
        hearth_batch_need_zset(b, dispatched);
}

static void do_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        (void)self;
        (void)b;
        (void)e;        /* the partition's keys come with plan_tick */
}

static bool timer_of(const Hearth__V1__IncidentEvent *msg, char *out)
{
        const char *fields[4] = {msg->incident_id, msg->province_code,
                                 msg->city_code, msg->district_code};

        return hearth_timer_member(out, MEMBER_MAX, fields, 4);
}

static void do_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        dispatch_overdue_t *m = self;
        const Hearth__V1__IncidentEvent *msg = e->msg;
        char timers[KEY_MAX], dispatched[KEY_MAX], member[MEMBER_MAX];
        int64_t t = msg->event_time_ms, due, sent;

        (void)emit;
        (void)emit_ctx;
        if (!tracked(m, msg) || !timer_of(msg, member))
                return;
        keys(b, e->partition, timers, dispatched);
        if (msg->event_type == HEARTH__V1__EVENT_TYPE__DISPATCHED) {
                /* A dispatch after the deadline leaves the timer to fire,
                 * whether or not the batch reached the deadline yet. */
                if (!hearth_zset_score(b, timers, member, &due) || t <= due)
                        hearth_zset_remove(b, timers, member);
                hearth_zset_add_nx(b, dispatched, msg->incident_id, t,
                                   m->keep_ms);
                return;
        }
        if (msg->event_type != HEARTH__V1__EVENT_TYPE__CALL_RECEIVED ||
            e->late)
                return;
        /* A dispatch that arrived first, within the deadline. */
        if (hearth_zset_score(b, dispatched, msg->incident_id, &sent) &&
            sent <= t + m->due_ms)
                return;
        hearth_zset_add_nx(b, timers, member, t + m->due_ms,
                           m->keep_ms + m->due_ms);
}

typedef struct fire_ctx {
        const dispatch_overdue_t *m;
        int32_t partition;
        hearth_emit_fn emit;
        void *emit_ctx;
} fire_ctx_t;

static void fire(void *ctx, const char *member, int64_t due)
{
        fire_ctx_t *f = ctx;
        char copy[MEMBER_MAX], *fields[4] = {"", "", "", ""};
        hearth_candidate_t c = {.model = "dispatch_overdue"};

        snprintf(copy, sizeof(copy), "%s", member);
        hearth_timer_fields(copy, fields, 4);
        c.priority = f->m->priority;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__INCIDENT;
        snprintf(c.subject_key, sizeof(c.subject_key), "i:%s", fields[0]);
        c.window_start_ms = due - f->m->due_ms;
        snprintf(c.reason_code, sizeof(c.reason_code), "dispatch_overdue");
        snprintf(c.reason_text, sizeof(c.reason_text),
                 "no unit dispatched within %" PRId64 " minutes of the call",
                 f->m->due_ms / MINUTE_MS);
        hearth_model_emit_timer(f->emit, f->emit_ctx, f->partition, fields[0],
                                (const char *const *)fields + 1, due, &c);
}

static void do_tick(void *self, hearth_batch_t *b, int32_t partition,
                    int64_t watermark, hearth_emit_fn emit, void *emit_ctx)
{
        dispatch_overdue_t *m = self;
        char timers[KEY_MAX], dispatched[KEY_MAX];
        fire_ctx_t f = {m, partition, emit, emit_ctx};

        keys(b, partition, timers, dispatched);
        hearth_model_fire_timers(b, timers, watermark, fire, &f);
        hearth_zset_trim(b, dispatched, watermark - m->keep_ms);
}

const hearth_model_ops_t hearth_model_dispatch_overdue = {
        .name = "dispatch_overdue",
        .stage = HEARTH_STAGE_INCIDENTS,
        .create = do_create,
        .plan = do_plan,
        .apply = do_apply,
        .plan_tick = do_plan_tick,
        .tick = do_tick,
        .destroy = do_destroy,
};
