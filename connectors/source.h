/*
 * Input records for the connector, from CSV or JSON Lines as the profile
 * selects. For CSV the first record is the header when the profile has
 * "header": true, and its names (converted from the profile's encoding)
 * bind the profile's column names to positions.
 */
#ifndef HEARTH_SOURCE_H
#define HEARTH_SOURCE_H

#include <stdint.h>
#include <stdio.h>

#include "connectors/mapper.h"
#include "connectors/profile.h"

typedef struct hearth_source hearth_source_t;

typedef enum hearth_source_status {
        HEARTH_SOURCE_OK = 0,
        HEARTH_SOURCE_EOF,
        HEARTH_SOURCE_BAD,      /* rejected before mapping; see reason */
        HEARTH_SOURCE_IO_ERROR
} hearth_source_status_t;

typedef struct hearth_source_record {
        hearth_row_t row;
        uint64_t record_number; /* 1-based data record (header excluded) */
        const char *reason;     /* when HEARTH_SOURCE_BAD */
        const char *raw;        /* the record's raw bytes, maybe truncated */
        size_t raw_len;
} hearth_source_record_t;

/*
 * Opens a source on fp (not owned) and reads the header if there is one.
 * The profile is bound to the header, so it must not be shared between two
 * open sources. Returns NULL and fills errstr on failure.
 */
hearth_source_t *hearth_source_open(FILE *fp, hearth_profile_t *profile,
                                    char *errstr, size_t errstr_size);

/* Reads the next record; its contents are valid until the next call. */
hearth_source_status_t hearth_source_next(hearth_source_t *src,
                                          hearth_source_record_t *rec);

void hearth_source_close(hearth_source_t *src);

#endif
