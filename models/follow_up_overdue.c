/*
 * Follow-up overdue: a police warning that no follow-up visit followed
 * (persons stage).
 *
 * Default: a WARNING_ISSUED to a suspect with no FOLLOW_UP_VISIT of that
 * person within 7 days raises P3 with code "follow_up_overdue" on the
 * person, when the watermark passes the deadline. A visit at or after the
 * warning and by its deadline cancels the timer, whichever of the two
 * arrives first. A late warning (older than the partition's watermark)
 * starts no timer. A repeated warning of the same incident is ignored.
 *
 * State, per person key P in partition N of the person topic:
 *   <prefix>{rN}:fu:timers   sorted set: timer -> deadline (ms); a timer
 *                            is person, incident, province, city and
 *                            district joined by 0x1f
 *   <prefix>{rN}:fu:P        hash: "w:<incident>" -> warning time, a
 *                            space and its timer, or "done" once
 *                            visited; "v" -> visit times, newest first,
 *                            comma-separated (at most 8)
 * The hash expires after the deadline plus the allowed lateness; timers
 * leave the sorted set when visited or fired.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define DAY_MS INT64_C(86400000)
#define KEY_MAX 512
#define MEMBER_MAX 512
#define MAX_VISITS 8

typedef struct follow_up_overdue {
        int64_t due_ms;
        int priority;
        int64_t ttl_ms;
} follow_up_overdue_t;

static void *fu_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        follow_up_overdue_t *m;

        (void)errstr_size;
        errstr[0] = '\0';
        if (!cfg->fu_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->due_ms = cfg->fu_due_d * DAY_MS;
        m->priority = (int)cfg->fu_priority;
        m->ttl_ms = m->due_ms + cfg->allowed_lateness_ms;
        return m;
}

static void fu_destroy(void *self)
{
        free(self);
}

static void timers_key(hearth_batch_t *b, int32_t partition, char *out)
{
        hearth_batch_key(b, partition, "fu:timers", out, KEY_MAX);
}

/* The person's hash key, for warnings to suspects and visits. */
static bool person_key(const hearth_event_t *e, hearth_batch_t *b, char *out)
{
        const Hearth__V1__Party *party = hearth_route_party(e->msg);
        char suffix[HEARTH_SUBJECT_MAX + 16];

        if (!party)
                return false;
        if (e->msg->event_type == HEARTH__V1__EVENT_TYPE__WARNING_ISSUED) {
                if (party->role != HEARTH__V1__PARTY_ROLE__SUSPECT)
                        return false;
        } else if (e->msg->event_type !=
                   HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT) {
                return false;
        }
        snprintf(suffix, sizeof(suffix), "fu:%s", party->person_key);
        hearth_batch_key(b, e->partition, suffix, out, KEY_MAX);
        return true;
}

static void fu_plan_tick(void *self, hearth_batch_t *b, int32_t partition)
{
        char key[KEY_MAX];

        (void)self;
        timers_key(b, partition, key);
        hearth_batch_need_zset(b, key);
}

static void fu_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        char key[KEY_MAX];

        (void)self;
        if (person_key(e, b, key))
                hearth_batch_need_hash(b, key);
}

static bool timer_of(const Hearth__V1__IncidentEvent *msg,
                     const char *incident, char *out)
{
        const char *fields[5] = {msg->route_key, incident, msg->province_code,
                                 msg->city_code, msg->district_code};

        return hearth_timer_member(out, MEMBER_MAX, fields, 5);
}

/* True when one of the person's visits falls in [w, w + due]. */
static bool visited(const follow_up_overdue_t *m, const char *visits,
                    int64_t w)
{
        for (const char *p = visits; p && *p;) {
                char *end;
                int64_t v = strtoll(p, &end, 10);

                if (v >= w && v <= w + m->due_ms)
                        return true;
                p = *end == ',' ? end + 1 : NULL;
        }
        return false;
}

static void warn(follow_up_overdue_t *m, hearth_batch_t *b, const char *key,
                 const char *timers, const hearth_event_t *e)
{
        const Hearth__V1__IncidentEvent *msg = e->msg;
        char field[HEARTH_SUBJECT_MAX + 8], value[MEMBER_MAX + 32];
        char member[MEMBER_MAX];
        int64_t w = msg->event_time_ms;

        snprintf(field, sizeof(field), "w:%s", msg->incident_id);
        if (hearth_hash_get(b, key, field) || e->late)
                return;
        if (visited(m, hearth_hash_get(b, key, "v"), w)) {
                hearth_hash_set(b, key, field, "done", m->ttl_ms);
                return;
        }
        if (!timer_of(msg, msg->incident_id, member))
                return;
        snprintf(value, sizeof(value), "%" PRId64 " %s", w, member);
        hearth_hash_set(b, key, field, value, m->ttl_ms);
        hearth_zset_add_nx(b, timers, member, w + m->due_ms, m->ttl_ms);
}

/* Records a visit, newest first, and cancels the warnings it follows up. */
static void visit(follow_up_overdue_t *m, hearth_batch_t *b, const char *key,
                  const char *timers, const hearth_event_t *e)
{
        const Hearth__V1__IncidentEvent *msg = e->msg;
        const char *old = hearth_hash_get(b, key, "v");
        int64_t v = msg->event_time_ms;
        char list[MAX_VISITS * 24];
        size_t len = (size_t)snprintf(list, sizeof(list), "%" PRId64, v);
        int kept = 1;

        for (const char *p = old; p && *p && kept < MAX_VISITS;) {
                char *end;
                int64_t t = strtoll(p, &end, 10);

                if (t != v) {
                        len += (size_t)snprintf(list + len, sizeof(list) - len,
                                                ",%" PRId64, t);
                        kept++;
                }
                p = *end == ',' ? end + 1 : NULL;
        }
        hearth_hash_set(b, key, "v", list, m->ttl_ms);
        /* Fields "w:<incident>" of pending warnings this visit follows up. */
        for (size_t i = 0;; i++) {
                const char *name, *value;
                char *end;
                int64_t w;

                if (!hearth_hash_field_at(b, key, i, &name, &value))
                        break;
                if (strncmp(name, "w:", 2) != 0 || strcmp(value, "done") == 0)
                        continue;
                w = strtoll(value, &end, 10);
                if (*end != ' ' || v < w || v > w + m->due_ms)
                        continue;
                hearth_zset_remove(b, timers, end + 1);
                hearth_hash_set(b, key, name, "done", m->ttl_ms);
        }
}

static void fu_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        follow_up_overdue_t *m = self;
        char key[KEY_MAX], timers[KEY_MAX];

        (void)emit;
        (void)emit_ctx;
        if (!person_key(e, b, key))
                return;
        timers_key(b, e->partition, timers);
        if (e->msg->event_type == HEARTH__V1__EVENT_TYPE__WARNING_ISSUED)
                warn(m, b, key, timers, e);
        else
                visit(m, b, key, timers, e);
}

typedef struct fire_ctx {
        const follow_up_overdue_t *m;
        int32_t partition;
        hearth_emit_fn emit;
        void *emit_ctx;
} fire_ctx_t;

static void fire(void *ctx, const char *member, int64_t due)
{
        fire_ctx_t *f = ctx;
        char copy[MEMBER_MAX], *fields[5] = {"", "", "", "", ""};
        hearth_candidate_t c = {.model = "follow_up_overdue"};

        snprintf(copy, sizeof(copy), "%s", member);
        hearth_timer_fields(copy, fields, 5);
        c.priority = f->m->priority;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__PERSON;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s", fields[0]);
        c.window_start_ms = due - f->m->due_ms;
        snprintf(c.reason_code, sizeof(c.reason_code), "follow_up_overdue");
        snprintf(c.reason_text, sizeof(c.reason_text),
                 "no follow-up visit within %" PRId64 " days of a police "
                 "warning", f->m->due_ms / DAY_MS);
        hearth_model_emit_timer(f->emit, f->emit_ctx, f->partition, fields[1],
                                (const char *const *)fields + 2, due, &c);
}

static void fu_tick(void *self, hearth_batch_t *b, int32_t partition,
                    int64_t watermark, hearth_emit_fn emit, void *emit_ctx)
{
        follow_up_overdue_t *m = self;
        char timers[KEY_MAX];
        fire_ctx_t f = {m, partition, emit, emit_ctx};

        timers_key(b, partition, timers);
        hearth_model_fire_timers(b, timers, watermark, fire, &f);
}

const hearth_model_ops_t hearth_model_follow_up_overdue = {
        .name = "follow_up_overdue",
        .stage = HEARTH_STAGE_PERSONS,
        .create = fu_create,
        .plan = fu_plan,
        .apply = fu_apply,
        .plan_tick = fu_plan_tick,
        .tick = fu_tick,
        .destroy = fu_destroy,
};
