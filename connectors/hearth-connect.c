/*
 * hearth-connect: reads a 110/911 export (CSV or JSON Lines) with a profile,
 * pseudonymizes identifiers, and produces IncidentEvent messages to Kafka.
 *
 * Records that cannot be mapped go to the dead-letter topic as JSON with the
 * reason and the record number; the run goes on. The exit status is 0 only
 * when every valid record's events and every dead-letter record were
 * acknowledged by the broker (acks=all, idempotent producer).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectors/mapper.h"
#include "connectors/profile.h"
#include "connectors/pseudo.h"
#include "connectors/source.h"
#include "connectors/text.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"

#define COMPONENT "connect"
#define MAX_REASONS 32
#define MAX_OVERRIDES 64

typedef struct options {
        const char *profile;
        const char *input;
        const char *key_file;
        const char *key_id;
        const char *brokers;
        const char *topic;
        const char *dlq_topic;
        const char *kafka_config;
        const char *summary_json;
        char *overrides[MAX_OVERRIDES];
        size_t n_overrides;
        int sort_by_time;
        int dlq_raw;
        int dry_run;
        int progress;           /* -1: when stderr is a terminal */
        int flush_timeout_ms;
} options_t;

typedef struct reason_count {
        const char *reason;
        uint64_t count;
} reason_count_t;

typedef struct stats {
        uint64_t records;
        uint64_t records_ok;
        uint64_t domestic_records;
        uint64_t events;
        uint64_t domestic_events;
        uint64_t delivered;
        uint64_t dlq_delivered;
        uint64_t failed;
        uint64_t rejected;
        reason_count_t reasons[MAX_REASONS];
        size_t n_reasons;
} stats_t;

typedef struct connector {
        options_t opt;
        stats_t stats;
        hearth_profile_t *profile;
        hearth_pseudo_t *pseudo;
        hearth_mapper_t *mapper;
        rd_kafka_t *rk;
        rd_kafka_topic_t *topic;
        rd_kafka_topic_t *dlq;
        hearth_mapped_event_t *pending;  /* events waiting for the sort */
        size_t n_pending, cap_pending;
        const char *file_name;
        double started;
        double last_progress;
} connector_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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
"Usage: hearth-connect --profile FILE --key-file FILE [options] [INPUT]\n"
"\n"
"Reads INPUT (a file, or standard input when absent or \"-\"), maps each\n"
"record with the profile, and produces IncidentEvent messages to Kafka.\n"
"\n"
"  -p, --profile FILE       connector profile (JSON); required\n"
"  -k, --key-file FILE      HMAC secret for pseudonyms, mode 600; required\n"
"      --key-id ID          key id written before each pseudonym (k1)\n"
"  -b, --brokers LIST       bootstrap servers (" HEARTH_KAFKA_DEFAULT_BROKERS ")\n"
"  -t, --topic NAME         input topic (hearth.incidents)\n"
"      --dlq-topic NAME     dead-letter topic (hearth.incidents.dlq)\n"
"      --kafka-config FILE  librdkafka properties, e.g. TLS and SASL\n"
"  -X NAME=VALUE            one librdkafka property; repeatable\n"
"      --order ORDER        event-time (default): sort the whole input by\n"
"                           event time before sending, as for a replay of\n"
"                           history; file: send in input order as read\n"
"      --dlq-include-raw    put the raw record in dead-letter messages;\n"
"                           off by default because it holds personal data\n"
"      --dry-run            map and count only; nothing is sent\n"
"      --summary-json FILE  write the final counts as JSON\n"
"      --progress / --no-progress\n"
"                           progress line (default: when on a terminal)\n"
"      --flush-timeout MS   wait at most MS for deliveries at the end\n"
"                           (60000)\n"
"      --log-level LEVEL    debug, info, warn or error (info)\n"
"  -h, --help               this text\n"
"\n"
"Exit status: 0 when every valid record was delivered, 1 when a delivery\n"
"failed or the input could not be read, 2 for invalid options.\n");
}

static int parse_options(int argc, char **argv, options_t *o)
{
        enum { OPT_KEY_ID = 256, OPT_DLQ, OPT_KCONF, OPT_ORDER, OPT_RAW,
               OPT_DRY, OPT_SUMMARY, OPT_PROGRESS, OPT_NO_PROGRESS,
               OPT_FLUSH, OPT_LOG };
        static const struct option longopts[] = {
                {"profile", required_argument, NULL, 'p'},
                {"key-file", required_argument, NULL, 'k'},
                {"key-id", required_argument, NULL, OPT_KEY_ID},
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"dlq-topic", required_argument, NULL, OPT_DLQ},
                {"kafka-config", required_argument, NULL, OPT_KCONF},
                {"order", required_argument, NULL, OPT_ORDER},
                {"dlq-include-raw", no_argument, NULL, OPT_RAW},
                {"dry-run", no_argument, NULL, OPT_DRY},
                {"summary-json", required_argument, NULL, OPT_SUMMARY},
                {"progress", no_argument, NULL, OPT_PROGRESS},
                {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
                {"flush-timeout", required_argument, NULL, OPT_FLUSH},
                {"log-level", required_argument, NULL, OPT_LOG},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0}};
        hearth_log_level_t level;
        int c;

        *o = (options_t){.key_id = "k1", .topic = "hearth.incidents",
                         .dlq_topic = "hearth.incidents.dlq",
                         .sort_by_time = 1, .progress = -1,
                         .flush_timeout_ms = 60000, .input = "-"};
        while ((c = getopt_long(argc, argv, "p:k:b:t:X:h", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'p': o->profile = optarg; break;
                case 'k': o->key_file = optarg; break;
                case OPT_KEY_ID: o->key_id = optarg; break;
                case 'b': o->brokers = optarg; break;
                case 't': o->topic = optarg; break;
                case OPT_DLQ: o->dlq_topic = optarg; break;
                case OPT_KCONF: o->kafka_config = optarg; break;
                case OPT_RAW: o->dlq_raw = 1; break;
                case OPT_DRY: o->dry_run = 1; break;
                case OPT_SUMMARY: o->summary_json = optarg; break;
                case OPT_PROGRESS: o->progress = 1; break;
                case OPT_NO_PROGRESS: o->progress = 0; break;
                case 'X':
                        if (o->n_overrides == MAX_OVERRIDES) {
                                fprintf(stderr, "hearth-connect: at most %d "
                                                "-X options\n", MAX_OVERRIDES);
                                return -1;
                        }
                        o->overrides[o->n_overrides++] = optarg;
                        break;
                case OPT_ORDER:
                        if (strcmp(optarg, "event-time") == 0)
                                o->sort_by_time = 1;
                        else if (strcmp(optarg, "file") == 0)
                                o->sort_by_time = 0;
                        else {
                                fprintf(stderr, "hearth-connect: invalid "
                                        "--order \"%s\": use event-time or "
                                        "file\n", optarg);
                                return -1;
                        }
                        break;
                case OPT_FLUSH:
                        o->flush_timeout_ms = atoi(optarg);
                        if (o->flush_timeout_ms <= 0) {
                                fprintf(stderr, "hearth-connect: invalid "
                                        "--flush-timeout: use a positive "
                                        "number of milliseconds\n");
                                return -1;
                        }
                        break;
                case OPT_LOG:
                        if (hearth_log_parse_level(optarg, &level) != 0) {
                                fprintf(stderr, "hearth-connect: invalid "
                                        "--log-level \"%s\": use debug, info, "
                                        "warn or error\n", optarg);
                                return -1;
                        }
                        hearth_log_set_level(level);
                        break;
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); return -1;
                }
        }
        if (optind < argc)
                o->input = argv[optind++];
        if (optind < argc) {
                fprintf(stderr, "hearth-connect: one input at most\n");
                return -1;
        }
        if (!o->profile || !o->key_file) {
                fprintf(stderr, "hearth-connect: --profile and --key-file are "
                                "required; see --help\n");
                return -1;
        }
        return 0;
}

static void count_reason(stats_t *s, const char *reason)
{
        s->rejected++;
        for (size_t i = 0; i < s->n_reasons; i++) {
                if (strcmp(s->reasons[i].reason, reason) == 0) {
                        s->reasons[i].count++;
                        return;
                }
        }
        if (s->n_reasons < MAX_REASONS)
                s->reasons[s->n_reasons++] = (reason_count_t){reason, 1};
}

/* Delivery report: opaque is NULL for events, non-NULL for dead letters. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        connector_t *c = opaque;

        (void)rk;
        if (msg->err) {
                c->stats.failed++;
                hearth_error(COMPONENT, "delivery failed topic=%s "
                             "partition=%d: %s",
                             rd_kafka_topic_name(msg->rkt), msg->partition,
                             rd_kafka_err2str(msg->err));
                return;
        }
        if (msg->_private)
                c->stats.dlq_delivered++;
        else
                c->stats.delivered++;
}

static int create_producer(connector_t *c, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf;

        conf = hearth_kafka_conf_new(c->opt.brokers, c->opt.kafka_config,
                                     c->opt.overrides, c->opt.n_overrides,
                                     errstr, errstr_size);
        if (!conf)
                return -1;
        if (hearth_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                                  errstr_size) != 0 ||
            hearth_kafka_conf_set(conf, "acks", "all", errstr,
                                  errstr_size) != 0 ||
            hearth_kafka_conf_set(conf, "linger.ms", "20", errstr,
                                  errstr_size) != 0 ||
            hearth_kafka_conf_set(conf, "client.id", "hearth-connect", errstr,
                                  errstr_size) != 0) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, c);
        c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
        if (!c->rk) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        c->topic = rd_kafka_topic_new(c->rk, c->opt.topic, NULL);
        c->dlq = rd_kafka_topic_new(c->rk, c->opt.dlq_topic, NULL);
        return 0;
}

/*
 * Hands one message to librdkafka, waiting while its queue is full so a
 * slow broker slows the reader instead of failing it. With F_FREE the
 * payload belongs to librdkafka once accepted.
 */
static int produce(connector_t *c, rd_kafka_topic_t *topic, void *payload,
                   size_t len, const char *key, int is_dlq)
{
        for (;;) {
                if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA,
                                     RD_KAFKA_MSG_F_FREE, payload, len, key,
                                     key ? strlen(key) : 0,
                                     is_dlq ? (void *)1 : NULL) == 0)
                        return 0;
                if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                        hearth_error(COMPONENT, "produce to %s failed: %s",
                                     rd_kafka_topic_name(topic),
                                     rd_kafka_err2str(rd_kafka_last_error()));
                        free(payload);
                        c->stats.failed++;
                        return -1;
                }
                rd_kafka_poll(c->rk, 100);
        }
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

static void send_dead_letter(connector_t *c, uint64_t record_number,
                             const char *reason, const char *detail,
                             const char *raw, size_t raw_len)
{
        json_t *doc;
        char *text;

        count_reason(&c->stats, reason);
        hearth_debug(COMPONENT, "record %llu rejected: %s",
                     (unsigned long long)record_number, reason);
        if (c->opt.dry_run)
                return;
        doc = json_pack("{s:s, s:I, s:s, s:s, s:s}", "reason", reason,
                        "record_number", (json_int_t)record_number, "profile",
                        c->profile->name, "file", c->file_name, "detail",
                        detail ? detail : "");
        if (c->opt.dlq_raw && raw && hearth_utf8_valid(raw, raw_len))
                json_object_set_new(doc, "raw", json_stringn(raw, raw_len));
        else if (c->opt.dlq_raw && raw)
                json_object_set_new(doc, "raw_hex", hex_string(raw, raw_len));
        text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
        json_decref(doc);
        produce(c, c->dlq, text, strlen(text), reason, 1);
}

static int send_event(connector_t *c, hearth_mapped_event_t *e)
{
        int rc = 0;

        if (!c->opt.dry_run) {
                rc = produce(c, c->topic, e->payload, e->payload_len, e->key,
                             0);
                e->payload = NULL;      /* owned by librdkafka or freed */
                rd_kafka_poll(c->rk, 0);
        }
        hearth_mapped_event_clear(e);
        return rc;
}

static void keep_pending(connector_t *c, hearth_mapped_event_t *e)
{
        if (c->n_pending == c->cap_pending) {
                c->cap_pending = c->cap_pending ? c->cap_pending * 2 : 4096;
                c->pending = realloc(c->pending,
                                     c->cap_pending * sizeof(*c->pending));
        }
        c->pending[c->n_pending++] = *e;
}

/* Orders by event time; record number, then event type, break ties so the
 * sort is stable and a replay sends the same sequence. */
static int by_event_time(const void *a, const void *b)
{
        const hearth_mapped_event_t *x = a, *y = b;

        if (x->event_time_ms != y->event_time_ms)
                return x->event_time_ms < y->event_time_ms ? -1 : 1;
        if (x->record_number != y->record_number)
                return x->record_number < y->record_number ? -1 : 1;
        return (x->event_type > y->event_type) - (x->event_type < y->event_type);
}

static void show_progress(connector_t *c, int final)
{
        double t = now_s();

        if (!c->opt.progress || (!final && t - c->last_progress < 0.5))
                return;
        c->last_progress = t;
        fprintf(stderr, "\rhearth-connect: %llu records read, %llu events "
                        "mapped, %llu delivered, %llu rejected%s",
                (unsigned long long)c->stats.records,
                (unsigned long long)c->stats.events,
                (unsigned long long)c->stats.delivered,
                (unsigned long long)c->stats.rejected, final ? "\n" : "");
}

static void handle_record(connector_t *c, hearth_source_record_t *rec)
{
        hearth_mapped_event_t events[HEARTH_MAPPER_MAX_EVENTS];
        hearth_map_error_t err;
        int n;

        n = hearth_mapper_map(c->mapper, &rec->row, rec->record_number,
                              wall_ms(), events, &err);
        if (n < 0) {
                send_dead_letter(c, rec->record_number, err.reason,
                                 err.detail, rec->raw, rec->raw_len);
                return;
        }
        c->stats.records_ok++;
        if (n > 0 && events[0].domestic)
                c->stats.domestic_records++;
        for (int i = 0; i < n; i++) {
                c->stats.events++;
                if (events[i].domestic)
                        c->stats.domestic_events++;
                if (c->opt.sort_by_time)
                        keep_pending(c, &events[i]);
                else
                        send_event(c, &events[i]);
        }
}

/* Reads the whole input; returns -1 on a read error. */
static int read_input(connector_t *c, FILE *fp)
{
        hearth_source_record_t rec;
        hearth_source_status_t st;
        hearth_source_t *src;
        char errstr[512];

        src = hearth_source_open(fp, c->profile, errstr, sizeof(errstr));
        if (!src) {
                hearth_error(COMPONENT, "%s: %s", c->file_name, errstr);
                return -1;
        }
        while (!stop_requested &&
               (st = hearth_source_next(src, &rec)) != HEARTH_SOURCE_EOF) {
                if (st == HEARTH_SOURCE_IO_ERROR) {
                        hearth_error(COMPONENT, "%s: read error after record "
                                     "%llu: %s", c->file_name,
                                     (unsigned long long)c->stats.records,
                                     strerror(errno));
                        hearth_source_close(src);
                        return -1;
                }
                c->stats.records++;
                if (st == HEARTH_SOURCE_BAD)
                        send_dead_letter(c, rec.record_number, rec.reason,
                                         "", rec.raw, rec.raw_len);
                else
                        handle_record(c, &rec);
                show_progress(c, 0);
        }
        hearth_source_close(src);
        return 0;
}

static void send_pending(connector_t *c)
{
        qsort(c->pending, c->n_pending, sizeof(*c->pending), by_event_time);
        for (size_t i = 0; i < c->n_pending; i++) {
                if (stop_requested) {
                        hearth_mapped_event_clear(&c->pending[i]);
                        continue;
                }
                send_event(c, &c->pending[i]);
                show_progress(c, 0);
        }
        c->n_pending = 0;
}

static json_t *summary_json(connector_t *c, double elapsed)
{
        stats_t *s = &c->stats;
        json_t *reasons = json_object();

        for (size_t i = 0; i < s->n_reasons; i++)
                json_object_set_new(reasons, s->reasons[i].reason,
                                    json_integer((json_int_t)s->reasons[i].count));
        return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                         "s:I, s:o, s:f, s:f, s:b}",
                         "profile", c->profile->name,
                         "records_read", (json_int_t)s->records,
                         "records_mapped", (json_int_t)s->records_ok,
                         "domestic_records", (json_int_t)s->domestic_records,
                         "events", (json_int_t)s->events,
                         "domestic_events", (json_int_t)s->domestic_events,
                         "delivered", (json_int_t)s->delivered,
                         "dead_letters_delivered",
                         (json_int_t)s->dlq_delivered,
                         "delivery_failures", (json_int_t)s->failed,
                         "rejected", (json_int_t)s->rejected,
                         "rejected_by_reason", reasons,
                         "elapsed_s", elapsed,
                         "records_per_s", elapsed > 0 ? s->records / elapsed
                                                      : 0.0,
                         "dry_run", c->opt.dry_run);
}

static void print_summary(connector_t *c, double elapsed)
{
        stats_t *s = &c->stats;

        fprintf(stderr,
                "hearth-connect: %s: %llu records read, %llu mapped "
                "(%llu domestic), %llu events, %llu delivered, %llu rejected "
                "in %.2f s (%.0f records/s)\n",
                c->file_name, (unsigned long long)s->records,
                (unsigned long long)s->records_ok,
                (unsigned long long)s->domestic_records,
                (unsigned long long)s->events,
                (unsigned long long)s->delivered,
                (unsigned long long)s->rejected, elapsed,
                elapsed > 0 ? s->records / elapsed : 0.0);
        for (size_t i = 0; i < s->n_reasons; i++)
                fprintf(stderr, "hearth-connect:   rejected %-20s %llu\n",
                        s->reasons[i].reason,
                        (unsigned long long)s->reasons[i].count);
        if (c->opt.summary_json) {
                json_t *doc = summary_json(c, elapsed);

                if (json_dump_file(doc, c->opt.summary_json, JSON_INDENT(2)) != 0)
                        hearth_error(COMPONENT, "cannot write %s",
                                     c->opt.summary_json);
                json_decref(doc);
        }
}

/* Waits for every delivery report; returns -1 if any message failed. */
static int finish_delivery(connector_t *c)
{
        uint64_t expected;

        if (c->opt.dry_run)
                return 0;
        rd_kafka_flush(c->rk, c->opt.flush_timeout_ms);
        if (rd_kafka_outq_len(c->rk) > 0) {
                hearth_error(COMPONENT, "%d messages not delivered within "
                             "%d ms; is the broker at %s reachable?",
                             rd_kafka_outq_len(c->rk),
                             c->opt.flush_timeout_ms,
                             c->opt.brokers ? c->opt.brokers
                                            : HEARTH_KAFKA_DEFAULT_BROKERS);
                return -1;
        }
        expected = c->stats.events + c->stats.rejected;
        if (c->stats.failed > 0 ||
            c->stats.delivered + c->stats.dlq_delivered != expected) {
                hearth_error(COMPONENT, "%llu of %llu messages were not "
                             "delivered",
                             (unsigned long long)(expected - c->stats.delivered -
                                                  c->stats.dlq_delivered),
                             (unsigned long long)expected);
                return -1;
        }
        return 0;
}

static int setup(connector_t *c)
{
        char errstr[512];

        c->profile = hearth_profile_load(c->opt.profile, errstr,
                                         sizeof(errstr));
        if (!c->profile)
                goto fail;
        c->pseudo = hearth_pseudo_load(c->opt.key_file, c->opt.key_id, errstr,
                                       sizeof(errstr));
        if (!c->pseudo)
                goto fail;
        c->mapper = hearth_mapper_new(c->profile, c->pseudo, c->file_name,
                                      errstr, sizeof(errstr));
        if (!c->mapper)
                goto fail;
        if (!c->opt.dry_run && create_producer(c, errstr, sizeof(errstr)) != 0)
                goto fail;
        return 0;
fail:
        hearth_error(COMPONENT, "%s", errstr);
        return -1;
}

static void teardown(connector_t *c)
{
        if (c->topic)
                rd_kafka_topic_destroy(c->topic);
        if (c->dlq)
                rd_kafka_topic_destroy(c->dlq);
        if (c->rk)
                rd_kafka_destroy(c->rk);
        for (size_t i = 0; i < c->n_pending; i++)
                hearth_mapped_event_clear(&c->pending[i]);
        free(c->pending);
        hearth_mapper_free(c->mapper);
        hearth_pseudo_free(c->pseudo);
        hearth_profile_free(c->profile);
}

int main(int argc, char **argv)
{
        connector_t c = {0};
        FILE *fp = stdin;
        char *input_copy;
        int rc = 1;

        if (parse_options(argc, argv, &c.opt) != 0)
                return 2;
        if (c.opt.progress < 0)
                c.opt.progress = isatty(STDERR_FILENO);
        input_copy = strdup(c.opt.input);
        c.file_name = strcmp(c.opt.input, "-") == 0 ? "-"
                                                     : basename(input_copy);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (strcmp(c.opt.input, "-") != 0 && !(fp = fopen(c.opt.input, "rb"))) {
                hearth_error(COMPONENT, "cannot open input %s: %s",
                             c.opt.input, strerror(errno));
                free(input_copy);
                return 1;
        }
        c.started = now_s();
        if (setup(&c) != 0) {
                rc = 2;
                goto out;
        }
        if (read_input(&c, fp) == 0) {
                send_pending(&c);
                rc = 0;
        }
        if (finish_delivery(&c) != 0)
                rc = 1;
        if (stop_requested) {
                hearth_warn(COMPONENT, "interrupted: input not fully sent");
                rc = 1;
        }
        show_progress(&c, 1);
        print_summary(&c, now_s() - c.started);
out:
        teardown(&c);
        if (fp != stdin)
                fclose(fp);
        free(input_copy);
        return rc;
}
