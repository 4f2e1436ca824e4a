/*
 * hearth-connect: reads a 110/911 export (CSV or JSON Lines) with a profile,
 * pseudonymizes identifiers, and produces IncidentEvent messages to Kafka,
 * to a file of length-delimited records (--output), or to both.
 *
 * Records that cannot be mapped go to the dead-letter topic as JSON with the
 * reason and the record number; the run goes on. The exit status is 0 only
 * when every valid record's events and every dead-letter record were
 * acknowledged by the broker (acks=all, idempotent producer), and every
 * event was written to the output file.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectors/delimited.h"
#include "connectors/ingest.h"
#include "connectors/options.h"
#include "connectors/sender.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"

#define COMPONENT "connect"
typedef struct options {
        hearth_connector_options_t common;
        const char *input;
        const char *output;
        int dry_run;
        int no_kafka;
} options_t;

typedef struct connector {
        options_t opt;
        hearth_ingest_t *ingest;
        hearth_sender_t *sender;        /* NULL: --dry-run or --no-kafka */
        FILE *output;
        uint64_t written;               /* events written to output */
        int output_failed;
        hearth_event_list_t pending;    /* events waiting for the sort */
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
"  -o, --output FILE        also write each valid event to FILE as a\n"
"                           length-delimited IncidentEvent (varint length,\n"
"                           then the packed message) in send order; dead\n"
"                           letters are not written; hearth-replay\n"
"                           --protobuf reads it\n"
"      --no-kafka           write --output only: no broker is contacted,\n"
"                           dead letters are counted but not sent\n"
"      --dlq-include-raw    put the raw record in dead-letter messages;\n"
"                           off by default because it holds personal data\n"
"      --dry-run            map and count only; nothing is sent or written\n"
"      --summary-json FILE  write the final counts as JSON\n"
"      --progress / --no-progress\n"
"                           progress line (default: when on a terminal)\n"
"      --flush-timeout MS   wait at most MS for deliveries at the end\n"
"                           (60000)\n"
"      --log-level LEVEL    debug, info, warn or error (info)\n"
"  -h, --help               this text\n"
"\n"
"Exit status: 0 when every valid record was delivered (and written), 1\n"
"when a delivery or a write failed or the input could not be read, 2 for\n"
"invalid options.\n");
}

static int parse_options(int argc, char **argv, options_t *o)
{
        enum { OPT_DRY = HEARTH_OPT_END, OPT_NO_KAFKA };
        static const struct option longopts[] = {
                HEARTH_CONNECTOR_LONGOPTS,
                {"dry-run", no_argument, NULL, OPT_DRY},
                {"output", required_argument, NULL, 'o'},
                {"no-kafka", no_argument, NULL, OPT_NO_KAFKA},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0}};
        int c, rc;

        *o = (options_t){.input = "-"};
        hearth_connector_options_init(&o->common);
        while ((c = getopt_long(argc, argv, HEARTH_CONNECTOR_SHORTOPTS "o:h",
                                longopts, NULL)) != -1) {
                rc = hearth_connector_option(&o->common, c, optarg,
                                             "hearth-connect");
                if (rc < 0)
                        return -1;
                if (rc > 0)
                        continue;
                switch (c) {
                case OPT_DRY: o->dry_run = 1; break;
                case 'o': o->output = optarg; break;
                case OPT_NO_KAFKA: o->no_kafka = 1; break;
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
        if (!o->common.profile || !o->common.key_file) {
                fprintf(stderr, "hearth-connect: --profile and --key-file are "
                                "required; see --help\n");
                return -1;
        }
        if (o->no_kafka && !o->output) {
                fprintf(stderr, "hearth-connect: --no-kafka needs --output "
                                "FILE\n");
                return -1;
        }
        if (o->dry_run && o->output) {
                fprintf(stderr, "hearth-connect: --dry-run writes nothing; "
                                "use --no-kafka to write --output only\n");
                return -1;
        }
        return 0;
}

static void write_output(connector_t *c, const hearth_mapped_event_t *e)
{
        if (c->output_failed)
                return;
        if (hearth_delimited_write(c->output, e->payload,
                                   e->payload_len) != 0) {
                hearth_error(COMPONENT, "cannot write %s: %s", c->opt.output,
                             strerror(errno));
                c->output_failed = 1;
                return;
        }
        c->written++;
}

static void send_event(connector_t *c, hearth_mapped_event_t *e)
{
        if (c->output)
                write_output(c, e);
        if (c->sender) {
                hearth_sender_send_event(c->sender, e->payload,
                                         e->payload_len, e->key);
                e->payload = NULL;      /* owned by the sender */
        }
        hearth_mapped_event_clear(e);
}

static void show_progress(connector_t *c, int final)
{
        const hearth_ingest_stats_t *s = hearth_ingest_stats(c->ingest);
        double t = now_s();

        if (!c->opt.common.progress || (!final && t - c->last_progress < 0.5))
                return;
        c->last_progress = t;
        fprintf(stderr, "\rhearth-connect: %llu records read, %llu events "
                        "mapped, %llu delivered, %llu rejected%s",
                (unsigned long long)s->records,
                (unsigned long long)s->events,
                (unsigned long long)(c->sender ? hearth_sender_stats(
                                             c->sender)->delivered
                                               : c->written),
                (unsigned long long)s->rejected, final ? "\n" : "");
}

static void on_event(void *opaque, hearth_mapped_event_t *e)
{
        connector_t *c = opaque;

        if (c->opt.common.sort_by_time)
                hearth_event_list_push(&c->pending, e);
        else
                send_event(c, e);
}

static void on_dead_letter(void *opaque, char *json, size_t len,
                           const char *reason)
{
        connector_t *c = opaque;

        if (c->sender)
                hearth_sender_send_dead_letter(c->sender, json, len, reason);
        else
                free(json);
}

static void on_record(void *opaque)
{
        show_progress(opaque, 0);
}

static void send_pending(connector_t *c)
{
        hearth_event_list_sort(&c->pending);
        for (size_t i = 0; i < c->pending.n && !stop_requested; i++) {
                send_event(c, &c->pending.events[i]);
                show_progress(c, 0);
        }
        hearth_event_list_free(&c->pending);
}

static json_t *summary_json(connector_t *c, double elapsed)
{
        const hearth_ingest_stats_t *s = hearth_ingest_stats(c->ingest);
        hearth_sender_stats_t none = {0};
        const hearth_sender_stats_t *k =
                c->sender ? hearth_sender_stats(c->sender) : &none;

        return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                         "s:I, s:o, s:f, s:f, s:b, s:I}",
                         "profile", hearth_ingest_profile_name(c->ingest),
                         "records_read", (json_int_t)s->records,
                         "records_mapped", (json_int_t)s->records_ok,
                         "domestic_records", (json_int_t)s->domestic_records,
                         "events", (json_int_t)s->events,
                         "domestic_events", (json_int_t)s->domestic_events,
                         "delivered", (json_int_t)k->delivered,
                         "dead_letters_delivered",
                         (json_int_t)k->dlq_delivered,
                         "delivery_failures", (json_int_t)k->failed,
                         "rejected", (json_int_t)s->rejected,
                         "rejected_by_reason", hearth_ingest_reasons_json(s),
                         "elapsed_s", elapsed,
                         "records_per_s", elapsed > 0 ? s->records / elapsed
                                                      : 0.0,
                         "dry_run", c->opt.dry_run,
                         "written", (json_int_t)c->written);
}

static void print_summary(connector_t *c, double elapsed)
{
        const hearth_ingest_stats_t *s = hearth_ingest_stats(c->ingest);

        fprintf(stderr,
                "hearth-connect: %s: %llu records read, %llu mapped "
                "(%llu domestic), %llu events, %llu delivered, %llu rejected "
                "in %.2f s (%.0f records/s)\n",
                c->file_name, (unsigned long long)s->records,
                (unsigned long long)s->records_ok,
                (unsigned long long)s->domestic_records,
                (unsigned long long)s->events,
                (unsigned long long)(c->sender ? hearth_sender_stats(
                                             c->sender)->delivered
                                               : 0),
                (unsigned long long)s->rejected, elapsed,
                elapsed > 0 ? s->records / elapsed : 0.0);
        if (c->output)
                fprintf(stderr, "hearth-connect: %llu events written to %s\n",
                        (unsigned long long)c->written, c->opt.output);
        hearth_ingest_print_reasons(s, "hearth-connect");
        if (c->opt.common.summary_json)
                hearth_connector_write_summary(c->opt.common.summary_json,
                                               summary_json(c, elapsed));
}

/* Closes the output file; returns -1 if an event was not written. */
static int finish_output(connector_t *c)
{
        int rc = c->output_failed ? -1 : 0;

        if (!c->output)
                return 0;
        if (fclose(c->output) != 0 && rc == 0) {
                hearth_error(COMPONENT, "cannot write %s: %s", c->opt.output,
                             strerror(errno));
                rc = -1;
        }
        c->output = NULL;
        return rc;
}

static int setup(connector_t *c)
{
        hearth_ingest_conf_t in_conf;
        hearth_sender_conf_t out_conf;
        char errstr[512];

        hearth_connector_ingest_conf(&c->opt.common, c->file_name, &in_conf);
        hearth_connector_sender_conf(&c->opt.common, "hearth-connect",
                                     &out_conf);

        c->ingest = hearth_ingest_new(&in_conf, errstr, sizeof(errstr));
        if (!c->ingest)
                goto fail;
        if (!c->opt.dry_run && !c->opt.no_kafka &&
            !(c->sender = hearth_sender_new(&out_conf, errstr,
                                            sizeof(errstr))))
                goto fail;
        if (c->opt.output && !(c->output = fopen(c->opt.output, "wb"))) {
                snprintf(errstr, sizeof(errstr), "cannot create %s: %s",
                         c->opt.output, strerror(errno));
                goto fail;
        }
        return 0;
fail:
        hearth_error(COMPONENT, "%s", errstr);
        return -1;
}

static void teardown(connector_t *c)
{
        if (c->output)
                fclose(c->output);
        hearth_sender_free(c->sender);
        hearth_event_list_free(&c->pending);
        hearth_ingest_free(c->ingest);
}

/* Reads, sends and waits for the deliveries; returns the exit status. */
static int run(connector_t *c, FILE *fp)
{
        hearth_ingest_sink_t sink = {.event = on_event,
                                     .dead_letter = on_dead_letter,
                                     .progress = on_record, .opaque = c};
        int rc = 1;

        if (hearth_ingest_read(c->ingest, fp, &sink, &stop_requested) == 0) {
                send_pending(c);
                rc = 0;
        }
        if (c->sender && hearth_sender_finish(c->sender) != 0)
                rc = 1;
        if (finish_output(c) != 0)
                rc = 1;
        if (stop_requested) {
                hearth_warn(COMPONENT, "interrupted: input not fully sent");
                rc = 1;
        }
        return rc;
}

int main(int argc, char **argv)
{
        connector_t c = {0};
        char *file_name;
        FILE *fp;
        int rc = 1;

        if (parse_options(argc, argv, &c.opt) != 0)
                return 2;
        if (c.opt.common.progress < 0)
                c.opt.common.progress = isatty(STDERR_FILENO);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        fp = hearth_connector_open_input(c.opt.input, &file_name);
        if (!fp)
                return 1;
        c.file_name = file_name;
        c.started = now_s();
        if (setup(&c) != 0) {
                rc = 2;
                goto out;
        }
        rc = run(&c, fp);
        show_progress(&c, 1);
        print_summary(&c, now_s() - c.started);
out:
        teardown(&c);
        if (fp != stdin)
                fclose(fp);
        free(file_name);
        return rc;
}
