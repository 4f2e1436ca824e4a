/*
 * Repeat dispositions: domestic incidents at one household that police
 * closed without arrest or a case, by default by mediation or a warning.
 *
 * Default: 2 or more domestic incidents with a MEDIATED or WARNED
 * disposition within 90 days raise P3 with code "repeat_dispositions". The
 * list of Disposition names, the window, the threshold and the priority are
 * options. A window ending at event time t covers (t - W, t]. An incident
 * counts once, at the event time of the first of its events that carries a
 * listed disposition, and only that event can trigger an alert. A late
 * event is counted but raises no alert. An alert is suppressed when the
 * household already had an alert at the same or a more urgent priority
 * less than the window earlier (in event time).
 *
 * State, per household subject S in input partition N:
 *   <prefix>{pN}:rd:S       sorted set: incident id -> event time (ms)
 *   <prefix>{pN}:rd.sup:S   hash: priority -> event time of its last alert
 * Both expire after the window plus the allowed lateness.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"
#include "models/model.h"

#define COMPONENT "models"
#define DAY_MS INT64_C(86400000)
#define KEY_MAX 512

typedef struct repeat_dispositions {
        uint64_t dispositions;  /* bit n: Disposition value n */
        char disposition_text[96];
        int64_t window_ms;
        int64_t threshold;
        int priority;
        int64_t ttl_ms;
        size_t max_ids;
} repeat_dispositions_t;

static const ProtobufCEnumDescriptor *const disposition_enum =
        &hearth__v1__disposition__descriptor;

static void list_disposition_names(char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (unsigned i = 0; i < disposition_enum->n_values && len < size;
             i++) {
                if (disposition_enum->values[i].value == 0)
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s%s",
                                        len ? ", " : "",
                                        disposition_enum->values[i].name);
        }
}

static int add_disposition(const char *name, uint64_t *mask, char *errstr,
                           size_t errstr_size)
{
        const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value_by_name(disposition_enum,
                                                             name);
        char names[256];

        if (!v || v->value <= 0 || v->value >= 64) {
                list_disposition_names(names, sizeof(names));
                snprintf(errstr, errstr_size, "option models.repeat_"
                         "dispositions.dispositions: unknown disposition "
                         "\"%.40s\"; use names from: %s", name, names);
                return -1;
        }
        *mask |= UINT64_C(1) << v->value;
        return 0;
}

/* Parses a comma-separated list of Disposition names into a bit mask. */
static int parse_dispositions(const char *list, uint64_t *mask, char *errstr,
                              size_t errstr_size)
{
        char *copy = strdup(list), *save = NULL, *item;
        int rc = 0;

        *mask = 0;
        for (item = strtok_r(copy, ",", &save); item && rc == 0;
             item = strtok_r(NULL, ",", &save)) {
                char *end;

                item += strspn(item, " ");
                end = item + strlen(item);
                while (end > item && end[-1] == ' ')
                        *--end = '\0';
                rc = add_disposition(item, mask, errstr, errstr_size);
        }
        free(copy);
        if (rc == 0 && *mask == 0) {
                snprintf(errstr, errstr_size, "option models.repeat_"
                         "dispositions.dispositions is empty: list at least "
                         "one Disposition name, or set models.repeat_"
                         "dispositions.enabled=false");
                return -1;
        }
        /* strtok_r skips empty items, so "A,,B" and "A," get a check. */
        if (rc == 0 && (strstr(list, ",,") || *list == ',' ||
                        list[strlen(list) - 1] == ',')) {
                snprintf(errstr, errstr_size, "option models.repeat_"
                         "dispositions.dispositions: empty name in "
                         "\"%.60s\"", list);
                rc = -1;
        }
        return rc;
}

/* Writes the listed names as "A", "A or B" or "A, B or C". */
static void describe_dispositions(uint64_t mask, char *out, size_t size)
{
        int total = __builtin_popcountll(mask), written = 0;
        size_t len = 0;

        out[0] = '\0';
        for (unsigned i = 0; i < disposition_enum->n_values && len < size;
             i++) {
                const ProtobufCEnumValue *v = &disposition_enum->values[i];
                const char *separator = written == 0           ? ""
                                        : written + 1 == total ? " or "
                                                               : ", ";

                if (v->value <= 0 || v->value >= 64 ||
                    !(mask & (UINT64_C(1) << v->value)))
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s%s",
                                        separator, v->name);
                written++;
        }
}

static void *rd_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        repeat_dispositions_t *m;

        errstr[0] = '\0';
        if (!cfg->rd_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (parse_dispositions(cfg->rd_dispositions, &m->dispositions,
                               errstr, errstr_size) != 0) {
                free(m);
                return NULL;
        }
        describe_dispositions(m->dispositions, m->disposition_text,
                              sizeof(m->disposition_text));
        m->window_ms = cfg->rd_window_d * DAY_MS;
        m->threshold = cfg->rd_threshold;
        m->priority = (int)cfg->rd_priority;
        m->ttl_ms = m->window_ms + cfg->allowed_lateness_ms;
        m->max_ids = (size_t)cfg->rd_max_incident_ids;
        return m;
}

static void rd_destroy(void *self)
{
        free(self);
}

static bool counted(const repeat_dispositions_t *m,
                    const Hearth__V1__IncidentEvent *msg)
{
        int d = (int)msg->disposition;

        return msg->is_domestic && d > 0 && d < 64 &&
               (m->dispositions & (UINT64_C(1) << d));
}

static bool keys_for(const repeat_dispositions_t *m, const hearth_event_t *e,
                     hearth_batch_t *b, char *zkey, char *skey, size_t size)
{
        char subject[HEARTH_SUBJECT_MAX], suffix[HEARTH_SUBJECT_MAX + 16];

        if (!counted(m, e->msg) ||
            !hearth_household_key(e->msg, subject, sizeof(subject)))
                return false;
        snprintf(suffix, sizeof(suffix), "rd:%s", subject);
        hearth_batch_key(b, e->partition, suffix, zkey, size);
        snprintf(suffix, sizeof(suffix), "rd.sup:%s", subject);
        hearth_batch_key(b, e->partition, suffix, skey, size);
        /* A truncated key could name another household's state. */
        if (strlen(skey) + 1 >= size) {
                hearth_error(COMPONENT, "repeat_dispositions: state key of "
                             "incident %s exceeds %zu bytes; shorten "
                             "redis.key_prefix", e->msg->incident_id,
                             size - 1);
                return false;
        }
        return true;
}

static void rd_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        char zkey[KEY_MAX], skey[KEY_MAX];

        if (!keys_for(self, e, b, zkey, skey, sizeof(zkey)))
                return;
        hearth_batch_need_zset(b, zkey);
        hearth_batch_need_hash(b, skey);
}

static void emit_alert(repeat_dispositions_t *m, hearth_batch_t *b,
                       const hearth_event_t *e, const char *zkey,
                       uint32_t count, hearth_emit_fn emit, void *emit_ctx)
{
        hearth_candidate_t c = {.model = "repeat_dispositions"};
        int64_t t = e->msg->event_time_ms;
        char **ids = calloc(m->max_ids, sizeof(char *));
        const char *subject = strstr(zkey, "}:rd:") + 5;

        size_t n_ids = hearth_model_recent_ids(b, zkey, t - m->window_ms, t,
                                               ids, m->max_ids);
        c.priority = m->priority;
        c.score = (double)count / (double)m->threshold;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__HOUSEHOLD;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s", subject);
        c.window_start_ms = t - m->window_ms + 1;
        c.window_end_ms = t;
        c.count = count;
        c.incident_ids = ids;
        c.n_incident_ids = n_ids;
        snprintf(c.reason_code, sizeof(c.reason_code), "repeat_dispositions");
        snprintf(c.reason_text, sizeof(c.reason_text),
                 "%u domestic incidents at this household closed as %s "
                 "within %" PRId64 " days", count, m->disposition_text,
                 m->window_ms / DAY_MS);
        emit(emit_ctx, e, &c);
        free(ids);
}

static void rd_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        repeat_dispositions_t *m = self;
        char zkey[KEY_MAX], skey[KEY_MAX];
        int64_t t = e->msg->event_time_ms;
        size_t count;

        if (!keys_for(m, e, b, zkey, skey, sizeof(zkey)))
                return;
        if (!hearth_zset_add_nx(b, zkey, e->msg->incident_id, t, m->ttl_ms))
                return;
        hearth_zset_trim(b, zkey, t - m->ttl_ms);
        if (e->late)
                return;
        count = hearth_zset_range(b, zkey, t - m->window_ms, t, NULL, NULL);
        if ((int64_t)count < m->threshold || hearth_model_suppressed(b, skey, m->priority,
                                                   m->window_ms, t))
                return;
        hearth_model_mark_alerted(b, skey, m->priority, t, m->ttl_ms);
        emit_alert(m, b, e, zkey, (uint32_t)count, emit, emit_ctx);
}

const hearth_model_ops_t hearth_model_repeat_dispositions = {
        .name = "repeat_dispositions",
        .create = rd_create,
        .plan = rd_plan,
        .apply = rd_apply,
        .destroy = rd_destroy,
};
