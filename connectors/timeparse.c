/*
 * Timestamp parsing into UTC milliseconds.
 *
 * Calendar fields are validated by a round trip. The fields are converted to
 * an instant (timegm, or mktime for IANA zones) and back. If any field
 * changed, as February 30, second 60 or a local time in a skipped hour do,
 * the text is rejected.
 *
 * IANA zones need TZ, which is process-wide state, so those conversions
 * hold tz_lock. TZ stays set to the last zone used, so a stream in one zone
 * sets it only once.
 */
#include "timeparse.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Years outside this range are taken as garbage in the input. */
#define MIN_YEAR 1970
#define MAX_YEAR 2100

/* Maximum length of timestamp text, surrounding spaces excluded. */
#define MAX_TEXT 127

/* Maximum length of an IANA zone name. The longest in tzdata 2025b, with
 * the "right/" prefix, has 36 characters. */
#define MAX_ZONE_NAME 127

/* tm_year value that means "not set by strptime" (see init_tm). */
#define YEAR_UNSET (-100000)

/* Local calendar fields, with month 1-12. */
struct civil {
        int year;
        int month;
        int day;
        int hour;
        int minute;
        int second;
};

enum zone_kind { ZONE_UTC, ZONE_OFFSET, ZONE_IANA };

struct zone {
        enum zone_kind kind;
        long offset_s;    /* east of UTC, for ZONE_OFFSET */
        const char *name; /* for ZONE_IANA */
};

static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;
static char current_tz[MAX_ZONE_NAME + 1]; /* TZ as last set here */

/* Copies text without surrounding spaces and tabs. Returns false if it is
 * too long for buf. */
static bool trim_copy(const char *text, char *buf, size_t size)
{
        size_t len;

        while (*text == ' ' || *text == '\t')
                text++;
        len = strlen(text);
        while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t'))
                len--;
        if (len >= size)
                return false;
        memcpy(buf, text, len);
        buf[len] = '\0';
        return true;
}

/* Reads exactly n decimal digits at *p and advances *p past them. */
static bool read_digits(const char **p, int n, int *value)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                char c = (*p)[i];

                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *value = v;
        return true;
}

/*
 * Parses a whole-string UTC offset: "Z", or a sign with "hh", "hhmm" or
 * "hh:mm" (hours up to 23, as RFC 3339 allows). Sets *offset_s east of UTC.
 */
static bool parse_offset(const char *s, long *offset_s)
{
        int sign;
        int hours;
        int minutes = 0;

        if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0) {
                *offset_s = 0;
                return true;
        }
        if (*s != '+' && *s != '-')
                return false;
        sign = *s++ == '-' ? -1 : 1;
        if (!read_digits(&s, 2, &hours) || hours > 23)
                return false;
        if (*s == ':')
                s++;
        if (*s != '\0' && (!read_digits(&s, 2, &minutes) || minutes > 59))
                return false;
        if (*s != '\0')
                return false;
        *offset_s = sign * (hours * 3600L + minutes * 60L);
        return true;
}

/* Checks the form of an IANA name, so it cannot leave the zone directory. */
static bool iana_name_well_formed(const char *name)
{
        size_t len = strlen(name);

        if (len == 0 || len > MAX_ZONE_NAME || name[0] == '/')
                return false;
        if (strstr(name, "..") != NULL)
                return false;
        for (const char *p = name; *p != '\0'; p++) {
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                      (*p >= '0' && *p <= '9') || strchr("/_+-", *p)))
                        return false;
        }
        return true;
}

/* Checks that the zone directory has a compiled zone file of that name. */
static bool iana_zone_file_exists(const char *name)
{
        const char *dir = getenv("TZDIR");
        char path[PATH_MAX];
        char magic[4];
        FILE *fp;
        bool found;

        if (dir == NULL || *dir == '\0')
                dir = "/usr/share/zoneinfo";
        if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
            (int)sizeof(path))
                return false;
        fp = fopen(path, "re");
        if (fp == NULL)
                return false;
        /* Files such as zone.tab sit beside the zones; only TZif counts. */
        found = fread(magic, 1, sizeof(magic), fp) == sizeof(magic) &&
                memcmp(magic, "TZif", sizeof(magic)) == 0;
        fclose(fp);
        return found;
}

/* Classifies zone. An IANA name is only checked for form here. */
static bool parse_zone(const char *zone, struct zone *out)
{
        out->offset_s = 0;
        out->name = NULL;
        if (zone == NULL || strcmp(zone, "UTC") == 0 ||
            strcmp(zone, "Z") == 0) {
                out->kind = ZONE_UTC;
                return true;
        }
        if (zone[0] == '+' || zone[0] == '-') {
                out->kind = ZONE_OFFSET;
                return parse_offset(zone, &out->offset_s);
        }
        out->kind = ZONE_IANA;
        out->name = zone;
        return iana_name_well_formed(zone);
}

int hearth_time_zone_valid(const char *zone)
{
        struct zone parsed;
        bool found;

        if (zone == NULL || !parse_zone(zone, &parsed))
                return -1;
        if (parsed.kind != ZONE_IANA)
                return 0;
        /* The lock keeps getenv("TZDIR") off the environment while
         * select_tz calls setenv. */
        pthread_mutex_lock(&tz_lock);
        found = iana_zone_file_exists(zone);
        pthread_mutex_unlock(&tz_lock);
        return found ? 0 : -1;
}

static void civil_to_tm(const struct civil *c, struct tm *tm)
{
        memset(tm, 0, sizeof(*tm));
        tm->tm_year = c->year - 1900;
        tm->tm_mon = c->month - 1;
        tm->tm_mday = c->day;
        tm->tm_hour = c->hour;
        tm->tm_min = c->minute;
        tm->tm_sec = c->second;
}

static bool tm_matches(const struct tm *tm, const struct civil *c)
{
        return tm->tm_year == c->year - 1900 && tm->tm_mon == c->month - 1 &&
               tm->tm_mday == c->day && tm->tm_hour == c->hour &&
               tm->tm_min == c->minute && tm->tm_sec == c->second;
}

/* Rejects out-of-range fields before they reach timegm or mktime. */
static bool civil_in_range(const struct civil *c)
{
        return c->year >= MIN_YEAR && c->year <= MAX_YEAR && c->month >= 1 &&
               c->month <= 12 && c->day >= 1 && c->day <= 31 && c->hour >= 0 &&
               c->hour <= 23 && c->minute >= 0 && c->minute <= 59 &&
               c->second >= 0 && c->second <= 60;
}

/* Converts fields that are offset_s east of UTC to seconds since epoch. */
static int fixed_to_utc(const struct civil *c, long offset_s, int64_t *out)
{
        struct tm tm;
        struct tm back;
        time_t t;

        civil_to_tm(c, &tm);
        t = timegm(&tm);
        if (gmtime_r(&t, &back) == NULL || !tm_matches(&back, c))
                return -1;
        *out = (int64_t)t - offset_s;
        return 0;
}

/* Sets TZ to name unless it is set already. Call with tz_lock held. */
static bool select_tz(const char *name)
{
        const char *env = getenv("TZ");

        /* Other code may have changed TZ since this file set it, so the
         * environment is compared too. */
        if (env != NULL && strcmp(env, name) == 0 &&
            strcmp(current_tz, name) == 0)
                return true;
        if (!iana_zone_file_exists(name) || setenv("TZ", name, 1) != 0)
                return false;
        tzset();
        snprintf(current_tz, sizeof(current_tz), "%s", name);
        return true;
}

/*
 * Converts local fields in the current TZ. mktime runs once assuming
 * standard time and once assuming daylight time. The round trip keeps the
 * results that reproduce the fields: two for a repeated hour (the earlier
 * wins), none for a skipped one. Call with tz_lock held.
 */
static int local_to_utc(const struct civil *c, int64_t *out)
{
        bool found = false;
        time_t best = 0;

        for (int isdst = 0; isdst <= 1; isdst++) {
                struct tm tm;
                struct tm back;
                time_t t;

                civil_to_tm(c, &tm);
                tm.tm_isdst = isdst;
                /* mktime returns -1 on error, but -1 is also a real
                 * instant, so only the round trip decides. */
                t = mktime(&tm);
                if (localtime_r(&t, &back) == NULL || !tm_matches(&back, c))
                        continue;
                if (!found || t < best)
                        best = t;
                found = true;
        }
        if (!found)
                return -1;
        *out = (int64_t)best;
        return 0;
}

static int iana_to_utc(const struct civil *c, const char *name, int64_t *out)
{
        int rc = -1;

        pthread_mutex_lock(&tz_lock);
        if (select_tz(name))
                rc = local_to_utc(c, out);
        pthread_mutex_unlock(&tz_lock);
        return rc;
}

/* Converts validated local fields plus milliseconds to UTC milliseconds. */
static int civil_to_ms(const struct civil *c, int ms, const struct zone *zone,
                       int64_t *out_ms)
{
        int64_t seconds;
        int rc;

        if (!civil_in_range(c))
                return -1;
        if (zone->kind == ZONE_IANA)
                rc = iana_to_utc(c, zone->name, &seconds);
        else
                rc = fixed_to_utc(c, zone->offset_s, &seconds);
        if (rc != 0)
                return -1;
        *out_ms = seconds * 1000 + ms;
        return 0;
}

/*
 * Parses "epoch_s" (scale 1000) or "epoch_ms" (scale 1) text: an optional
 * sign and digits only. The instant must fall in MIN_YEAR..MAX_YEAR (UTC).
 */
static int parse_epoch(const char *s, int64_t scale, int64_t *out_ms)
{
        /* 2101-01-01T00:00:00Z */
        const int64_t end_ms = INT64_C(4133980800000);
        bool negative = false;
        int64_t value = 0;

        if (*s == '+' || *s == '-')
                negative = *s++ == '-';
        if (*s == '\0')
                return -1;
        for (; *s != '\0'; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                /* Values past the range are rejected below anyway, so
                 * stopping early also prevents overflow. */
                if (value > end_ms)
                        return -1;
                value = value * 10 + (*s - '0');
        }
        if (value > end_ms / scale)
                return -1;
        value *= scale;
        if (negative)
                value = -value;
        if (value < 0 || value >= end_ms)
                return -1;
        *out_ms = value;
        return 0;
}

/* Reads ".fff..." or ",fff..." (1-9 digits) as milliseconds, truncated. */
static bool read_fraction(const char **p, int *ms)
{
        const char *s = *p + 1;
        int digits = 0;

        *ms = 0;
        while (*s >= '0' && *s <= '9') {
                if (digits < 3)
                        *ms = *ms * 10 + (*s - '0');
                digits++;
                s++;
        }
        if (digits == 0 || digits > 9)
                return false;
        for (int i = digits; i < 3; i++)
                *ms *= 10;
        *p = s;
        return true;
}

static bool read_iso_date(const char **p, struct civil *c)
{
        return read_digits(p, 4, &c->year) && *(*p)++ == '-' &&
               read_digits(p, 2, &c->month) && *(*p)++ == '-' &&
               read_digits(p, 2, &c->day);
}

/*
 * Parses "YYYY-MM-DDThh:mm[:ss[.fff]][offset]", where 't' or one space may
 * replace the 'T'. Without an offset, zone applies.
 */
static int parse_iso8601(const char *s, const struct zone *zone,
                         int64_t *out_ms)
{
        struct civil c = {0, 0, 0, 0, 0, 0};
        struct zone fixed = {ZONE_OFFSET, 0, NULL};
        int ms = 0;

        if (!read_iso_date(&s, &c))
                return -1;
        if (*s != 'T' && *s != 't' && *s != ' ')
                return -1;
        s++;
        if (!read_digits(&s, 2, &c.hour) || *s++ != ':' ||
            !read_digits(&s, 2, &c.minute))
                return -1;
        if (*s == ':') {
                s++;
                if (!read_digits(&s, 2, &c.second))
                        return -1;
        }
        if ((*s == '.' || *s == ',') && !read_fraction(&s, &ms))
                return -1;
        if (*s != '\0') {
                if (!parse_offset(s, &fixed.offset_s))
                        return -1;
                zone = &fixed;
        }
        return civil_to_ms(&c, ms, zone, out_ms);
}

/* Marks the date fields unset; the values stay within the ranges glibc's
 * strptime reads when it derives the weekday and day of the year. */
static void init_tm(struct tm *tm)
{
        memset(tm, 0, sizeof(*tm));
        tm->tm_year = YEAR_UNSET;
        tm->tm_mon = 12;
        tm->tm_mday = 0;
}

/* Runs strptime and requires it to consume the whole text. */
static bool match_pattern(const char *text, const char *format, struct tm *tm)
{
        const char *end;

        init_tm(tm);
        end = strptime(text, format, tm);
        return end != NULL && *end == '\0';
}

static bool tm_has_date(const struct tm *tm)
{
        return tm->tm_year != YEAR_UNSET && tm->tm_mon != 12 &&
               tm->tm_mday != 0;
}

/* Returns true when format has a %z conversion, which sets tm_gmtoff. */
static bool format_has_offset(const char *format)
{
        for (const char *p = format; *p != '\0'; p++) {
                if (*p != '%')
                        continue;
                p++;
                if (*p == 'z')
                        return true;
                if (*p == '\0')
                        break;
        }
        return false;
}

static void tm_to_civil(const struct tm *date, const struct tm *time_of_day,
                        struct civil *c)
{
        c->year = date->tm_year + 1900;
        c->month = date->tm_mon + 1;
        c->day = date->tm_mday;
        c->hour = time_of_day->tm_hour;
        c->minute = time_of_day->tm_min;
        c->second = time_of_day->tm_sec;
}

static int parse_pattern(const char *text, const char *format,
                         const struct zone *zone, int64_t *out_ms)
{
        struct zone fixed = {ZONE_OFFSET, 0, NULL};
        struct civil c;
        struct tm tm;

        if (!match_pattern(text, format, &tm) || !tm_has_date(&tm))
                return -1;
        if (format_has_offset(format)) {
                fixed.offset_s = tm.tm_gmtoff;
                zone = &fixed;
        }
        tm_to_civil(&tm, &tm, &c);
        return civil_to_ms(&c, 0, zone, out_ms);
}

int hearth_time_parse(const char *text, const char *format, const char *zone,
                      int64_t *out_ms)
{
        char buf[MAX_TEXT + 1];
        struct zone parsed;

        if (text == NULL || format == NULL || out_ms == NULL)
                return -1;
        if (!trim_copy(text, buf, sizeof(buf)))
                return -1;
        if (strcmp(format, "epoch_s") == 0)
                return parse_epoch(buf, 1000, out_ms);
        if (strcmp(format, "epoch_ms") == 0)
                return parse_epoch(buf, 1, out_ms);
        if (!parse_zone(zone, &parsed))
                return -1;
        if (strcmp(format, "iso8601") == 0)
                return parse_iso8601(buf, &parsed, out_ms);
        return parse_pattern(buf, format, &parsed, out_ms);
}

int hearth_time_parse_parts(const char *date_text, const char *date_format,
                            const char *time_text, const char *time_format,
                            const char *zone, int64_t *out_ms)
{
        char date_buf[MAX_TEXT + 1];
        char time_buf[MAX_TEXT + 1];
        struct zone parsed;
        struct zone fixed = {ZONE_OFFSET, 0, NULL};
        struct tm date;
        struct tm time_of_day;
        struct civil c;

        if (date_text == NULL || date_format == NULL || time_text == NULL ||
            time_format == NULL || out_ms == NULL)
                return -1;
        if (!trim_copy(date_text, date_buf, sizeof(date_buf)) ||
            !trim_copy(time_text, time_buf, sizeof(time_buf)))
                return -1;
        if (!parse_zone(zone, &parsed))
                return -1;
        if (!match_pattern(date_buf, date_format, &date) ||
            !tm_has_date(&date) ||
            !match_pattern(time_buf, time_format, &time_of_day))
                return -1;
        if (format_has_offset(time_format)) {
                fixed.offset_s = time_of_day.tm_gmtoff;
                parsed = fixed;
        }
        tm_to_civil(&date, &time_of_day, &c);
        return civil_to_ms(&c, 0, &parsed, out_ms);
}

int hearth_time_local_date(int64_t ms, const char *zone, int *year,
                           int *month, int *day)
{
        time_t t = (time_t)(ms / 1000 - (ms % 1000 < 0));
        struct zone parsed;
        struct tm tm;
        int rc = 0;

        if (zone == NULL || !parse_zone(zone, &parsed))
                return -1;
        if (parsed.kind == ZONE_IANA) {
                pthread_mutex_lock(&tz_lock);
                if (!select_tz(parsed.name) || !localtime_r(&t, &tm))
                        rc = -1;
                pthread_mutex_unlock(&tz_lock);
        } else {
                t += (time_t)parsed.offset_s;
                if (!gmtime_r(&t, &tm))
                        rc = -1;
        }
        if (rc == 0) {
                *year = tm.tm_year + 1900;
                *month = tm.tm_mon + 1;
                *day = tm.tm_mday;
        }
        return rc;
}
