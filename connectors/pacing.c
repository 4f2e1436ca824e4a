/* Send schedule of a replay (see pacing.h). */
#include "connectors/pacing.h"

#include <assert.h>
#include <math.h>

void hearth_pacing_init(hearth_pacing_t *p, hearth_pace_mode_t mode,
                        double factor)
{
        assert(mode == HEARTH_PACE_MAX || factor > 0);
        *p = (hearth_pacing_t){.mode = mode, .factor = factor};
}

/* Rounds nanoseconds to int64, saturating at 0 and INT64_MAX. */
static int64_t to_ns(double ns)
{
        if (ns >= 9.2e18)
                return INT64_MAX;
        if (ns <= 0)
                return 0;
        return (int64_t)llround(ns);
}

int64_t hearth_pacing_next(hearth_pacing_t *p, int64_t event_time_ms)
{
        int64_t offset = 0;

        if (p->index == 0)
                p->first_event_ms = event_time_ms;
        switch (p->mode) {
        case HEARTH_PACE_MAX:
                break;
        case HEARTH_PACE_SPEED:
                /* The difference in double: two int64 times may be further
                 * apart than int64 holds. */
                offset = to_ns(((double)event_time_ms -
                                (double)p->first_event_ms) * 1e6 / p->factor);
                break;
        case HEARTH_PACE_RATE:
                offset = to_ns((double)p->index * 1e9 / p->factor);
                break;
        }
        if (offset < p->last_offset_ns)
                offset = p->last_offset_ns;
        p->last_offset_ns = offset;
        p->index++;
        return offset;
}

void hearth_pacing_schedule(hearth_pace_mode_t mode, double factor,
                            const int64_t *event_time_ms, size_t n,
                            int64_t *offset_ns)
{
        hearth_pacing_t p;

        hearth_pacing_init(&p, mode, factor);
        for (size_t i = 0; i < n; i++)
                offset_ns[i] = hearth_pacing_next(&p, event_time_ms[i]);
}
