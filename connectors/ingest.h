/*
 * Reading of one export with a connector profile, shared by
 * hearth-connect and hearth-replay: each record is parsed, then mapped to
 * packed IncidentEvent messages, or becomes a dead letter (JSON with the
 * reason and the record number) when it is rejected. Both go to a sink of
 * callbacks; this module sends nothing itself.
 *
 * It also keeps a list of mapped events that is sorted by event time
 * before a replay of history sends it.
 */
#ifndef HEARTH_INGEST_H
#define HEARTH_INGEST_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "connectors/mapper.h"

#define HEARTH_INGEST_MAX_REASONS 32

typedef struct hearth_ingest hearth_ingest_t;

typedef struct hearth_ingest_conf {
        const char *profile_path;
        const char *key_file;           /* HMAC secret, see pseudo.h */
        const char *key_id;
        const char *file_name;          /* base name in Source.file, "-" */
        bool dlq_include_raw;           /* raw record in dead letters */
} hearth_ingest_conf_t;

typedef struct hearth_reason_count {
        const char *reason;
        uint64_t count;
} hearth_reason_count_t;

typedef struct hearth_ingest_stats {
        uint64_t records;
        uint64_t records_ok;
        uint64_t domestic_records;
        uint64_t events;
        uint64_t domestic_events;
        uint64_t rejected;
        /* Rejections by reason; reasons past the max are counted in
         * rejected only. */
        hearth_reason_count_t reasons[HEARTH_INGEST_MAX_REASONS];
        size_t n_reasons;
} hearth_ingest_stats_t;

/*
 * Callbacks for what the reader produces. event takes the event's payload
 * and key (it frees them, e.g. with hearth_mapped_event_clear()).
 * dead_letter takes json, a malloc'd JSON text. progress, when not NULL,
 * runs after each record.
 */
typedef struct hearth_ingest_sink {
        void (*event)(void *opaque, hearth_mapped_event_t *e);
        void (*dead_letter)(void *opaque, char *json, size_t len,
                            const char *reason);
        void (*progress)(void *opaque);
        void *opaque;
} hearth_ingest_sink_t;

/* Loads the profile and the key; returns NULL and fills errstr. The
 * strings of conf must outlive the reader. */
hearth_ingest_t *hearth_ingest_new(const hearth_ingest_conf_t *conf,
                                   char *errstr, size_t errstr_size);

/*
 * Reads every record of fp (not owned). Stops early, returning 0, once
 * *stop is nonzero. Returns -1, after logging the error, when fp cannot
 * be read.
 */
int hearth_ingest_read(hearth_ingest_t *in, FILE *fp,
                       const hearth_ingest_sink_t *sink,
                       volatile sig_atomic_t *stop);

const hearth_ingest_stats_t *hearth_ingest_stats(const hearth_ingest_t *in);

const char *hearth_ingest_profile_name(const hearth_ingest_t *in);

/* Counts one rejected record under reason, a string that must outlive
 * stats. */
void hearth_ingest_count_reason(hearth_ingest_stats_t *stats,
                                const char *reason);

/* Returns the rejections by reason as a JSON object (new reference). */
json_t *hearth_ingest_reasons_json(const hearth_ingest_stats_t *stats);

/* Writes one line per rejection reason, prefixed by "program: ". */
void hearth_ingest_print_reasons(const hearth_ingest_stats_t *stats,
                                 const char *program);

/*
 * Builds a dead letter: a JSON object with reason, record_number, profile,
 * file and detail, plus the raw record ("raw" if it is UTF-8, else
 * "raw_hex") when include_raw is set and raw is not NULL. Returns malloc'd
 * text.
 */
char *hearth_dead_letter_json(const char *reason, uint64_t record_number,
                              const char *profile, const char *file,
                              const char *detail, const char *raw,
                              size_t raw_len, bool include_raw);

void hearth_ingest_free(hearth_ingest_t *in);

/* A growable array of mapped events, which owns their payloads and keys. */
typedef struct hearth_event_list {
        hearth_mapped_event_t *events;
        size_t n, cap;
} hearth_event_list_t;

/* Appends e, taking its payload and key. */
void hearth_event_list_push(hearth_event_list_t *l,
                            const hearth_mapped_event_t *e);

/*
 * Sorts by event time; record number, then event type, break ties, so the
 * order does not depend on the sort algorithm and a replay sends the same
 * sequence every time.
 */
void hearth_event_list_sort(hearth_event_list_t *l);

/* Frees every event still in the list and the array. */
void hearth_event_list_free(hearth_event_list_t *l);

#endif
