/*
 * hearth-replay: sends a history of incidents to Kafka in event-time
 * order, as fast as possible, at a speed-up of event time, or at a fixed
 * rate, so the engine and its benchmarks see a realistic stream.
 *
 * The input is an export read with a connector profile, exactly as
 * hearth-connect reads it, or a file of length-delimited IncidentEvent
 * records written by hearth-connect --output. Every event is held in
 * memory as its packed message (plus its key and 48 bytes of bookkeeping)
 * until it is sent, then sorted by event time. Each event's ingest_time_ms
 * is set to the wall clock when it is sent, unless --keep-ingest-time, so
 * the engine's alerts carry the send time (trigger_ingest_time_ms) and
 * end-to-end latency can be measured.
 *
 * Sends wait with clock_nanosleep() on CLOCK_MONOTONIC until absolute
 * deadlines (pacing.h), so errors in one sleep do not add up, and the
 * producer is polled while waiting.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectors/delimited.h"
#include "connectors/ingest.h"
#include "connectors/options.h"
#include "connectors/pacing.h"
#include "connectors/sender.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"
#include "hearth/v1/incident.pb-c.h"

#define PROGRAM "hearth-replay"
#define COMPONENT "replay"
#define POLL_SLICE_NS INT64_C(20000000) /* max sleep between two polls */
#define PROGRESS_INTERVAL_S 0.5

typedef struct options {
        hearth_connector_options_t common;
        const char *input;
        const char *protobuf;
        double speed;           /* 0: not set */
        double rate;            /* events/s; 0: not set */
        hearth_pace_mode_t pace;
        double factor;          /* speed or rate, as pace selects */
        int keep_ingest_time;
} options_t;

/* Send-side counters. Event times are UTC ms. */
typedef struct send_stats {
        uint64_t sent;
        int64_t min_event_ms, max_event_ms;
        int64_t current_event_ms;
        int64_t max_late_ns;    /* latest send after its deadline */
        double sum_late_ns;
        double started, ended;  /* monotonic s of the first, last send */
        double flushed;         /* monotonic s when the last report came */
} send_stats_t;

typedef struct replay {
        options_t opt;
        hearth_ingest_t *ingest;        /* NULL with --protobuf */
        hearth_ingest_stats_t pb_stats; /* records of --protobuf input */
        hearth_sender_t *sender;
        hearth_event_list_t events;
        send_stats_t send;
        const char *file_name;
        double started;
        double last_progress;
        uint64_t last_progress_sent;
} replay_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static int64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double now_s(void)
{
        return (double)mono_ns() / 1e9;
}

static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
        fprintf(out,
"Usage: hearth-replay --profile FILE --key-file FILE [options] [INPUT]\n"
"       hearth-replay --protobuf FILE [options]\n"
"\n"
"Sends a history of incidents to Kafka in event-time order. INPUT (a file,\n"
"or standard input when absent or \"-\") is read with the profile as\n"
"hearth-connect reads it; --protobuf reads the file hearth-connect --output\n"
"writes. Every event is held in memory until it is sent.\n"
"\n"
"  -p, --profile FILE       connector profile (JSON)\n"
"  -k, --key-file FILE      HMAC secret for pseudonyms, mode 600\n"
"      --key-id ID          key id written before each pseudonym (k1)\n"
"      --protobuf FILE      length-delimited IncidentEvent records (\"-\":\n"
"                           standard input) instead of a profile and INPUT\n"
"  -b, --brokers LIST       bootstrap servers (" HEARTH_KAFKA_DEFAULT_BROKERS ")\n"
"  -t, --topic NAME         input topic (hearth.incidents)\n"
"      --dlq-topic NAME     dead-letter topic (hearth.incidents.dlq)\n"
"      --kafka-config FILE  librdkafka properties, e.g. TLS and SASL\n"
"  -X NAME=VALUE            one librdkafka property; repeatable\n"
"      --speed X            keep the gaps between event times, divided by X\n"
"                           (3600: one hour of history per second)\n"
"      --rate N             send N events per second, whatever their times\n"
"                           (default without either: as fast as possible)\n"
"      --order ORDER        event-time (default): stable sort by event time\n"
"                           before sending; file: keep the input order, so\n"
"                           late events stay late\n"
"      --keep-ingest-time   keep each event's ingest_time_ms instead of\n"
"                           setting it to the wall clock at send time\n"
"      --dlq-include-raw    put the raw record in dead-letter messages;\n"
"                           off by default because it holds personal data\n"
"      --summary-json FILE  write the final counts and timings as JSON\n"
"      --progress / --no-progress\n"
"                           progress line (default: when on a terminal)\n"
"      --flush-timeout MS   wait at most MS for deliveries at the end\n"
"                           (60000)\n"
"      --log-level LEVEL    debug, info, warn or error (info)\n"
"  -h, --help               this text\n"
"\n"
"Exit status: 0 when every event and dead letter was delivered, 1 when a\n"
"delivery failed or the input could not be read, 2 for invalid options.\n");
}

/* Parses a positive, finite --speed or --rate value. */
static int parse_factor(const char *name, const char *text, double *out)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(text, &end);
        if (errno != 0 || end == text || *end != '\0' || !isfinite(v) ||
            v <= 0) {
                fprintf(stderr, PROGRAM ": invalid --%s \"%s\": use a "
                        "positive number\n", name, text);
                return -1;
        }
        *out = v;
        return 0;
}

/* Checks the combination of options once all are parsed. */
static int check_options(options_t *o)
{
        if (o->speed > 0 && o->rate > 0) {
                fprintf(stderr, PROGRAM ": --speed and --rate exclude each "
                                "other; use one\n");
                return -1;
        }
        o->pace = o->speed > 0  ? HEARTH_PACE_SPEED
                  : o->rate > 0 ? HEARTH_PACE_RATE
                                : HEARTH_PACE_MAX;
        o->factor = o->speed > 0 ? o->speed : o->rate;
        if (o->protobuf &&
            (o->common.profile || o->common.key_file || o->input)) {
                fprintf(stderr, PROGRAM ": --protobuf replaces --profile, "
                                "--key-file and INPUT; give one or the "
                                "other\n");
                return -1;
        }
        if (!o->protobuf && (!o->common.profile || !o->common.key_file)) {
                fprintf(stderr, PROGRAM ": --profile and --key-file, or "
                                "--protobuf, are required; see --help\n");
                return -1;
        }
        if (!o->protobuf && !o->input)
                o->input = "-";
        return 0;
}

static int parse_options(int argc, char **argv, options_t *o)
{
        enum { OPT_PROTOBUF = HEARTH_OPT_END, OPT_SPEED, OPT_RATE,
               OPT_KEEP };
        static const struct option longopts[] = {
                HEARTH_CONNECTOR_LONGOPTS,
                {"protobuf", required_argument, NULL, OPT_PROTOBUF},
                {"speed", required_argument, NULL, OPT_SPEED},
                {"rate", required_argument, NULL, OPT_RATE},
                {"keep-ingest-time", no_argument, NULL, OPT_KEEP},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0}};
        int c, rc;

        *o = (options_t){0};
        hearth_connector_options_init(&o->common);
        while ((c = getopt_long(argc, argv, HEARTH_CONNECTOR_SHORTOPTS "h",
                                longopts, NULL)) != -1) {
                rc = hearth_connector_option(&o->common, c, optarg, PROGRAM);
                if (rc < 0)
                        return -1;
                if (rc > 0)
                        continue;
                switch (c) {
                case OPT_PROTOBUF: o->protobuf = optarg; break;
                case OPT_KEEP: o->keep_ingest_time = 1; break;
                case OPT_SPEED:
                        if (parse_factor("speed", optarg, &o->speed) != 0)
                                return -1;
                        break;
                case OPT_RATE:
                        if (parse_factor("rate", optarg, &o->rate) != 0)
                                return -1;
                        break;
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); return -1;
                }
        }
        if (optind < argc)
                o->input = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, PROGRAM ": one input at most\n");
                return -1;
        }
        return check_options(o);
}

static void show_read_progress(void *opaque)
{
        replay_t *r = opaque;
        double t = now_s();

        if (!r->opt.common.progress ||
            t - r->last_progress < PROGRESS_INTERVAL_S)
                return;
        r->last_progress = t;
        fprintf(stderr, "\r" PROGRAM ": reading, %llu records",
                (unsigned long long)hearth_ingest_stats(r->ingest)->records);
}

static void keep_event(void *opaque, hearth_mapped_event_t *e)
{
        replay_t *r = opaque;

        hearth_event_list_push(&r->events, e);
}

static void send_dead_letter(void *opaque, char *json, size_t len,
                             const char *reason)
{
        replay_t *r = opaque;

        hearth_sender_send_dead_letter(r->sender, json, len, reason);
}

/* Rejects one --protobuf record as a dead letter. */
static void reject_record(replay_t *r, uint64_t number, const char *reason,
                          const char *detail, const uint8_t *data, size_t len)
{
        char *json;

        hearth_ingest_count_reason(&r->pb_stats, reason);
        hearth_debug(COMPONENT, "record %llu rejected: %s",
                     (unsigned long long)number, reason);
        json = hearth_dead_letter_json(reason, number, "", r->file_name,
                                       detail, (const char *)data, len,
                                       r->opt.common.dlq_raw);
        hearth_sender_send_dead_letter(r->sender, json, strlen(json), reason);
}

/* Keeps one --protobuf record as an event; number is its 1-based
 * position, the tie-break of the sort. */
static void keep_record(replay_t *r, uint64_t number, const uint8_t *data,
                        size_t len)
{
        Hearth__V1__IncidentEvent *ev;
        hearth_mapped_event_t e = {0};

        ev = hearth__v1__incident_event__unpack(NULL, len, data);
        if (!ev) {
                reject_record(r, number, "invalid_protobuf",
                              "not an IncidentEvent", data, len);
                return;
        }
        if (ev->incident_id[0] == '\0') {
                reject_record(r, number, "missing_incident_id", "",
                              data, len);
                hearth__v1__incident_event__free_unpacked(ev, NULL);
                return;
        }
        e.event_time_ms = ev->event_time_ms;
        e.record_number = number;
        e.event_type = ev->event_type;
        e.domestic = ev->is_domestic;
        e.key = ev->district_code[0] ? strdup(ev->district_code) : NULL;
        e.payload = malloc(len > 0 ? len : 1);
        memcpy(e.payload, data, len);
        e.payload_len = len;
        hearth__v1__incident_event__free_unpacked(ev, NULL);

        r->pb_stats.records_ok++;
        r->pb_stats.events++;
        if (e.domestic)
                r->pb_stats.domestic_events++;
        hearth_event_list_push(&r->events, &e);
}

/* Reads a --protobuf file; returns -1 when its framing is broken. */
static int read_protobuf(replay_t *r, FILE *fp)
{
        hearth_delimited_reader_t *reader;
        hearth_delimited_status_t st;
        const uint8_t *data;
        size_t len;
        uint64_t offset;
        int rc = 0;

        reader = hearth_delimited_reader_new(fp, 0);
        while (!stop_requested &&
               (st = hearth_delimited_next(reader, &data, &len, &offset)) ==
                       HEARTH_DELIMITED_OK) {
                r->pb_stats.records++;
                keep_record(r, r->pb_stats.records, data, len);
        }
        if (!stop_requested && st != HEARTH_DELIMITED_EOF) {
                hearth_error(COMPONENT, "%s: %s at byte %llu (record %llu)%s%s",
                             r->file_name, hearth_delimited_strerror(st),
                             (unsigned long long)offset,
                             (unsigned long long)r->pb_stats.records + 1,
                             st == HEARTH_DELIMITED_IO_ERROR ? ": " : "",
                             st == HEARTH_DELIMITED_IO_ERROR ? strerror(errno)
                                                              : "");
                rc = -1;
        }
        hearth_delimited_reader_free(reader);
        return rc;
}

static int read_input(replay_t *r, FILE *fp)
{
        hearth_ingest_sink_t sink = {.event = keep_event,
                                     .dead_letter = send_dead_letter,
                                     .progress = show_read_progress,
                                     .opaque = r};

        if (r->opt.protobuf)
                return read_protobuf(r, fp);
        return hearth_ingest_read(r->ingest, fp, &sink, &stop_requested);
}

/* Formats UTC ms as ISO 8601 with seconds, e.g. 2024-03-01T13:10:05Z. */
static const char *format_time(int64_t ms, char *buf, size_t size)
{
        time_t sec = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
        struct tm tm;

        if (!gmtime_r(&sec, &tm) ||
            strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, size, "%lld ms", (long long)ms);
        return buf;
}

static void show_send_progress(replay_t *r, int final)
{
        double t = now_s(), rate;
        char when[40];

        if (!r->opt.common.progress || (!final &&
                                 t - r->last_progress < PROGRESS_INTERVAL_S))
                return;
        rate = t > r->last_progress
                       ? (r->send.sent - r->last_progress_sent) /
                                 (t - r->last_progress)
                       : 0;
        r->last_progress = t;
        r->last_progress_sent = r->send.sent;
        fprintf(stderr, "\r" PROGRAM ": %llu of %zu events sent, %.0f/s, "
                        "event time %s%s",
                (unsigned long long)r->send.sent, r->events.n, rate,
                format_time(r->send.current_event_ms, when, sizeof(when)),
                final ? "\n" : "  ");
}

/* Sleeps until the monotonic deadline, polling the producer at least
 * every POLL_SLICE_NS. Returns early when a stop is requested. */
static void wait_until(replay_t *r, int64_t deadline_ns)
{
        struct timespec ts;
        int64_t now, wake;

        while (!stop_requested && !hearth_kafka_failure() &&
               (now = mono_ns()) < deadline_ns) {
                wake = deadline_ns - now > POLL_SLICE_NS ? now + POLL_SLICE_NS
                                                         : deadline_ns;
                ts.tv_sec = wake / 1000000000;
                ts.tv_nsec = wake % 1000000000;
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                hearth_sender_poll(r->sender, 0);
                if (r->opt.common.progress)
                        show_send_progress(r, 0);
        }
}

/*
 * Returns the payload to send for e: e's own with --keep-ingest-time,
 * else a copy packed again with ingest_time_ms set to now. Either way the
 * caller owns the result and e->payload is NULL afterwards.
 */
static uint8_t *stamp_ingest_time(replay_t *r, hearth_mapped_event_t *e,
                                  size_t *len)
{
        Hearth__V1__IncidentEvent *ev;
        uint8_t *out = e->payload;

        *len = e->payload_len;
        e->payload = NULL;
        if (r->opt.keep_ingest_time)
                return out;
        ev = hearth__v1__incident_event__unpack(NULL, *len, out);
        if (!ev)        /* it was unpacked when read */
                return out;
        free(out);
        ev->ingest_time_ms = wall_ms();
        *len = hearth__v1__incident_event__get_packed_size(ev);
        out = malloc(*len > 0 ? *len : 1);
        hearth__v1__incident_event__pack(ev, out);
        hearth__v1__incident_event__free_unpacked(ev, NULL);
        return out;
}

static void count_sent(send_stats_t *s, const hearth_mapped_event_t *e,
                       int64_t late_ns)
{
        if (s->sent == 0 || e->event_time_ms < s->min_event_ms)
                s->min_event_ms = e->event_time_ms;
        if (s->sent == 0 || e->event_time_ms > s->max_event_ms)
                s->max_event_ms = e->event_time_ms;
        s->current_event_ms = e->event_time_ms;
        if (late_ns > s->max_late_ns)
                s->max_late_ns = late_ns;
        s->sum_late_ns += (double)late_ns;
        s->sent++;
}

static void send_events(replay_t *r)
{
        hearth_pacing_t pacing;
        int64_t start_ns, deadline_ns, late_ns = 0;
        hearth_mapped_event_t *e;
        uint8_t *payload;
        size_t len;

        if (r->opt.common.sort_by_time)
                hearth_event_list_sort(&r->events);
        hearth_pacing_init(&pacing, r->opt.pace, r->opt.factor);
        start_ns = mono_ns();
        r->send.started = (double)start_ns / 1e9;
        r->last_progress = r->send.started;
        for (size_t i = 0; i < r->events.n && !stop_requested &&
                           !hearth_kafka_failure(); i++) {
                e = &r->events.events[i];
                deadline_ns = start_ns + hearth_pacing_next(&pacing,
                                                            e->event_time_ms);
                if (r->opt.pace != HEARTH_PACE_MAX) {
                        wait_until(r, deadline_ns);
                        late_ns = mono_ns() - deadline_ns;
                }
                if (stop_requested)
                        break;
                payload = stamp_ingest_time(r, e, &len);
                hearth_sender_send_event(r->sender, payload, len, e->key);
                count_sent(&r->send, e, late_ns);
                hearth_mapped_event_clear(e);
                show_send_progress(r, 0);
        }
        r->send.ended = now_s();
}

static const hearth_ingest_stats_t *input_stats(const replay_t *r)
{
        return r->ingest ? hearth_ingest_stats(r->ingest) : &r->pb_stats;
}

/* Seconds from the first send to the last send. */
static double send_seconds(const replay_t *r)
{
        return r->send.sent > 0 ? r->send.ended - r->send.started : 0;
}

/* Seconds from the first send until every delivery report was served. */
static double deliver_seconds(const replay_t *r)
{
        return r->send.sent > 0 ? r->send.flushed - r->send.started : 0;
}

/* Event-time span of the events sent, in seconds. */
static double span_seconds(const replay_t *r)
{
        return r->send.sent > 0
                       ? (double)(r->send.max_event_ms -
                                  r->send.min_event_ms) / 1000
                       : 0;
}

static json_t *pacing_json(const replay_t *r)
{
        static const char *modes[] = {"max", "speed", "rate"};
        const send_stats_t *s = &r->send;

        return json_pack("{s:s, s:f, s:f, s:f}", "mode",
                         modes[r->opt.pace], "target", r->opt.factor,
                         "max_late_ms", (double)s->max_late_ns / 1e6,
                         "mean_late_ms",
                         s->sent ? s->sum_late_ns / s->sent / 1e6 : 0.0);
}

static json_t *summary_json(const replay_t *r, double elapsed)
{
        const hearth_ingest_stats_t *in = input_stats(r);
        const hearth_sender_stats_t *k = hearth_sender_stats(r->sender);
        double send_s = send_seconds(r), span_s = span_seconds(r);
        double deliver_s = deliver_seconds(r);

        return json_pack(
                "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, "
                "s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:o}",
                "input", r->file_name,
                "format", r->opt.protobuf ? "protobuf" : "profile",
                "records_read", (json_int_t)in->records,
                "events", (json_int_t)in->events,
                "sent", (json_int_t)r->send.sent,
                "delivered", (json_int_t)k->delivered,
                "dead_letters", (json_int_t)in->rejected,
                "dead_letters_delivered", (json_int_t)k->dlq_delivered,
                "delivery_failures", (json_int_t)k->failed,
                "rejected_by_reason", hearth_ingest_reasons_json(in),
                "wall_s", elapsed, "send_s", send_s, "deliver_s", deliver_s,
                "events_per_s",
                deliver_s > 0 ? r->send.sent / deliver_s : 0.0,
                "first_event_time_ms", (json_int_t)r->send.min_event_ms,
                "last_event_time_ms", (json_int_t)r->send.max_event_ms,
                "event_time_span_s", span_s,
                "speed_up", send_s > 0 ? span_s / send_s : 0.0,
                "pacing", pacing_json(r));
}

static void print_summary(const replay_t *r, double elapsed)
{
        const hearth_ingest_stats_t *in = input_stats(r);
        const hearth_sender_stats_t *k = hearth_sender_stats(r->sender);
        double send_s = send_seconds(r), span_s = span_seconds(r);
        double deliver_s = deliver_seconds(r);
        char first[40], last[40];

        fprintf(stderr, PROGRAM ": %s: %llu records, %llu events sent, "
                        "%llu delivered, %llu dead letters in %.2f s "
                        "(sent in %.2f s, delivered in %.2f s, %.0f "
                        "events/s)\n",
                r->file_name, (unsigned long long)in->records,
                (unsigned long long)r->send.sent,
                (unsigned long long)k->delivered,
                (unsigned long long)in->rejected, elapsed, send_s,
                deliver_s, deliver_s > 0 ? r->send.sent / deliver_s : 0.0);
        fprintf(stderr, PROGRAM ": event time %s to %s (%.0f s), speed-up "
                        "%.1fx, max %.2f ms behind schedule\n",
                format_time(r->send.min_event_ms, first, sizeof(first)),
                format_time(r->send.max_event_ms, last, sizeof(last)),
                span_s, send_s > 0 ? span_s / send_s : 0.0,
                (double)r->send.max_late_ns / 1e6);
        hearth_ingest_print_reasons(in, PROGRAM);
        if (r->opt.common.summary_json)
                hearth_connector_write_summary(r->opt.common.summary_json,
                                               summary_json(r, elapsed));
}

static int setup(replay_t *r)
{
        hearth_ingest_conf_t in_conf;
        hearth_sender_conf_t out_conf;
        char errstr[512];

        hearth_connector_ingest_conf(&r->opt.common, r->file_name, &in_conf);
        hearth_connector_sender_conf(&r->opt.common, PROGRAM, &out_conf);

        if (!r->opt.protobuf &&
            !(r->ingest = hearth_ingest_new(&in_conf, errstr,
                                            sizeof(errstr))))
                goto fail;
        r->sender = hearth_sender_new(&out_conf, errstr, sizeof(errstr));
        if (!r->sender)
                goto fail;
        return 0;
fail:
        hearth_error(COMPONENT, "%s", errstr);
        return -1;
}

/* Reads, sends and waits for the deliveries; returns the exit status. */
static int run(replay_t *r, FILE *fp)
{
        int rc = 1;

        if (read_input(r, fp) == 0) {
                if (r->opt.common.progress && r->ingest)
                        fputc('\n', stderr);
                send_events(r);
                rc = 0;
        }
        if (hearth_sender_finish(r->sender) != 0)
                rc = 1;
        r->send.flushed = now_s();
        if (stop_requested) {
                hearth_warn(COMPONENT, "interrupted: %llu of %zu events sent",
                            (unsigned long long)r->send.sent, r->events.n);
                rc = 1;
        }
        return rc;
}

int main(int argc, char **argv)
{
        replay_t r = {0};
        char *file_name;
        FILE *fp;
        int rc;

        if (parse_options(argc, argv, &r.opt) != 0)
                return 2;
        if (r.opt.common.progress < 0)
                r.opt.common.progress = isatty(STDERR_FILENO);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        fp = hearth_connector_open_input(
                r.opt.protobuf ? r.opt.protobuf : r.opt.input, &file_name);
        if (!fp)
                return 1;
        r.file_name = file_name;
        r.started = now_s();
        if (setup(&r) != 0) {
                rc = 2;
                goto out;
        }
        rc = run(&r, fp);
        show_send_progress(&r, 1);
        print_summary(&r, now_s() - r.started);
out:
        hearth_event_list_free(&r.events);
        hearth_sender_free(r.sender);
        hearth_ingest_free(r.ingest);
        if (fp != stdin)
                fclose(fp);
        free(file_name);
        return rc;
}
