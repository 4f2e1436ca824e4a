/*
 * Crash points for fault tests (see crash.h). The remaining count lives in
 * a static, and only the armed point reaches hearth_crash_pass.
 */
#include "engine/crash.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRASH_COUNT_MAX 1000000000L

hearth_crash_point_t hearth_crash_armed = HEARTH_CRASH_NONE;
static long passes_left;

static const char *const point_names[HEARTH_CRASH_N_POINTS] = {
        [HEARTH_CRASH_AFTER_POLL] = "after_poll",
        [HEARTH_CRASH_BEFORE_REDIS_COMMIT] = "before_redis_commit",
        [HEARTH_CRASH_AFTER_REDIS_COMMIT] = "after_redis_commit",
        [HEARTH_CRASH_AFTER_PRODUCE] = "after_produce",
};

static int parse_count(const char *text, long *count, char *errstr,
                       size_t errstr_size)
{
        char *end;
        long n;

        errno = 0;
        n = strtol(text, &end, 10);
        if (*text < '0' || *text > '9' || *end || errno == ERANGE || n < 1 ||
            n > CRASH_COUNT_MAX) {
                snprintf(errstr, errstr_size, "invalid count '%s': expected "
                         "a whole number from 1 to %ld", text,
                         CRASH_COUNT_MAX);
                return -1;
        }
        *count = n;
        return 0;
}

int hearth_crash_parse(const char *spec, hearth_crash_point_t *point,
                       long *count, char *errstr, size_t errstr_size)
{
        const char *colon = strchr(spec, ':');
        size_t name_len = colon ? (size_t)(colon - spec) : strlen(spec);

        *count = 1;
        if (colon && parse_count(colon + 1, count, errstr, errstr_size) != 0)
                return -1;
        for (int i = 0; i < HEARTH_CRASH_N_POINTS; i++) {
                if (strlen(point_names[i]) == name_len &&
                    strncmp(point_names[i], spec, name_len) == 0) {
                        *point = (hearth_crash_point_t)i;
                        return 0;
                }
        }
        snprintf(errstr, errstr_size, "unknown crash point '%.*s': expected "
                 "after_poll, before_redis_commit, after_redis_commit or "
                 "after_produce, optionally followed by :N",
                 (int)name_len, spec);
        return -1;
}

int hearth_crash_setup(char *errstr, size_t errstr_size)
{
        const char *spec = getenv("HEARTH_CRASH_POINT");
        hearth_crash_point_t point;
        long count;

        hearth_crash_armed = HEARTH_CRASH_NONE;
        if (!spec || !*spec)
                return 0;
        if (hearth_crash_parse(spec, &point, &count, errstr,
                               errstr_size) != 0)
                return -1;
        passes_left = count;
        hearth_crash_armed = point;
        return 0;
}

void hearth_crash_pass(void)
{
        if (--passes_left > 0)
                return;
        fprintf(stderr, "hearth-engine: crash point %s reached, raising "
                "SIGKILL (HEARTH_CRASH_POINT)\n", point_names[hearth_crash_armed]);
        raise(SIGKILL);
}
