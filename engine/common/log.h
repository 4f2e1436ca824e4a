/*
 * Logging for every hearth program: one line per record on standard error,
 *
 *   2026-12-04T15:57:32.123Z WARN  [engine] message key=value ...
 *
 * The level is checked before the message is formatted. An identical
 * message (same component and text) repeated within 10 seconds is counted
 * instead of written, and the next different message, or the next copy after
 * the interval, reports "(N more suppressed)". Callers must never pass a
 * name, ID number, phone number, address or narrative: pseudonymous keys,
 * incident ids, topics, partitions and offsets are what logs carry.
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef HEARTH_LOG_H
#define HEARTH_LOG_H

#include <stdarg.h>

typedef enum hearth_log_level {
        HEARTH_LOG_DEBUG = 0,
        HEARTH_LOG_INFO,
        HEARTH_LOG_WARN,
        HEARTH_LOG_ERROR,
        HEARTH_LOG_OFF
} hearth_log_level_t;

extern hearth_log_level_t hearth_log_min_level;

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 if invalid. */
int hearth_log_parse_level(const char *name, hearth_log_level_t *level);

void hearth_log_set_level(hearth_log_level_t level);

void hearth_log_write(hearth_log_level_t level, const char *component,
                      const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define hearth_log(level, component, ...)                                  \
        do {                                                               \
                if ((level) >= hearth_log_min_level)                       \
                        hearth_log_write((level), (component),             \
                                         __VA_ARGS__);                     \
        } while (0)

#define hearth_debug(comp, ...) hearth_log(HEARTH_LOG_DEBUG, comp, __VA_ARGS__)
#define hearth_info(comp, ...) hearth_log(HEARTH_LOG_INFO, comp, __VA_ARGS__)
#define hearth_warn(comp, ...) hearth_log(HEARTH_LOG_WARN, comp, __VA_ARGS__)
#define hearth_error(comp, ...) hearth_log(HEARTH_LOG_ERROR, comp, __VA_ARGS__)

#endif
