/*
 * Labels on persons that drive targeted visits (persons stage). This model
 * raises no alert; it sets labels through hearth_emit_tag(), and the
 * engine keeps them in Redis and publishes each change on topics.tags.
 *
 *   warned_person      a WARNING_ISSUED to the person as suspect; lasts
 *                      models.labels.warned_days (365) from the warning
 *   high_risk_victim   the person is the victim of a domestic incident
 *                      with a lethal flag, or with at least the combined
 *                      threshold of combined flags (the special-
 *                      circumstances options); lasts high_risk_victim_days
 *
 * Two more labels come from the models that decide them: repeat_offender
 * (repeat-offender model, on each alert) and order_subject (order-violation
 * model, until the order ends). A label is published when it is new or
 * its expiry moves later; a late event sets labels like any other.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/model.h"

#define DAY_MS INT64_C(86400000)

typedef struct labels {
        int64_t warned_ms;
        int64_t victim_ms;
        uint64_t lethal;
        uint64_t combined;
        int64_t threshold;
} labels_t;

static void *lb_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        labels_t *m;

        errstr[0] = '\0';
        if (!cfg->lb_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        if (hearth_risk_rules(cfg, &m->lethal, &m->combined, &m->threshold,
                              errstr, errstr_size) != 0) {
                free(m);
                return NULL;
        }
        m->warned_ms = cfg->lb_warned_d * DAY_MS;
        m->victim_ms = cfg->lb_victim_d * DAY_MS;
        return m;
}

static void lb_destroy(void *self)
{
        free(self);
}

static void lb_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        (void)self;
        (void)b;
        (void)e;        /* the engine loads label keys after the models */
}

static bool high_risk(const labels_t *m, const Hearth__V1__RiskFlags *risk)
{
        uint64_t flags = hearth_risk_mask(risk);

        return (flags & m->lethal) ||
               (m->combined &&
                __builtin_popcountll(flags & m->combined) >= m->threshold);
}

static void lb_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        labels_t *m = self;
        const Hearth__V1__IncidentEvent *msg = e->msg;
        const Hearth__V1__Party *party = hearth_route_party(msg);
        int64_t t = msg->event_time_ms;

        (void)b;
        (void)emit;
        if (!party)
                return;
        if (party->role == HEARTH__V1__PARTY_ROLE__SUSPECT &&
            msg->event_type == HEARTH__V1__EVENT_TYPE__WARNING_ISSUED)
                hearth_emit_tag(emit_ctx, e, party->person_key,
                                "warned_person", t + m->warned_ms,
                                "warning_issued",
                                "police warning issued to this person");
        if (party->role == HEARTH__V1__PARTY_ROLE__VICTIM &&
            msg->is_domestic && high_risk(m, msg->risk))
                hearth_emit_tag(emit_ctx, e, party->person_key,
                                "high_risk_victim", t + m->victim_ms,
                                "high_risk_incident",
                                "victim of a domestic incident with lethal "
                                "or several combined risk factors");
}

const hearth_model_ops_t hearth_model_labels = {
        .name = "labels",
        .stage = HEARTH_STAGE_PERSONS,
        .create = lb_create,
        .plan = lb_plan,
        .apply = lb_apply,
        .destroy = lb_destroy,
};
