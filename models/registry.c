/*
 * The list of models and helpers they share.
 */
#include <stdio.h>
#include <string.h>

#include "models/model.h"

extern const hearth_model_ops_t hearth_model_repeat_calls;
extern const hearth_model_ops_t hearth_model_special_circumstances;
extern const hearth_model_ops_t hearth_model_repeat_dispositions;
extern const hearth_model_ops_t hearth_model_hotspot;

const hearth_model_ops_t *const hearth_models[] = {
        &hearth_model_repeat_calls,
        &hearth_model_special_circumstances,
        &hearth_model_repeat_dispositions,
        &hearth_model_hotspot,
        NULL,
};

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
