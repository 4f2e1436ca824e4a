/*
 * Logging with level filtering and suppression of identical repeats.
 */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define REPEAT_INTERVAL_S 10

hearth_log_level_t hearth_log_min_level = HEARTH_LOG_INFO;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_line[1200];     /* component and message of the last record */
static time_t last_time;
static unsigned long suppressed;

static const char *level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

int hearth_log_parse_level(const char *name, hearth_log_level_t *level)
{
        static const char *names[] = {"debug", "info", "warn", "error", "off"};

        for (int i = 0; i <= HEARTH_LOG_OFF; i++) {
                if (strcmp(name, names[i]) == 0) {
                        *level = (hearth_log_level_t)i;
                        return 0;
                }
        }
        return -1;
}

void hearth_log_set_level(hearth_log_level_t level)
{
        hearth_log_min_level = level;
}

static void format_timestamp(char *buf, size_t size)
{
        struct timespec ts;
        struct tm tm;

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

void hearth_log_write(hearth_log_level_t level, const char *component,
                      const char *fmt, ...)
{
        char message[1024];
        char key[1200];
        char stamp[32];
        va_list ap;
        time_t now = time(NULL);

        if (level < HEARTH_LOG_DEBUG || level > HEARTH_LOG_ERROR)
                return;

        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        snprintf(key, sizeof(key), "%s|%s", component, message);
        format_timestamp(stamp, sizeof(stamp));

        pthread_mutex_lock(&log_lock);
        if (strcmp(key, last_line) == 0 && now - last_time < REPEAT_INTERVAL_S) {
                suppressed++;
                pthread_mutex_unlock(&log_lock);
                return;
        }
        if (suppressed > 0)
                fprintf(stderr, "%s %s [%s] last message repeated, %lu more suppressed\n", stamp,
                        level_names[level], component, suppressed);
        fprintf(stderr, "%s %s [%s] %s\n", stamp, level_names[level],
                component, message);
        snprintf(last_line, sizeof(last_line), "%s", key);
        last_time = now;
        suppressed = 0;
        pthread_mutex_unlock(&log_lock);
}
