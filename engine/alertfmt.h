/*
 * Readable forms of alerts and incident events: JSON objects (jansson) for
 * JSON Lines output, and one text line per alert for people at a terminal.
 * Used by hearth-watch and hearth-admin.
 */
#ifndef HEARTH_ALERTFMT_H
#define HEARTH_ALERTFMT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"
#include "hearth/v1/tag.pb-c.h"

/* Incident ids that one alert line lists before "+N more". */
#define HEARTH_ALERT_LINE_MAX_IDS 10

/* Buffer size that fits any string hearth_format_utc_ms writes. */
#define HEARTH_UTC_TIME_SIZE 32

/*
 * Writes ms (milliseconds since the Unix epoch) as ISO 8601 UTC:
 * "2018-05-03T14:00:00Z", or "2018-05-03T14:00:00.250Z" when the
 * millisecond part is not zero. Returns -1 and writes "" when the year is
 * outside 0000..9999 or size is below HEARTH_UTC_TIME_SIZE.
 */
int hearth_format_utc_ms(int64_t ms, char *buf, size_t size);

/*
 * Returns the proto name of an enum value ("P1", "HOUSEHOLD"), or NULL for
 * a number the descriptor does not list.
 */
const char *hearth_enum_name(const ProtobufCEnumDescriptor *desc, int value);

/*
 * Builds a JSON object with every Alert field under its proto name. Enums
 * are names (numbers when unknown), reasons are [{"code", "text"}], and
 * window_start, window_end and event_time also appear as ISO 8601 strings
 * next to their *_ms integers. Returns a new reference, or NULL when out
 * of memory.
 */
json_t *hearth_alert_to_json(const Hearth__V1__Alert *a);

/*
 * Builds a JSON object with every IncidentEvent field, nested messages as
 * objects (null when absent) and enums as names. event_time and
 * ingest_time also appear as ISO 8601 strings. Returns a new reference, or
 * NULL when out of memory.
 */
json_t *hearth_incident_to_json(const Hearth__V1__IncidentEvent *e);

/* Converts a Tag like an alert; expires_at and event_time appear as ISO
 * 8601 strings too. */
json_t *hearth_tag_to_json(const Hearth__V1__Tag *t);

/*
 * Formats one line without a trailing newline:
 *
 *   P2 repeat_calls region=3301/330102 count=3
 *   window=2018-05-03T14:00:00Z/2018-05-10T09:00:00Z "first reason text"
 *   incidents=I1,I2,I3
 *
 * (all on one line). After HEARTH_ALERT_LINE_MAX_IDS ids the rest is
 * shown as "+N more". Control characters in the alert's strings become
 * spaces. When color is non-zero the line is wrapped in ANSI colors: P1
 * bold red, P2 red, P3 yellow, P4 cyan. Returns the length the full line
 * needs, like snprintf, so a result >= size means buf contains a truncated
 * line.
 */
int hearth_alert_format_line(const Hearth__V1__Alert *a, int color, char *buf,
                             size_t size);

#endif
