/*
 * The list of models and helpers they share.
 */
#include <stdio.h>
#include <stdlib.h>
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

bool hearth_model_suppressed(hearth_batch_t *b, const char *key, int priority,
                             int64_t window_ms, int64_t t)
{
        char field[8];

        for (int p = 1; p <= priority; p++) {
                const char *last;
                int64_t gap;

                snprintf(field, sizeof(field), "%d", p);
                last = hearth_hash_get(b, key, field);
                if (!last)
                        continue;
                gap = t - strtoll(last, NULL, 10);
                if (gap < window_ms && gap > -window_ms)
                        return true;
        }
        return false;
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
