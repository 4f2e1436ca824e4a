/*
 * Parsing of local or zoned timestamps from input records into UTC
 * milliseconds since the Unix epoch.
 *
 * A format is a strptime(3) pattern ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M")
 * or one of the names "iso8601", "epoch_s" and "epoch_ms". "iso8601" is
 * RFC 3339 with optional fraction, "Z" or "+hh:mm". It also accepts a space
 * in place of the "T", no seconds, and no offset, in which case the zone
 * applies. The epoch formats take digits with an optional sign. The whole
 * text must match, apart from surrounding spaces.
 *
 * A zone is an IANA name ("Asia/Shanghai", "America/Chicago"), "UTC" (also
 * "Z" or NULL), or a fixed offset "+08:00"/"-0500". It applies to patterns
 * without their own offset and is ignored for the epoch formats. A local
 * time that occurs twice (the hour a daylight-saving change repeats) takes
 * the earlier instant. A local time that does not exist (the skipped hour)
 * is rejected.
 *
 * Dates must be real (no February 30) and their year within 1970..2100:
 * anything else is taken as garbage and rejected. The year is the local one
 * as written. For the epoch formats, the instant must fall in those years
 * in UTC.
 *
 * Thread safety: serialized internally (IANA zones go through TZ and mktime).
 * TZ stays set to the last IANA zone used, which changes what localtime()
 * returns elsewhere in the process.
 */
#ifndef HEARTH_TIMEPARSE_H
#define HEARTH_TIMEPARSE_H

#include <stdint.h>

/* Returns 0 and sets *out_ms, or -1 when the text does not match. */
int hearth_time_parse(const char *text, const char *format, const char *zone,
                      int64_t *out_ms);

/*
 * Combines the calendar date parsed from date_text (its time of day, if the
 * pattern has one, is ignored) with the time of day parsed from time_text.
 * Both formats are strptime patterns. Berkeley's export, for one, gives
 * "03/13/2019 12:00:00 AM" and "14:05".
 */
int hearth_time_parse_parts(const char *date_text, const char *date_format,
                            const char *time_text, const char *time_format,
                            const char *zone, int64_t *out_ms);

/*
 * Sets the calendar date (month 1-12) of instant ms in zone; -1 when the
 * zone is invalid.
 */
int hearth_time_local_date(int64_t ms, const char *zone, int *year,
                           int *month, int *day);

/* Returns -1 unless zone is "UTC", a fixed offset or a known IANA name. */
int hearth_time_zone_valid(const char *zone);

#endif
