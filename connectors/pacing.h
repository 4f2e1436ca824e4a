/*
 * Send schedule of a replay: for each event, in send order, the time at
 * which it is due, as an offset in nanoseconds from the start of the
 * replay. Offsets never decrease, so a sender that sleeps until each
 * offset in turn keeps the order it was given.
 *
 *   HEARTH_PACE_MAX    every offset is 0: send as fast as possible
 *   HEARTH_PACE_SPEED  (event time - first event's time) / speed, so the
 *                      gaps between event times shrink by the factor
 *                      speed; an event earlier than one already scheduled
 *                      (only with input order kept) is due at once
 *   HEARTH_PACE_RATE   event i (0-based) at i / rate seconds
 *
 * Offsets saturate at INT64_MAX instead of overflowing.
 */
#ifndef HEARTH_PACING_H
#define HEARTH_PACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum hearth_pace_mode {
        HEARTH_PACE_MAX = 0,
        HEARTH_PACE_SPEED,
        HEARTH_PACE_RATE
} hearth_pace_mode_t;

typedef struct hearth_pacing {
        hearth_pace_mode_t mode;
        double factor;          /* speed-up for SPEED, events/s for RATE */
        uint64_t index;         /* events scheduled so far */
        int64_t first_event_ms; /* event time of event 0 */
        int64_t last_offset_ns;
} hearth_pacing_t;

/* Starts a schedule; factor must be positive for SPEED and RATE. */
void hearth_pacing_init(hearth_pacing_t *p, hearth_pace_mode_t mode,
                        double factor);

/* Returns the offset in ns at which the next event, with event time
 * event_time_ms (UTC ms), is due. */
int64_t hearth_pacing_next(hearth_pacing_t *p, int64_t event_time_ms);

/* Writes the offsets of n events with the given event times to
 * offset_ns, as n calls of hearth_pacing_next() on a new schedule. */
void hearth_pacing_schedule(hearth_pace_mode_t mode, double factor,
                            const int64_t *event_time_ms, size_t n,
                            int64_t *offset_ns);

#endif
