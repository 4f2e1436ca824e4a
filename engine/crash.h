/*
 * Crash points for fault tests: with HEARTH_CRASH_POINT=NAME[:N] set,
 * hearth-engine kills itself with SIGKILL the Nth time (default the first)
 * execution passes the point NAME. The variable is read once at startup.
 * When it is unset, each point costs one compare of a global integer.
 *
 * Points, in the order a batch passes them:
 *   after_poll           messages consumed, nothing written
 *   before_redis_commit  models ran, the transaction not yet sent
 *   after_redis_commit   state, offsets and outbox durable, nothing produced
 *   after_produce        outbox handed to the producer, not acknowledged
 *                        and not deleted from Redis
 *
 * Thread safety: hearth_crash_setup runs once in main() before any other
 * thread starts; hearth_crash_at runs on the engine's main thread only.
 */
#ifndef HEARTH_CRASH_H
#define HEARTH_CRASH_H

#include <stddef.h>

typedef enum hearth_crash_point {
        HEARTH_CRASH_NONE = -1,
        HEARTH_CRASH_AFTER_POLL,
        HEARTH_CRASH_BEFORE_REDIS_COMMIT,
        HEARTH_CRASH_AFTER_REDIS_COMMIT,
        HEARTH_CRASH_AFTER_PRODUCE,
        HEARTH_CRASH_N_POINTS
} hearth_crash_point_t;

/* The armed point, or HEARTH_CRASH_NONE when no crash is requested. */
extern hearth_crash_point_t hearth_crash_armed;

/*
 * Parses "NAME" or "NAME:N" (N from 1 to 1000000000) into *point and
 * *count. Returns 0, or -1 with errstr naming the invalid value.
 */
int hearth_crash_parse(const char *spec, hearth_crash_point_t *point,
                       long *count, char *errstr, size_t errstr_size);

/*
 * Arms the point named by HEARTH_CRASH_POINT, if set and not empty.
 * Returns 0, or -1 with errstr when the value is invalid.
 */
int hearth_crash_setup(char *errstr, size_t errstr_size);

/* Counts a pass and raises SIGKILL on the armed pass. */
void hearth_crash_pass(void);

/* Marks that execution passes point; free unless point is armed. */
static inline void hearth_crash_at(hearth_crash_point_t point)
{
        if (__builtin_expect(hearth_crash_armed == point, 0))
                hearth_crash_pass();
}

#endif
