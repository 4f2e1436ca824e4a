/*
 * Connector profiles: how one source's records map to IncidentEvent.
 *
 * A profile is a JSON file (reference: connectors/profiles/README.md). It
 * names the input format, encoding and time zone, where each IncidentEvent
 * field comes from (a column name, a 0-based column index, or a constant),
 * which categories are domestic, which categories and narrative keywords
 * set risk flags, which columns are identifiers to pseudonymize, and which
 * lifecycle events one record produces.
 *
 * Ownership: hearth_profile_load() returns a profile the caller frees with
 * hearth_profile_free(). A profile is read-only after load and binding.
 */
#ifndef HEARTH_PROFILE_H
#define HEARTH_PROFILE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/csv.h"

typedef enum hearth_input_format {
        HEARTH_FORMAT_CSV = 0,
        HEARTH_FORMAT_JSONL
} hearth_input_format_t;

typedef enum hearth_ref_kind {
        HEARTH_REF_NONE = 0,
        HEARTH_REF_COLUMN,      /* by header name; bound to an index */
        HEARTH_REF_INDEX,       /* by 0-based position */
        HEARTH_REF_VALUE        /* a constant */
} hearth_ref_kind_t;

/* Where a value comes from. */
typedef struct hearth_field_ref {
        hearth_ref_kind_t kind;
        char *name;             /* column name or constant */
        int index;              /* column position once bound, else -1 */
} hearth_field_ref_t;

typedef struct hearth_time_spec {
        hearth_field_ref_t column;
        char *format;
        hearth_field_ref_t time_column; /* optional time of day, see
                                         * hearth_time_parse_parts() */
        char *time_format;
} hearth_time_spec_t;

/* One lifecycle event that a record produces. */
typedef struct hearth_event_spec {
        int type;               /* Hearth__V1__EventType value */
        hearth_time_spec_t time;
        bool optional;          /* skip, not reject, when the time is empty */
        hearth_field_ref_t when_column;  /* emit only if this column... */
        char **when_values;     /* ...equals one of these, */
        size_t n_when_values;
        bool when_nonempty;     /* ...or is not empty */
        bool absent;            /* optional, and a column of it is not in
                                 * the input's header: never produced */
} hearth_event_spec_t;

/* Risk flags are bits, in the order of the RiskFlags message fields. */
enum {
        HEARTH_FLAG_WEAPON = 1u << 0,
        HEARTH_FLAG_FIREARM = 1u << 1,
        HEARTH_FLAG_STRANGULATION = 1u << 2,
        HEARTH_FLAG_THREAT_TO_KILL = 1u << 3,
        HEARTH_FLAG_INJURY = 1u << 4,
        HEARTH_FLAG_CHILDREN_PRESENT = 1u << 5,
        HEARTH_FLAG_SUICIDE_THREAT = 1u << 6,
        HEARTH_FLAG_VICTIM_FEARS_DEATH = 1u << 7,
        HEARTH_FLAG_INTOXICATION = 1u << 8,
        HEARTH_FLAG_PREGNANCY = 1u << 9,
        HEARTH_FLAG_SEPARATION = 1u << 10,
        HEARTH_FLAG_STALKING = 1u << 11,
        HEARTH_FLAG_ESCALATION = 1u << 12,
        HEARTH_FLAG_COUNT = 13
};

/* Returns the bit for a flag name such as "threat_to_kill", or 0. */
uint32_t hearth_flag_from_name(const char *name);

typedef struct hearth_pattern_rule {
        regex_t re;
        uint32_t flags;
} hearth_pattern_rule_t;

typedef struct hearth_keyword_rule {
        char *keyword;          /* ASCII letters lower-cased at load */
        uint32_t flags;
} hearth_keyword_rule_t;

typedef struct hearth_value_map {
        char *from;
        int to;
} hearth_value_map_t;

typedef struct hearth_profile {
        char *name;
        hearth_input_format_t format;
        char *encoding;         /* NULL or "UTF-8" means no conversion */
        bool header;
        char *time_zone;
        hearth_csv_limits_t limits;
        size_t expected_columns;        /* 0: the header's count */

        hearth_field_ref_t incident_id;
        char *incident_prefix;
        hearth_field_ref_t province, city, district, station, grid;
        hearth_field_ref_t category_code, category_text;

        hearth_field_ref_t domestic_column;
        bool domestic_all;              /* every record is domestic */
        bool has_domestic_regex;
        regex_t domestic_regex;
        char **domestic_values;
        size_t n_domestic_values;

        hearth_pattern_rule_t *category_flags;
        size_t n_category_flags;

        hearth_field_ref_t address;
        bool has_address_strip;
        regex_t address_strip;          /* removed from the normalized text */
        char **address_withheld;        /* normalized; sets location_withheld */
        size_t n_address_withheld;
        char **address_ignored;         /* normalized; no address key */
        size_t n_address_ignored;

        hearth_field_ref_t lat, lon;
        hearth_field_ref_t coordinates;  /* one column holding "(lat, lon)" */
        bool has_bbox;
        double bbox[4];                  /* lat min, lat max, lon min, lon max */

        hearth_field_ref_t caller;
        hearth_field_ref_t parties;
        char *party_separator;
        char *role_separator;
        hearth_value_map_t *roles;
        size_t n_roles;
        bool parties_are_cn_id;         /* derive age band and sex from an
                                         * 18-digit resident ID number */

        hearth_field_ref_t narrative;
        hearth_keyword_rule_t *keywords;
        size_t n_keywords;

        hearth_field_ref_t disposition;
        hearth_value_map_t *dispositions;
        size_t n_dispositions;

        hearth_event_spec_t *events;
        size_t n_events;
} hearth_profile_t;

/* Loads and validates; NULL with errstr naming the option on failure. */
hearth_profile_t *hearth_profile_load(const char *path, char *errstr,
                                      size_t errstr_size);

/* Same, from JSON text (tests and fuzzing). */
hearth_profile_t *hearth_profile_parse(const char *json, size_t len,
                                       char *errstr, size_t errstr_size);

/*
 * Binds column names to positions from a CSV header. Returns -1 with errstr
 * naming the first missing column.
 */
int hearth_profile_bind_header(hearth_profile_t *p, char **names,
                               const size_t *lengths, size_t n, char *errstr,
                               size_t errstr_size);

void hearth_profile_free(hearth_profile_t *p);

#endif
