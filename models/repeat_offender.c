/*
 * Repeat offender: one person as the suspect of several domestic incidents,
 * in any district (persons stage).
 *
 * Defaults: a suspect in 2 or more domestic incidents within 365 days
 * raises P2 with code "repeat_offender.incidents"; a suspect in a domestic
 * incident after a police warning (WARNING_ISSUED) in another incident up
 * to 365 days earlier raises P2 with code "repeat_offender.after_warning".
 * A window ending at event time t covers (t - W, t]. An incident counts
 * once, at the event time of the first of its events that the model
 * receives. The persons stage can receive a person's incidents out of time
 * order (they come from several input partitions), so the rules are
 * checked both at the arriving incident and at the later incidents it
 * completes, and a warning that arrives late is checked against the first
 * incident after it: the alert names the same trigger as in time order.
 * Only the person's latest warning is kept, so a warning that arrives
 * after a later one is ignored. A late event is counted but raises no
 * alert. An alert is suppressed when the person had
 * one at the same or a more urgent priority less than the window earlier.
 * With labels on, an alert also sets the repeat_offender label.
 *
 * State, per person key P in partition N of the person topic:
 *   <prefix>{rN}:ro:P     sorted set: incident id -> event time (ms)
 *   <prefix>{rN}:ro.h:P   hash: "w" -> event time of the person's latest
 *                         warning, "wi" -> its incident id, "r:<incident>"
 *                         -> the incident's province, city and district,
 *                         and priority -> event time of the last alert
 * Both expire after the longer window plus the allowed lateness.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define DAY_MS INT64_C(86400000)
#define KEY_MAX 512

typedef struct repeat_offender {
        int64_t window_ms;
        int64_t threshold;
        int64_t after_warning_ms;
        int priority;
        int64_t ttl_ms;
        size_t max_ids;
        bool labels;
        int64_t label_ms;
} repeat_offender_t;

static void *ro_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        repeat_offender_t *m;
        int64_t longest;

        (void)errstr_size;
        errstr[0] = '\0';
        if (!cfg->ro_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->window_ms = cfg->ro_window_d * DAY_MS;
        m->threshold = cfg->ro_threshold;
        m->after_warning_ms = cfg->ro_after_warning_d * DAY_MS;
        m->priority = (int)cfg->ro_priority;
        longest = m->window_ms > m->after_warning_ms ? m->window_ms
                                                     : m->after_warning_ms;
        m->ttl_ms = longest + cfg->allowed_lateness_ms;
        m->max_ids = (size_t)cfg->ro_max_incident_ids;
        m->labels = cfg->lb_enabled;
        m->label_ms = cfg->lb_offender_d * DAY_MS;
        return m;
}

static void ro_destroy(void *self)
{
        free(self);
}

/* The suspect this persons-stage event is routed by, or NULL. */
static const char *suspect_of(const hearth_event_t *e)
{
        const Hearth__V1__Party *party = hearth_route_party(e->msg);

        if (!e->msg->is_domestic || !party ||
            party->role != HEARTH__V1__PARTY_ROLE__SUSPECT)
                return NULL;
        return party->person_key;
}

static bool keys_for(const hearth_event_t *e, hearth_batch_t *b, char *zkey,
                     char *hkey)
{
        const char *person = suspect_of(e);
        char suffix[HEARTH_SUBJECT_MAX + 16];

        if (!person)
                return false;
        snprintf(suffix, sizeof(suffix), "ro:%s", person);
        hearth_batch_key(b, e->partition, suffix, zkey, KEY_MAX);
        snprintf(suffix, sizeof(suffix), "ro.h:%s", person);
        hearth_batch_key(b, e->partition, suffix, hkey, KEY_MAX);
        return true;
}

static void ro_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        char zkey[KEY_MAX], hkey[KEY_MAX];

        (void)self;
        if (!keys_for(e, b, zkey, hkey))
                return;
        hearth_batch_need_zset(b, zkey);
        hearth_batch_need_hash(b, hkey);
}

/* Keeps the latest warning of the person; true when this one is it. */
static bool note_warning(repeat_offender_t *m, hearth_batch_t *b,
                         const char *hkey, const hearth_event_t *e)
{
        const char *w = hearth_hash_get(b, hkey, "w");
        int64_t t = e->msg->event_time_ms;
        char value[32];

        if (w && strtoll(w, NULL, 10) >= t)
                return false;
        snprintf(value, sizeof(value), "%" PRId64, t);
        hearth_hash_set(b, hkey, "w", value, m->ttl_ms);
        hearth_hash_set(b, hkey, "wi", e->msg->incident_id, m->ttl_ms);
        return true;
}

/* True when a warning in another incident precedes t within the rule. */
static bool after_warning(const repeat_offender_t *m, hearth_batch_t *b,
                          const char *hkey, const hearth_event_t *e)
{
        const char *w = hearth_hash_get(b, hkey, "w");
        const char *wi = hearth_hash_get(b, hkey, "wi");
        int64_t gap;

        if (!m->after_warning_ms || !w || !wi ||
            strcmp(wi, e->msg->incident_id) == 0)
                return false;
        gap = e->msg->event_time_ms - strtoll(w, NULL, 10);
        return gap > 0 && gap <= m->after_warning_ms;
}

static void emit_alert(repeat_offender_t *m, hearth_batch_t *b,
                       const hearth_event_t *e, const char *zkey,
                       size_t count, bool by_count, hearth_emit_fn emit,
                       void *emit_ctx)
{
        hearth_candidate_t c = {.model = "repeat_offender"};
        int64_t t = e->msg->event_time_ms;
        char **ids = calloc(m->max_ids, sizeof(char *));

        c.n_incident_ids = hearth_model_recent_ids(b, zkey, t - m->window_ms,
                                                   t, ids, m->max_ids);
        c.incident_ids = ids;
        c.priority = m->priority;
        c.score = (double)count / (double)m->threshold;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__PERSON;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s",
                 e->msg->route_key);
        c.window_start_ms = t - m->window_ms + 1;
        c.window_end_ms = t;
        c.count = (uint32_t)count;
        if (by_count) {
                snprintf(c.reason_code, sizeof(c.reason_code),
                         "repeat_offender.incidents");
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "suspect in %zu domestic incidents within %" PRId64
                         " days", count, m->window_ms / DAY_MS);
        } else {
                snprintf(c.reason_code, sizeof(c.reason_code),
                         "repeat_offender.after_warning");
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "suspect in a domestic incident after a police "
                         "warning in another one");
        }
        emit(emit_ctx, e, &c);
        if (m->labels)
                hearth_emit_tag(emit_ctx, e, e->msg->route_key,
                                "repeat_offender", t + m->label_ms,
                                c.reason_code, c.reason_text);
        free(ids);
}

/* Remembers an incident's region codes, for alerts it triggers later. */
static void note_region(repeat_offender_t *m, hearth_batch_t *b,
                        const char *hkey, const Hearth__V1__IncidentEvent *msg)
{
        const char *fields[3] = {msg->province_code, msg->city_code,
                                 msg->district_code};
        char field[HEARTH_SUBJECT_MAX + 8], value[256];

        snprintf(field, sizeof(field), "r:%s", msg->incident_id);
        if (hearth_timer_member(value, sizeof(value), fields, 3))
                hearth_hash_set(b, hkey, field, value, m->ttl_ms);
}

/*
 * Alerts at incident trigger when a rule is met there and no alert of the
 * person is near enough to suppress it.
 */
static void check_at(repeat_offender_t *m, hearth_batch_t *b,
                     const char *zkey, const char *hkey,
                     const hearth_event_t *trigger, hearth_emit_fn emit,
                     void *emit_ctx)
{
        int64_t t = trigger->msg->event_time_ms;
        size_t count = hearth_zset_range(b, zkey, t - m->window_ms, t, NULL,
                                         NULL);
        bool by_count = (int64_t)count >= m->threshold;

        if ((!by_count && !after_warning(m, b, hkey, trigger)) ||
            hearth_model_suppressed(b, hkey, m->priority, m->window_ms, t))
                return;
        hearth_model_mark_alerted(b, hkey, m->priority, t, m->ttl_ms);
        emit_alert(m, b, trigger, zkey, count, by_count, emit, emit_ctx);
}

typedef struct incident_list {
        const char *ids[64];
        int64_t times[64];
        size_t n;
} incident_list_t;

static void collect(void *ctx, const char *member, int64_t score)
{
        incident_list_t *l = ctx;

        if (l->n < 64) {
                l->ids[l->n] = member;
                l->times[l->n++] = score;
        }
}

/*
 * Runs check_at() on an incident that arrived before e, as if it were the
 * event that triggers, with its own time and region codes.
 */
static void recheck(repeat_offender_t *m, hearth_batch_t *b, const char *zkey,
                    const char *hkey, const hearth_event_t *e,
                    const char *incident, int64_t t, hearth_emit_fn emit,
                    void *emit_ctx)
{
        Hearth__V1__IncidentEvent msg = *e->msg;
        hearth_event_t trigger = *e;
        char field[HEARTH_SUBJECT_MAX + 8], region[256], *codes[3] = {"", "",
                                                                      ""};
        const char *stored;

        snprintf(field, sizeof(field), "r:%s", incident);
        stored = hearth_hash_get(b, hkey, field);
        snprintf(region, sizeof(region), "%s", stored ? stored : "");
        hearth_timer_fields(region, codes, 3);
        msg.incident_id = (char *)incident;
        msg.event_time_ms = t;
        msg.ingest_time_ms = 0;
        msg.province_code = codes[0];
        msg.city_code = codes[1];
        msg.district_code = codes[2];
        msg.event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        trigger.msg = &msg;
        check_at(m, b, zkey, hkey, &trigger, emit, emit_ctx);
}

static void ro_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        repeat_offender_t *m = self;
        char zkey[KEY_MAX], hkey[KEY_MAX];
        int64_t t = e->msg->event_time_ms;
        incident_list_t later = {.n = 0};
        bool new_warning = false;

        if (!keys_for(e, b, zkey, hkey))
                return;
        if (e->msg->event_type == HEARTH__V1__EVENT_TYPE__WARNING_ISSUED)
                new_warning = note_warning(m, b, hkey, e);
        if (hearth_zset_add_nx(b, zkey, e->msg->incident_id, t, m->ttl_ms)) {
                hearth_zset_trim(b, zkey, t - m->ttl_ms);
                note_region(m, b, hkey, e->msg);
                if (e->late)
                        return;
                check_at(m, b, zkey, hkey, e, emit, emit_ctx);
                /* Incidents that came first but happened later now count
                 * one more, and may reach the threshold only now. */
                hearth_zset_range(b, zkey, t, t + m->window_ms - 1, collect,
                                  &later);
                for (size_t i = 0; i < later.n; i++) {
                        size_t count = hearth_zset_range(
                                b, zkey, later.times[i] - m->window_ms,
                                later.times[i], NULL, NULL);

                        if ((int64_t)count == m->threshold)
                                recheck(m, b, zkey, hkey, e, later.ids[i],
                                        later.times[i], emit, emit_ctx);
                }
        }
        if (!new_warning || e->late || !m->after_warning_ms)
                return;
        /* A warning that arrives after an incident that followed it: the
         * first such incident triggers, as it would have in time order. */
        later.n = 0;
        hearth_zset_range(b, zkey, t, t + m->after_warning_ms, collect, &later);
        for (size_t i = 0; i < later.n; i++) {
                if (strcmp(later.ids[i], e->msg->incident_id) == 0)
                        continue;
                recheck(m, b, zkey, hkey, e, later.ids[i], later.times[i],
                        emit, emit_ctx);
                break;
        }
}

const hearth_model_ops_t hearth_model_repeat_offender = {
        .name = "repeat_offender",
        .stage = HEARTH_STAGE_PERSONS,
        .create = ro_create,
        .plan = ro_plan,
        .apply = ro_apply,
        .destroy = ro_destroy,
};
