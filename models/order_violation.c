/*
 * Order violation: a breached protection order (persons stage).
 *
 * Defaults: PROTECTION_ORDER_VIOLATED with the person as suspect raises P1
 * with code "order_violation.violated"; a domestic call (CALL_RECEIVED)
 * with the person as suspect while a protection order against them is
 * active raises P1 with code "order_violation.active_order". An order is
 * active from its PROTECTION_ORDER_ISSUED event for 180 days; a later order
 * extends it. A late event updates the order but raises no alert. An alert
 * is suppressed when the person had one at the same or a more urgent
 * priority less than 24 hours earlier, so each new incident alerts.
 * With labels on, an issued order sets the order_subject label until it
 * ends.
 *
 * A call that arrives before the order it breaks (the persons stage can get
 * a person's events out of time order) is found when the order arrives.
 *
 * State, per person key P in partition N of the person topic:
 *   <prefix>{rN}:ov:P     hash: "from" and "until" -> the active order's
 *                         start and end (ms), "oi" -> its incident id, and
 *                         priority -> event time of the last alert
 *   <prefix>{rN}:ov.c:P   sorted set: incident id -> time of each domestic
 *                         call with P as suspect, for one order's length
 * Both expire after an order's length plus the allowed lateness.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define HOUR_MS INT64_C(3600000)
#define DAY_MS (24 * HOUR_MS)
#define KEY_MAX 512

typedef struct order_violation {
        int64_t order_ms;
        int priority;
        int64_t suppress_ms;
        int64_t lateness_ms;
        bool labels;
} order_violation_t;

static void *ov_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        order_violation_t *m;

        (void)errstr_size;
        errstr[0] = '\0';
        if (!cfg->ov_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->order_ms = cfg->ov_order_d * DAY_MS;
        m->priority = (int)cfg->ov_priority;
        m->suppress_ms = cfg->ov_suppress_h * HOUR_MS;
        m->lateness_ms = cfg->allowed_lateness_ms;
        m->labels = cfg->lb_enabled;
        return m;
}

static void ov_destroy(void *self)
{
        free(self);
}

static bool relevant(const Hearth__V1__IncidentEvent *msg)
{
        switch (msg->event_type) {
        case HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_ISSUED:
        case HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_VIOLATED:
                return true;
        case HEARTH__V1__EVENT_TYPE__CALL_RECEIVED:
                return msg->is_domestic;
        default:
                return false;
        }
}

static bool key_for(const hearth_event_t *e, hearth_batch_t *b, char *key)
{
        const Hearth__V1__Party *party = hearth_route_party(e->msg);
        char suffix[HEARTH_SUBJECT_MAX + 16];

        if (!party || party->role != HEARTH__V1__PARTY_ROLE__SUSPECT ||
            !relevant(e->msg))
                return false;
        snprintf(suffix, sizeof(suffix), "ov:%s", party->person_key);
        hearth_batch_key(b, e->partition, suffix, key, KEY_MAX);
        return true;
}

/* The person's sorted set of domestic calls as suspect. */
static void calls_key(const hearth_event_t *e, hearth_batch_t *b, char *key)
{
        char suffix[HEARTH_SUBJECT_MAX + 16];

        snprintf(suffix, sizeof(suffix), "ov.c:%s", e->msg->route_key);
        hearth_batch_key(b, e->partition, suffix, key, KEY_MAX);
}

static void ov_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        char key[KEY_MAX];

        (void)self;
        if (!key_for(e, b, key))
                return;
        hearth_batch_need_hash(b, key);
        calls_key(e, b, key);
        hearth_batch_need_zset(b, key);
}

static int64_t get_time(hearth_batch_t *b, const char *key, const char *f)
{
        const char *v = hearth_hash_get(b, key, f);

        return v ? strtoll(v, NULL, 10) : INT64_MIN;
}

static void set_time(hearth_batch_t *b, const char *key, const char *f,
                     int64_t t, int64_t ttl_ms)
{
        char value[32];

        snprintf(value, sizeof(value), "%" PRId64, t);
        hearth_hash_set(b, key, f, value, ttl_ms);
}

/* Records an order; returns true when it starts or extends one. */
static bool issue(order_violation_t *m, hearth_batch_t *b, const char *key,
                  const hearth_event_t *e, void *emit_ctx)
{
        int64_t t = e->msg->event_time_ms, until = t + m->order_ms;
        int64_t from = get_time(b, key, "from");
        int64_t ttl = m->order_ms + m->lateness_ms;

        if (until <= get_time(b, key, "until"))
                return false;
        /* A new order after the old one ended starts a new period. */
        if (from == INT64_MIN || get_time(b, key, "until") < t)
                from = t;
        set_time(b, key, "from", from < t ? from : t, ttl);
        set_time(b, key, "until", until, ttl);
        hearth_hash_set(b, key, "oi", e->msg->incident_id, ttl);
        if (m->labels)
                hearth_emit_tag(emit_ctx, e, e->msg->route_key,
                                "order_subject", until, "order_issued",
                                "protection order issued against this "
                                "person");
        return true;
}

/* Alerts at trigger unless suppressed; returns true when it alerted. */
static bool alert_at(order_violation_t *m, hearth_batch_t *b, const char *key,
                     const hearth_event_t *trigger, hearth_emit_fn emit,
                     void *emit_ctx)
{
        const Hearth__V1__IncidentEvent *msg = trigger->msg;
        hearth_candidate_t c = {.model = "order_violation"};
        const char *oi = hearth_hash_get(b, key, "oi");
        int64_t t = msg->event_time_ms, ttl;
        char *ids[1];

        if (hearth_model_suppressed(b, key, m->priority, m->suppress_ms, t))
                return false;
        /* A violation reported with no known order has no "until". */
        ttl = oi ? get_time(b, key, "until") - t : 0;
        ttl = (ttl > m->suppress_ms ? ttl : m->suppress_ms) + m->lateness_ms;
        hearth_model_mark_alerted(b, key, m->priority, t, ttl);
        ids[0] = msg->incident_id;
        c.priority = m->priority;
        c.score = 1.0;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__PERSON;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s", msg->route_key);
        c.window_start_ms = oi ? get_time(b, key, "from") : t;
        c.window_end_ms = t;
        c.count = 1;
        c.incident_ids = ids;
        c.n_incident_ids = 1;
        if (msg->event_type ==
            HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_VIOLATED) {
                snprintf(c.reason_code, sizeof(c.reason_code),
                         "order_violation.violated");
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "protection order reported violated");
        } else {
                snprintf(c.reason_code, sizeof(c.reason_code),
                         "order_violation.active_order");
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "domestic call with this person as suspect while "
                         "a protection order against them is active");
        }
        emit(emit_ctx, trigger, &c);
        return true;
}

typedef struct first_call {
        const char *skip;       /* the order's own incident */
        const char *id;
        int64_t time;
} first_call_t;

static void find_first(void *ctx, const char *member, int64_t score)
{
        first_call_t *f = ctx;

        if (!f->id && strcmp(member, f->skip) != 0) {
                f->id = member;
                f->time = score;
        }
}

/*
 * Checks the calls that arrived before an order but happened while it is
 * active (the persons stage gets a person's events from several input
 * partitions, not always in time order): the first of them triggers, as it
 * would have in time order. Its region codes are taken from the order.
 * Calls up to covered, the end of the order this one extends, were
 * checked against that order already, so they are skipped.
 */
static void check_earlier_calls(order_violation_t *m, hearth_batch_t *b,
                                const char *key, const char *calls,
                                int64_t covered, const hearth_event_t *e,
                                hearth_emit_fn emit, void *emit_ctx)
{
        first_call_t f = {.skip = e->msg->incident_id};
        Hearth__V1__IncidentEvent msg = *e->msg;
        hearth_event_t trigger = *e;
        int64_t from = get_time(b, key, "from");

        hearth_zset_range(b, calls, covered > from ? covered : from,
                          get_time(b, key, "until"), find_first, &f);
        if (!f.id)
                return;
        msg.incident_id = (char *)f.id;
        msg.event_time_ms = f.time;
        msg.ingest_time_ms = 0;
        msg.event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        trigger.msg = &msg;
        alert_at(m, b, key, &trigger, emit, emit_ctx);
}

static void ov_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        order_violation_t *m = self;
        const Hearth__V1__IncidentEvent *msg = e->msg;
        int64_t t = msg->event_time_ms;
        char key[KEY_MAX], calls[KEY_MAX];
        const char *oi;

        if (!key_for(e, b, key))
                return;
        calls_key(e, b, calls);
        if (msg->event_type ==
            HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_ISSUED) {
                int64_t covered = get_time(b, key, "until");

                if (issue(m, b, key, e, emit_ctx) && !e->late)
                        check_earlier_calls(m, b, key, calls, covered, e,
                                            emit, emit_ctx);
                return;
        }
        if (msg->event_type == HEARTH__V1__EVENT_TYPE__CALL_RECEIVED) {
                hearth_zset_add_nx(b, calls, msg->incident_id, t,
                                   m->order_ms + m->lateness_ms);
                hearth_zset_trim(b, calls, t - m->order_ms - m->lateness_ms);
        }
        oi = hearth_hash_get(b, key, "oi");
        if (msg->event_type == HEARTH__V1__EVENT_TYPE__CALL_RECEIVED &&
            (!oi || strcmp(oi, msg->incident_id) == 0 ||
             t <= get_time(b, key, "from") || t > get_time(b, key, "until")))
                return;
        if (!e->late)
                alert_at(m, b, key, e, emit, emit_ctx);
}

const hearth_model_ops_t hearth_model_order_violation = {
        .name = "order_violation",
        .stage = HEARTH_STAGE_PERSONS,
        .create = ov_create,
        .plan = ov_plan,
        .apply = ov_apply,
        .destroy = ov_destroy,
};
