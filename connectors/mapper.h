/*
 * Mapping of one input record to its IncidentEvent messages.
 *
 * The mapper validates the record (column count, encoding, incident id,
 * times), converts legacy encodings, pseudonymizes identifiers, scans the
 * narrative for risk keywords, and packs one protobuf message per lifecycle
 * event. Raw identifiers and narrative text never leave this module: they
 * are neither stored in the messages nor copied into error details.
 */
#ifndef HEARTH_MAPPER_H
#define HEARTH_MAPPER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connectors/profile.h"
#include "connectors/pseudo.h"

#define HEARTH_MAPPER_MAX_EVENTS 16
#define HEARTH_MAPPER_MAX_PARTIES 16

typedef struct hearth_mapper hearth_mapper_t;

/* One input record: CSV fields, or a JSON object for JSON Lines. */
typedef struct hearth_row {
        char **fields;
        size_t *lengths;
        size_t nfields;
        json_t *object;
} hearth_row_t;

/* One packed IncidentEvent; payload and key are malloc'd, caller frees. */
typedef struct hearth_mapped_event {
        int64_t event_time_ms;
        uint64_t record_number;
        int event_type;
        bool domestic;
        char *key;              /* district code, the Kafka message key */
        uint8_t *payload;
        size_t payload_len;
} hearth_mapped_event_t;

typedef struct hearth_map_error {
        const char *reason;     /* stable code, e.g. "invalid_time" */
        char detail[160];       /* column names and formats only, no values */
} hearth_map_error_t;

/*
 * Creates a mapper. It borrows profile and pseudo, which must outlive it.
 * source_file is the base name recorded in Source.file. Returns NULL and
 * fills errstr when the profile's encoding is unknown.
 */
hearth_mapper_t *hearth_mapper_new(const hearth_profile_t *profile,
                                   const hearth_pseudo_t *pseudo,
                                   const char *source_file, char *errstr,
                                   size_t errstr_size);

/*
 * Maps one record. On success returns the number of events written to out
 * (0 to HEARTH_MAPPER_MAX_EVENTS). Returns -1 and fills err when the record
 * is rejected. ingest_time_ms is stamped on every event.
 */
int hearth_mapper_map(hearth_mapper_t *m, const hearth_row_t *row,
                      uint64_t record_number, int64_t ingest_time_ms,
                      hearth_mapped_event_t *out, hearth_map_error_t *err);

void hearth_mapped_event_clear(hearth_mapped_event_t *e);

void hearth_mapper_free(hearth_mapper_t *m);

#endif
