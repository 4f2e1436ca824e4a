/*
 * Special circumstances: risk factors reported on one domestic incident.
 *
 * Defaults: any lethal flag (weapon, firearm, strangulation, threat_to_kill,
 * victim_fears_death) raises P1 with code "special_circumstances.lethal".
 * Otherwise 4 or more of the combined flags (injury, children_present,
 * suicide_threat, intoxication, pregnancy, separation, stalking,
 * escalation) raise P2 with code "special_circumstances.combined". Both
 * lists name RiskFlags fields and are options.
 *
 * The flags of an incident are the union over all of its domestic events
 * that the model processes, late ones included, so a later lifecycle event
 * that adds a weapon raises a P2 incident to P1. A late event updates the union
 * but raises no alert. An alert at priority P is suppressed when the
 * incident already had an alert at P or a more urgent priority less than
 * the dedup window earlier (in event time). So within that window an
 * incident alerts at most once per priority, and never below a priority
 * it already reached.
 *
 * Sources of the factors. The Maryland Lethality Screen (first responders'
 * form of the Lethality Assessment Program) screens a victim in on "yes" to
 * any of its first three questions (weapon used or threatened, threat to
 * kill, victim believes the partner might try to kill her or him), or to
 * four or more of the other eight (gun access, choking, jealousy or
 * control, separation, unemployment, suicide attempt, a child that is not
 * the partner's, stalking). These two rules follow that screen, but the
 * default lethal list adds firearm and strangulation, which the screen
 * counts among the other eight, by this project's choice. Per flag:
 *   weapon             Lethality Screen, Danger Assessment, DASH
 *   firearm            Lethality Screen, Danger Assessment
 *   strangulation      Lethality Screen, Danger Assessment, DASH
 *   threat_to_kill     Lethality Screen, Danger Assessment, DASH, ODARA
 *   victim_fears_death Lethality Screen, Danger Assessment, DASH
 *   injury             DASH
 *   children_present   all four ask about children, though not whether
 *                      they saw the incident
 *   suicide_threat     Lethality Screen, Danger Assessment, DASH (each
 *                      asks about the abuser's threats or attempts)
 *   intoxication       Danger Assessment, DASH, ODARA (substance abuse)
 *   pregnancy          Danger Assessment, DASH, ODARA
 *   separation         Lethality Screen, Danger Assessment, DASH
 *   stalking           Lethality Screen, Danger Assessment, DASH
 *   escalation         Danger Assessment, DASH
 * Breached orders (DASH, ODARA) are not a RiskFlags field. They arrive as
 * PROTECTION_ORDER_VIOLATED events, which this model does not use.
 *
 * State, per incident I in input partition N, in the hash shared by the
 * incident models (see hearth_incident_key()):
 *   <prefix>{pN}:inc:I  field "sc.flags" -> union of the flags seen, as a
 *                       decimal bit mask by RiskFlags field number;
 *                       "sc.<priority>" -> event time of its alert (ms)
 * The key expires after the longest TTL of the incident models
 * (hearth_incident_ttl()), no sooner than the dedup window plus the
 * allowed lateness.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define DAY_MS INT64_C(86400000)

typedef struct rule {
        uint64_t flags;         /* bit n: RiskFlags field number n */
        int64_t threshold;      /* flags of the set that must be present */
        int priority;
        const char *code;
} rule_t;

typedef struct special_circumstances {
        rule_t rules[2];        /* lethal, combined */
        int64_t window_ms;
        int64_t ttl_ms;         /* of the incident key */
} special_circumstances_t;

static const ProtobufCMessageDescriptor *const flag_fields =
        &hearth__v1__risk_flags__descriptor;

static bool is_flag_field(const ProtobufCFieldDescriptor *f)
{
        return f && f->type == PROTOBUF_C_TYPE_BOOL && f->id < 64;
}

static void list_flag_names(char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (unsigned i = 0; i < flag_fields->n_fields && len < size; i++) {
                if (!is_flag_field(&flag_fields->fields[i]))
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s%s",
                                        len ? ", " : "",
                                        flag_fields->fields[i].name);
        }
}

static int add_flag(const char *option, const char *name, uint64_t *mask,
                    char *errstr, size_t errstr_size)
{
        const ProtobufCFieldDescriptor *f =
                protobuf_c_message_descriptor_get_field_by_name(flag_fields,
                                                                name);
        char names[256];

        if (!is_flag_field(f)) {
                list_flag_names(names, sizeof(names));
                snprintf(errstr, errstr_size, "option %s: unknown risk flag "
                         "\"%.40s\"; use names from: %s", option, name, names);
                return -1;
        }
        *mask |= UINT64_C(1) << f->id;
        return 0;
}

/*
 * Parses a comma-separated list of RiskFlags field names into a bit mask.
 * Spaces around names are ignored, and an empty list gives 0.
 */
static int parse_flags(const char *option, const char *list, uint64_t *mask,
                       char *errstr, size_t errstr_size)
{
        char *copy = strdup(list), *save = NULL, *item;
        int rc = 0;

        *mask = 0;
        if (strspn(list, " ") == strlen(list)) {
                free(copy);
                return 0;
        }
        for (item = strtok_r(copy, ",", &save); item && rc == 0;
             item = strtok_r(NULL, ",", &save)) {
                char *end;

                item += strspn(item, " ");
                end = item + strlen(item);
                while (end > item && end[-1] == ' ')
                        *--end = '\0';
                rc = add_flag(option, item, mask, errstr, errstr_size);
        }
        /* strtok_r skips empty items, so "a,,b" and "a," get a check. */
        if (rc == 0 && (strstr(list, ",,") || strchr(list, ',') == list ||
                        list[strlen(list) - 1] == ',')) {
                snprintf(errstr, errstr_size, "option %s: empty flag name in "
                         "\"%.60s\"", option, list);
                rc = -1;
        }
        free(copy);
        return rc;
}

static int configure(special_circumstances_t *m, const hearth_config_t *cfg,
                     char *errstr, size_t errstr_size)
{
        rule_t *lethal = &m->rules[0], *combined = &m->rules[1];
        int n_combined;

        if (parse_flags("models.special_circumstances.lethal_flags",
                        cfg->sc_lethal_flags, &lethal->flags, errstr,
                        errstr_size) ||
            parse_flags("models.special_circumstances.combined_flags",
                        cfg->sc_combined_flags, &combined->flags, errstr,
                        errstr_size))
                return -1;
        if (lethal->flags & combined->flags) {
                snprintf(errstr, errstr_size, "options models.special_"
                         "circumstances.lethal_flags and combined_flags "
                         "must not share a flag");
                return -1;
        }
        n_combined = __builtin_popcountll(combined->flags);
        if (n_combined > 0 && cfg->sc_combined_threshold > n_combined) {
                snprintf(errstr, errstr_size, "option models.special_"
                         "circumstances.combined_threshold: %" PRId64
                         " exceeds the %d combined flags",
                         cfg->sc_combined_threshold, n_combined);
                return -1;
        }
        lethal->threshold = 1;
        lethal->priority = (int)cfg->sc_lethal_priority;
        lethal->code = "special_circumstances.lethal";
        combined->threshold = cfg->sc_combined_threshold;
        combined->priority = (int)cfg->sc_combined_priority;
        combined->code = "special_circumstances.combined";
        m->window_ms = cfg->sc_dedup_window_d * DAY_MS;
        m->ttl_ms = hearth_incident_ttl(cfg);
        return 0;
}

int hearth_risk_rules(const hearth_config_t *cfg, uint64_t *lethal,
                      uint64_t *combined, int64_t *threshold, char *errstr,
                      size_t errstr_size)
{
        special_circumstances_t m;

        if (configure(&m, cfg, errstr, errstr_size) != 0)
                return -1;
        *lethal = m.rules[0].flags;
        *combined = m.rules[1].flags;
        *threshold = m.rules[1].threshold;
        return 0;
}

static void *sc_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        special_circumstances_t *m;

        errstr[0] = '\0';
        if (!cfg->sc_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (configure(m, cfg, errstr, errstr_size) != 0) {
                free(m);
                return NULL;
        }
        return m;
}

static void sc_destroy(void *self)
{
        free(self);
}

/*
 * Formats the state key of a domestic event's incident. Returns false for
 * a non-domestic event and for a key that does not fit.
 */
static bool key_for(const hearth_event_t *e, hearth_batch_t *b, char *key,
                    size_t size)
{
        return e->msg->is_domestic && hearth_incident_key(b, e, key, size);
}

static void sc_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        char key[HEARTH_KEY_MAX];

        (void)self;
        if (key_for(e, b, key, sizeof(key)))
                hearth_batch_need_hash(b, key);
}

uint64_t hearth_risk_mask(const Hearth__V1__RiskFlags *risk)
{
        uint64_t mask = 0;

        if (!risk)
                return 0;
        for (unsigned i = 0; i < flag_fields->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &flag_fields->fields[i];
                const protobuf_c_boolean *value;

                if (!is_flag_field(f))
                        continue;
                value = (const protobuf_c_boolean *)((const char *)risk +
                                                     f->offset);
                if (*value)
                        mask |= UINT64_C(1) << f->id;
        }
        return mask;
}

/* Writes the names of the flags in mask, in schema order, as words. */
static void describe_flags(uint64_t mask, char *out, size_t size)
{
        size_t len = 0;

        out[0] = '\0';
        for (unsigned i = 0; i < flag_fields->n_fields && len < size; i++) {
                const ProtobufCFieldDescriptor *f = &flag_fields->fields[i];

                if (!is_flag_field(f) || !(mask & (UINT64_C(1) << f->id)))
                        continue;
                len += (size_t)snprintf(out + len, size - len, "%s%s",
                                        len ? ", " : "", f->name);
        }
        for (char *c = out; *c; c++)
                if (*c == '_')
                        *c = ' ';
}

/* Merges the event's flags into the stored union and returns the union. */
static uint64_t merge_flags(special_circumstances_t *m, hearth_batch_t *b,
                            const char *key, const hearth_event_t *e)
{
        const char *stored = hearth_hash_get(b, key, "sc.flags");
        uint64_t seen = stored ? strtoull(stored, NULL, 10) : 0;
        uint64_t all = seen | hearth_risk_mask(e->msg->risk);
        char value[32];

        if (all != seen) {
                snprintf(value, sizeof(value), "%" PRIu64, all);
                hearth_hash_set(b, key, "sc.flags", value, m->ttl_ms);
        }
        return all;
}

/* Returns the most urgent rule whose condition is met, or NULL. */
static const rule_t *pick_rule(const special_circumstances_t *m,
                               uint64_t flags, int *present)
{
        const rule_t *best = NULL;

        for (int i = 0; i < 2; i++) {
                const rule_t *r = &m->rules[i];
                int n = __builtin_popcountll(flags & r->flags);

                if (!r->flags || n < r->threshold)
                        continue;
                if (!best || r->priority < best->priority) {
                        best = r;
                        *present = n;
                }
        }
        return best;
}

static void emit_alert(const hearth_event_t *e, const rule_t *rule,
                       uint64_t flags, int present, hearth_emit_fn emit,
                       void *emit_ctx)
{
        hearth_candidate_t c = {.model = "special_circumstances"};
        char *ids[1] = {e->msg->incident_id};
        char names[HEARTH_REASON_MAX];

        describe_flags(flags & rule->flags, names, sizeof(names));
        c.priority = rule->priority;
        c.score = (double)present / (double)rule->threshold;
        c.subject_kind = HEARTH__V1__SUBJECT_KIND__INCIDENT;
        /* NOTE: an id longer than HEARTH_SUBJECT_MAX - 3 bytes is truncated. */
        snprintf(c.subject_key, sizeof(c.subject_key), "i:%s",
                 e->msg->incident_id);
        c.window_start_ms = e->msg->event_time_ms;
        c.window_end_ms = e->msg->event_time_ms;
        c.count = 1;
        c.incident_ids = ids;
        c.n_incident_ids = 1;
        snprintf(c.reason_code, sizeof(c.reason_code), "%s", rule->code);
        if (rule->threshold == 1)
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "%s reported", names);
        else
                snprintf(c.reason_text, sizeof(c.reason_text),
                         "%d risk factors reported: %s", present, names);
        emit(emit_ctx, e, &c);
}

static void sc_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        special_circumstances_t *m = self;
        char key[HEARTH_KEY_MAX], value[32], field[16];
        int64_t t = e->msg->event_time_ms;
        const rule_t *rule;
        uint64_t flags;
        int present = 0;

        if (!key_for(e, b, key, sizeof(key)))
                return;
        flags = merge_flags(m, b, key, e);
        if (e->late)
                return;
        rule = pick_rule(m, flags, &present);
        if (!rule || hearth_model_suppressed_in(b, key, "sc.",
                                                rule->priority, m->window_ms,
                                                t))
                return;
        snprintf(value, sizeof(value), "%" PRId64, t);
        snprintf(field, sizeof(field), "sc.%d", rule->priority);
        hearth_hash_set(b, key, field, value, m->ttl_ms);
        emit_alert(e, rule, flags, present, emit, emit_ctx);
}

const hearth_model_ops_t hearth_model_special_circumstances = {
        .name = "special_circumstances",
        .create = sc_create,
        .plan = sc_plan,
        .apply = sc_apply,
        .destroy = sc_destroy,
};
