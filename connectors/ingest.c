/*
 * Reading of one export with a connector profile (see ingest.h). Events
 * are stamped with the wall-clock time at which their record was mapped.
 */
#include "connectors/ingest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/profile.h"
#include "connectors/pseudo.h"
#include "connectors/source.h"
#include "connectors/text.h"
#include "engine/common/log.h"

#define COMPONENT "connect"

struct hearth_ingest {
        hearth_ingest_conf_t conf;
        hearth_ingest_stats_t stats;
        hearth_profile_t *profile;
        hearth_pseudo_t *pseudo;
        hearth_mapper_t *mapper;
};

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

hearth_ingest_t *hearth_ingest_new(const hearth_ingest_conf_t *conf,
                                   char *errstr, size_t errstr_size)
{
        hearth_ingest_t *in = calloc(1, sizeof(*in));

        if (!in) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        in->conf = *conf;
        in->profile = hearth_profile_load(conf->profile_path, errstr,
                                          errstr_size);
        if (!in->profile)
                goto fail;
        in->pseudo = hearth_pseudo_load(conf->key_file, conf->key_id, errstr,
                                        errstr_size);
        if (!in->pseudo)
                goto fail;
        in->mapper = hearth_mapper_new(in->profile, in->pseudo,
                                       conf->file_name, errstr, errstr_size);
        if (!in->mapper)
                goto fail;
        return in;
fail:
        hearth_ingest_free(in);
        return NULL;
}

void hearth_ingest_count_reason(hearth_ingest_stats_t *s, const char *reason)
{
        s->rejected++;
        for (size_t i = 0; i < s->n_reasons; i++) {
                if (strcmp(s->reasons[i].reason, reason) == 0) {
                        s->reasons[i].count++;
                        return;
                }
        }
        if (s->n_reasons < HEARTH_INGEST_MAX_REASONS)
                s->reasons[s->n_reasons++] =
                        (hearth_reason_count_t){reason, 1};
}

static json_t *hex_string(const char *raw, size_t len)
{
        static const char digits[] = "0123456789abcdef";
        char *hex = malloc(2 * len + 1);
        json_t *s;

        for (size_t i = 0; i < len; i++) {
                hex[2 * i] = digits[(unsigned char)raw[i] >> 4];
                hex[2 * i + 1] = digits[(unsigned char)raw[i] & 15];
        }
        hex[2 * len] = '\0';
        s = json_string(hex);
        free(hex);
        return s;
}

char *hearth_dead_letter_json(const char *reason, uint64_t record_number,
                              const char *profile, const char *file,
                              const char *detail, const char *raw,
                              size_t raw_len, bool include_raw)
{
        json_t *doc;
        char *text;

        doc = json_pack("{s:s, s:I, s:s, s:s, s:s}", "reason", reason,
                        "record_number", (json_int_t)record_number, "profile",
                        profile, "file", file, "detail",
                        detail ? detail : "");
        if (include_raw && raw && hearth_utf8_valid(raw, raw_len))
                json_object_set_new(doc, "raw", json_stringn(raw, raw_len));
        else if (include_raw && raw)
                json_object_set_new(doc, "raw_hex", hex_string(raw, raw_len));
        text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(doc);
        return text;
}

static void reject(hearth_ingest_t *in, const hearth_ingest_sink_t *sink,
                   uint64_t record_number, const char *reason,
                   const char *detail, const char *raw, size_t raw_len)
{
        char *text;

        hearth_ingest_count_reason(&in->stats, reason);
        hearth_debug(COMPONENT, "record %llu rejected: %s",
                     (unsigned long long)record_number, reason);
        if (!sink->dead_letter)
                return;
        text = hearth_dead_letter_json(reason, record_number,
                                       in->profile->name, in->conf.file_name,
                                       detail, raw, raw_len,
                                       in->conf.dlq_include_raw);
        sink->dead_letter(sink->opaque, text, strlen(text), reason);
}

static void map_record(hearth_ingest_t *in, const hearth_ingest_sink_t *sink,
                       hearth_source_record_t *rec)
{
        hearth_mapped_event_t events[HEARTH_MAPPER_MAX_EVENTS];
        hearth_map_error_t err;
        int n;

        n = hearth_mapper_map(in->mapper, &rec->row, rec->record_number,
                              wall_ms(), events, &err);
        if (n < 0) {
                reject(in, sink, rec->record_number, err.reason, err.detail,
                       rec->raw, rec->raw_len);
                return;
        }
        in->stats.records_ok++;
        if (n > 0 && events[0].domestic)
                in->stats.domestic_records++;
        for (int i = 0; i < n; i++) {
                in->stats.events++;
                if (events[i].domestic)
                        in->stats.domestic_events++;
                sink->event(sink->opaque, &events[i]);
        }
}

int hearth_ingest_read(hearth_ingest_t *in, FILE *fp,
                       const hearth_ingest_sink_t *sink,
                       volatile sig_atomic_t *stop)
{
        const char *file = in->conf.file_name;
        hearth_source_record_t rec;
        hearth_source_status_t st;
        hearth_source_t *src;
        char errstr[512];

        src = hearth_source_open(fp, in->profile, errstr, sizeof(errstr));
        if (!src) {
                hearth_error(COMPONENT, "%s: %s", file, errstr);
                return -1;
        }
        while (!*stop &&
               (st = hearth_source_next(src, &rec)) != HEARTH_SOURCE_EOF) {
                if (st == HEARTH_SOURCE_IO_ERROR) {
                        hearth_error(COMPONENT, "%s: read error after record "
                                     "%llu: %s", file,
                                     (unsigned long long)in->stats.records,
                                     strerror(errno));
                        hearth_source_close(src);
                        return -1;
                }
                in->stats.records++;
                if (st == HEARTH_SOURCE_BAD)
                        reject(in, sink, rec.record_number, rec.reason, "",
                               rec.raw, rec.raw_len);
                else
                        map_record(in, sink, &rec);
                if (sink->progress)
                        sink->progress(sink->opaque);
        }
        hearth_source_close(src);
        return 0;
}

const hearth_ingest_stats_t *hearth_ingest_stats(const hearth_ingest_t *in)
{
        return &in->stats;
}

const char *hearth_ingest_profile_name(const hearth_ingest_t *in)
{
        return in->profile->name;
}

json_t *hearth_ingest_reasons_json(const hearth_ingest_stats_t *s)
{
        json_t *reasons = json_object();

        for (size_t i = 0; i < s->n_reasons; i++)
                json_object_set_new(reasons, s->reasons[i].reason,
                                    json_integer((json_int_t)
                                                 s->reasons[i].count));
        return reasons;
}

void hearth_ingest_print_reasons(const hearth_ingest_stats_t *s,
                                 const char *program)
{
        for (size_t i = 0; i < s->n_reasons; i++)
                fprintf(stderr, "%s:   rejected %-20s %llu\n", program,
                        s->reasons[i].reason,
                        (unsigned long long)s->reasons[i].count);
}

void hearth_ingest_free(hearth_ingest_t *in)
{
        if (!in)
                return;
        hearth_mapper_free(in->mapper);
        hearth_pseudo_free(in->pseudo);
        hearth_profile_free(in->profile);
        free(in);
}

void hearth_event_list_push(hearth_event_list_t *l,
                            const hearth_mapped_event_t *e)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 4096;
                l->events = realloc(l->events, l->cap * sizeof(*l->events));
                if (!l->events) {
                        hearth_error(COMPONENT, "out of memory for %zu "
                                     "events", l->cap);
                        abort();
                }
        }
        l->events[l->n++] = *e;
}

static int by_event_time(const void *a, const void *b)
{
        const hearth_mapped_event_t *x = a, *y = b;

        if (x->event_time_ms != y->event_time_ms)
                return x->event_time_ms < y->event_time_ms ? -1 : 1;
        if (x->record_number != y->record_number)
                return x->record_number < y->record_number ? -1 : 1;
        return (x->event_type > y->event_type) -
               (x->event_type < y->event_type);
}

void hearth_event_list_sort(hearth_event_list_t *l)
{
        if (l->n > 1)
                qsort(l->events, l->n, sizeof(*l->events), by_event_time);
}

void hearth_event_list_free(hearth_event_list_t *l)
{
        for (size_t i = 0; i < l->n; i++)
                hearth_mapped_event_clear(&l->events[i]);
        free(l->events);
        *l = (hearth_event_list_t){0};
}
