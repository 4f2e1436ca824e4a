/*
 * hearth-admin: Kafka administration for operators and tests. It creates and
 * deletes hearth's topics, counts the messages in a topic, and dumps a
 * topic as JSON Lines.
 *
 * dump joins no consumer group and commits nothing: it assigns every
 * partition from the beginning and stops at the end of each.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/alertfmt.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"

#define PROGRAM "hearth-admin"
#define COMPONENT "admin"
#define MAX_OVERRIDES 64
#define MAX_EXTRA_TOPICS 32
#define N_ALERT_TOPICS 4
#define MAX_CREATE (4 + N_ALERT_TOPICS + MAX_EXTRA_TOPICS)
#define TOPIC_NAME_MAX 249              /* Kafka's limit on topic names */
#define METADATA_TIMEOUT_MS 10000
#define POLL_MS 200

enum { EXIT_KAFKA = 1, EXIT_USAGE = 2 };

typedef enum dump_type {
        DUMP_INCIDENT,
        DUMP_ALERT,
        DUMP_DLQ,
        DUMP_RAW,
        DUMP_TAG
} dump_type_t;

/* A topic that create-topics creates, or that --extra names. */
typedef struct topic_spec {
        char name[TOPIC_NAME_MAX + 1];
        int partitions;
} topic_spec_t;

typedef struct options {
        const char *brokers;
        const char *kafka_config;
        char *overrides[MAX_OVERRIDES];
        size_t n_overrides;
        long timeout_ms;                /* -1: the command's default */
        /* create-topics */
        int partitions;
        int dlq_partitions;
        int alert_partitions;
        int tags_partitions;
        int replication;
        const char *input_topic;
        const char *dlq_topic;
        topic_spec_t extras[MAX_EXTRA_TOPICS];
        size_t n_extras;
        /* count and dump */
        const char *topic;
        const char *type_name;
        dump_type_t type;
        long max_messages;              /* dump: 0 for no limit */
        /* delete-topics */
        char **names;
        int n_names;
        unsigned given;                 /* OPTION_BIT of each option given */
} options_t;

typedef struct admin {
        options_t opt;
        rd_kafka_t *rk;
        int64_t deadline_ms;            /* monotonic clock; 0: none */
        int closing;                    /* set once errors are expected */
        int fatal;
        int saw_deleted_topic;
} admin_t;

typedef struct command {
        const char *name;
        int (*run)(admin_t *a);
        long default_timeout_ms;        /* 0: no limit */
        rd_kafka_type_t client_type;
        unsigned options;               /* OPTION_BIT of each option */
} command_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static int64_t monotonic_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *brokers_of(const admin_t *a)
{
        return a->opt.brokers ? a->opt.brokers : HEARTH_KAFKA_DEFAULT_BROKERS;
}

static void usage(FILE *out)
{
        fprintf(out,
"Usage: " PROGRAM " [common options] COMMAND [options]\n"
"\n"
"Commands:\n"
"  create-topics   create hearth.incidents, hearth.incidents.dlq,\n"
"                  hearth.alerts.p1 to p4, hearth.tags and hearth.persons\n"
"                  (the person repartition topic); a topic that exists\n"
"                  already is left unchanged\n"
"      --partitions N         partitions of the input and person topics (8)\n"
"      --dlq-partitions N     dead-letter topic partitions (1)\n"
"      --alert-partitions N   partitions of each alert topic (1)\n"
"      --tags-partitions N    hearth.tags partitions (1)\n"
"      --replication N        replication factor of every topic (1)\n"
"      --input NAME           input topic (hearth.incidents)\n"
"      --dlq NAME             dead-letter topic (hearth.incidents.dlq)\n"
"      --extra NAME:N         one more topic with N partitions; repeatable\n"
"      --timeout MS           wait at most MS for the broker (30000)\n"
"  count           print the number of messages in a topic: the sum over\n"
"                  partitions of high minus low watermark, so compacted or\n"
"                  transaction-marker offsets count too; \"0\" when the topic\n"
"                  does not exist\n"
"      --topic NAME           topic to count; required\n"
"      --timeout MS           wait at most MS for the broker (10000)\n"
"  dump            write every message of a topic as JSON Lines on stdout,\n"
"                  each partition in offset order but partitions interleaved,\n"
"                  and exit at the end of every partition\n"
"      --topic NAME           topic to dump; required\n"
"      --type TYPE            incident, alert or tag: decoded protobuf; dlq: the\n"
"                             JSON value plus \"partition\" and \"offset\";\n"
"                             raw: base64 key and value with partition,\n"
"                             offset and timestamp_ms; required\n"
"      --max N                stop after N messages (0: no limit)\n"
"      --from-beginning       accepted for clarity; always the case\n"
"      --until-end            accepted for clarity; always the case\n"
"      --timeout MS           exit with status 1 after MS (0: no limit)\n"
"  delete-topics NAME...\n"
"                  delete the named topics; a missing topic is reported\n"
"                  and not an error\n"
"      --timeout MS           wait at most MS for the broker (30000)\n"
"\n"
"Common options, before or after COMMAND:\n"
"  -b, --brokers LIST         bootstrap servers ("
        HEARTH_KAFKA_DEFAULT_BROKERS ")\n"
"      --kafka-config FILE    librdkafka properties, e.g. TLS and SASL\n"
"                             (none)\n"
"  -X NAME=VALUE              one librdkafka property; repeatable\n"
"      --log-level LEVEL      debug, info, warn, error or off (info)\n"
"  -h, --help                 this text\n"
"\n"
"Exit status: 0 on success; 1 when Kafka cannot be reached, an operation\n"
"fails or --timeout expires; 2 for invalid options.\n");
}

/* Parses a whole number from min to max for option. */
static int parse_number(const char *option, const char *text, long min,
                        long max, long *out)
{
        char *end;

        errno = 0;
        *out = strtol(text, &end, 10);
        if (errno || end == text || *end || *out < min || *out > max) {
                fprintf(stderr, PROGRAM ": invalid %s \"%s\": use a whole "
                        "number from %ld to %ld\n", option, text, min, max);
                return -1;
        }
        return 0;
}

static int parse_int(const char *option, const char *text, int min, int *out)
{
        long value;

        if (parse_number(option, text, min, INT_MAX, &value) != 0)
                return -1;
        *out = (int)value;
        return 0;
}

/* Kafka allows ASCII letters, digits, '.', '_' and '-' in topic names. */
static int topic_name_valid(const char *s)
{
        size_t len = strlen(s);

        return len > 0 && len <= TOPIC_NAME_MAX && strcmp(s, ".") != 0 &&
               strcmp(s, "..") != 0 &&
               strspn(s, "abcdefghijklmnopqrstuvwxyz"
                         "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

static int check_topic_name(const char *option, const char *name)
{
        if (topic_name_valid(name))
                return 0;
        fprintf(stderr, PROGRAM ": invalid %s \"%s\": a topic name has 1 to "
                "%d letters, digits, '.', '_' or '-'\n", option, name,
                TOPIC_NAME_MAX);
        return -1;
}

/* Parses --extra NAME:PARTITIONS. */
static int add_extra(options_t *o, const char *arg)
{
        const char *colon = strrchr(arg, ':');
        topic_spec_t *spec = &o->extras[o->n_extras];
        long partitions;

        if (o->n_extras == MAX_EXTRA_TOPICS) {
                fprintf(stderr, PROGRAM ": too many --extra options: at most "
                        "%d\n", MAX_EXTRA_TOPICS);
                return -1;
        }
        if (!colon || colon == arg || colon - arg > TOPIC_NAME_MAX) {
                fprintf(stderr, PROGRAM ": invalid --extra \"%s\": use "
                        "NAME:PARTITIONS, e.g. hearth.audit:3\n", arg);
                return -1;
        }
        snprintf(spec->name, sizeof(spec->name), "%.*s", (int)(colon - arg),
                 arg);
        if (check_topic_name("--extra", spec->name) != 0 ||
            parse_number("--extra partitions", colon + 1, 1, INT_MAX,
                         &partitions) != 0)
                return -1;
        spec->partitions = (int)partitions;
        o->n_extras++;
        return 0;
}

static int parse_type(options_t *o, const char *name)
{
        static const char *names[] = {"incident", "alert", "dlq", "raw",
                                      "tag"};

        for (int i = 0; i < 5; i++) {
                if (strcmp(name, names[i]) == 0) {
                        o->type = (dump_type_t)i;
                        o->type_name = names[i];
                        return 0;
                }
        }
        fprintf(stderr, PROGRAM ": invalid --type \"%s\": use incident, "
                "alert, tag, dlq or raw\n", name);
        return -1;
}

static int parse_log_level(const char *text)
{
        hearth_log_level_t level;

        if (hearth_log_parse_level(text, &level) != 0) {
                fprintf(stderr, PROGRAM ": invalid --log-level \"%s\": use "
                        "debug, info, warn, error or off\n", text);
                return -1;
        }
        hearth_log_set_level(level);
        return 0;
}

static int add_override(options_t *o, char *property)
{
        if (o->n_overrides == MAX_OVERRIDES) {
                fprintf(stderr, PROGRAM ": too many -X options: at most %d\n",
                        MAX_OVERRIDES);
                return -1;
        }
        o->overrides[o->n_overrides++] = property;
        return 0;
}

enum { OPT_KCONF = 256, OPT_LOG, OPT_TIMEOUT, OPT_PARTITIONS,
       OPT_DLQ_PARTITIONS, OPT_ALERT_PARTITIONS, OPT_TAGS_PARTITIONS,
       OPT_REPLICATION, OPT_INPUT, OPT_DLQ, OPT_EXTRA, OPT_TOPIC, OPT_TYPE,
       OPT_MAX, OPT_FROM_BEGINNING, OPT_UNTIL_END };

/* Bit of a command option (OPT_TIMEOUT to OPT_UNTIL_END) in masks. */
#define OPTION_BIT(opt) (1u << ((opt) - OPT_TIMEOUT))
#define CREATE_OPTIONS                                                     \
        (OPTION_BIT(OPT_TIMEOUT) | OPTION_BIT(OPT_PARTITIONS) |            \
         OPTION_BIT(OPT_DLQ_PARTITIONS) | OPTION_BIT(OPT_ALERT_PARTITIONS) | \
         OPTION_BIT(OPT_TAGS_PARTITIONS) | OPTION_BIT(OPT_REPLICATION) |   \
         OPTION_BIT(OPT_INPUT) | OPTION_BIT(OPT_DLQ) | OPTION_BIT(OPT_EXTRA))
#define COUNT_OPTIONS (OPTION_BIT(OPT_TIMEOUT) | OPTION_BIT(OPT_TOPIC))
#define DUMP_OPTIONS                                                       \
        (COUNT_OPTIONS | OPTION_BIT(OPT_TYPE) | OPTION_BIT(OPT_MAX) |      \
         OPTION_BIT(OPT_FROM_BEGINNING) | OPTION_BIT(OPT_UNTIL_END))
#define DELETE_OPTIONS OPTION_BIT(OPT_TIMEOUT)

/* The parser accepts every option after any command, and check_options
 * then rejects those that do not apply to the command. */
static const struct option long_options[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"kafka-config", required_argument, NULL, OPT_KCONF},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"partitions", required_argument, NULL, OPT_PARTITIONS},
        {"dlq-partitions", required_argument, NULL, OPT_DLQ_PARTITIONS},
        {"alert-partitions", required_argument, NULL, OPT_ALERT_PARTITIONS},
        {"tags-partitions", required_argument, NULL, OPT_TAGS_PARTITIONS},
        {"replication", required_argument, NULL, OPT_REPLICATION},
        {"input", required_argument, NULL, OPT_INPUT},
        {"dlq", required_argument, NULL, OPT_DLQ},
        {"extra", required_argument, NULL, OPT_EXTRA},
        {"topic", required_argument, NULL, OPT_TOPIC},
        {"type", required_argument, NULL, OPT_TYPE},
        {"max", required_argument, NULL, OPT_MAX},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"until-end", no_argument, NULL, OPT_UNTIL_END},
        {NULL, 0, NULL, 0}};

static int apply_common_option(options_t *o, int c, char *arg)
{
        switch (c) {
        case 'b': o->brokers = arg; return 0;
        case OPT_KCONF: o->kafka_config = arg; return 0;
        case 'X': return add_override(o, arg);
        case OPT_LOG: return parse_log_level(arg);
        case 'h': usage(stdout); exit(0);
        default:
                fprintf(stderr, "Try '" PROGRAM " --help'.\n");
                return -1;
        }
}

/* Applies one option from getopt_long; returns -1 when it is invalid. */
static int apply_option(options_t *o, int c, char *arg)
{
        if (c >= OPT_TIMEOUT && c <= OPT_UNTIL_END)
                o->given |= OPTION_BIT(c);
        switch (c) {
        case OPT_TIMEOUT:
                return parse_number("--timeout", arg, 0, INT_MAX,
                                    &o->timeout_ms);
        case OPT_PARTITIONS:
                return parse_int("--partitions", arg, 1, &o->partitions);
        case OPT_DLQ_PARTITIONS:
                return parse_int("--dlq-partitions", arg, 1,
                                 &o->dlq_partitions);
        case OPT_ALERT_PARTITIONS:
                return parse_int("--alert-partitions", arg, 1,
                                 &o->alert_partitions);
        case OPT_TAGS_PARTITIONS:
                return parse_int("--tags-partitions", arg, 1,
                                 &o->tags_partitions);
        case OPT_REPLICATION:
                return parse_int("--replication", arg, 1, &o->replication);
        case OPT_INPUT: o->input_topic = arg; return 0;
        case OPT_DLQ: o->dlq_topic = arg; return 0;
        case OPT_EXTRA: return add_extra(o, arg);
        case OPT_TOPIC: o->topic = arg; return 0;
        case OPT_TYPE: return parse_type(o, arg);
        case OPT_MAX:
                return parse_number("--max", arg, 0, LONG_MAX,
                                    &o->max_messages);
        case OPT_FROM_BEGINNING:
        case OPT_UNTIL_END:
                return 0;
        default:
                return apply_common_option(o, c, arg);
        }
}

/* Checks the names of the input and dead-letter topics. */
static int check_create_options(const options_t *o)
{
        return check_topic_name("--input", o->input_topic) ||
               check_topic_name("--dlq", o->dlq_topic);
}

/* Rejects an option that the command does not use. */
static int check_option_set(const command_t *cmd, const options_t *o)
{
        unsigned extra = o->given & ~cmd->options;

        for (const struct option *lo = long_options; extra && lo->name; lo++) {
                if (lo->val < OPT_TIMEOUT || lo->val > OPT_UNTIL_END ||
                    !(extra & OPTION_BIT(lo->val)))
                        continue;
                fprintf(stderr, PROGRAM ": --%s does not apply to %s; see "
                        "--help\n", lo->name, cmd->name);
                return -1;
        }
        return 0;
}

/* Returns 0 when the options given suit the command and are complete. */
static int check_options(const command_t *cmd, options_t *o)
{
        int is_create = strcmp(cmd->name, "create-topics") == 0;
        int is_delete = strcmp(cmd->name, "delete-topics") == 0;

        if (check_option_set(cmd, o) != 0)
                return -1;
        if (is_create)
                return check_create_options(o);
        if (is_delete) {
                if (o->n_names == 0) {
                        fprintf(stderr, PROGRAM ": delete-topics needs at "
                                "least one topic name\n");
                        return -1;
                }
                return 0;
        }
        if (!o->topic) {
                fprintf(stderr, PROGRAM ": %s needs --topic NAME\n",
                        cmd->name);
                return -1;
        }
        if (check_topic_name("--topic", o->topic) != 0)
                return -1;
        if (strcmp(cmd->name, "dump") == 0 && !o->type_name) {
                fprintf(stderr, PROGRAM ": dump needs --type incident, "
                        "alert, tag, dlq or raw\n");
                return -1;
        }
        return 0;
}

static int dump_run(admin_t *a);
static int count_run(admin_t *a);
static int create_run(admin_t *a);
static int delete_run(admin_t *a);

static const command_t commands[] = {
        {"create-topics", create_run, 30000, RD_KAFKA_PRODUCER,
         CREATE_OPTIONS},
        {"count", count_run, 10000, RD_KAFKA_PRODUCER, COUNT_OPTIONS},
        {"dump", dump_run, 0, RD_KAFKA_CONSUMER, DUMP_OPTIONS},
        {"delete-topics", delete_run, 30000, RD_KAFKA_PRODUCER,
         DELETE_OPTIONS},
};

static const command_t *find_command(const char *name)
{
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
                if (strcmp(commands[i].name, name) == 0)
                        return &commands[i];
        fprintf(stderr, PROGRAM ": unknown command \"%s\": use "
                "create-topics, count, dump or delete-topics\n", name);
        return NULL;
}

/*
 * Parses the common options before the command, the command name, and the
 * command's options and names after it. Returns NULL for invalid options.
 */
static const command_t *parse_options(int argc, char **argv, options_t *o)
{
        const command_t *cmd;
        int c;

        *o = (options_t){.timeout_ms = -1, .partitions = 8,
                         .dlq_partitions = 1, .alert_partitions = 1,
                         .tags_partitions = 1, .replication = 1,
                         .input_topic = "hearth.incidents",
                         .dlq_topic = "hearth.incidents.dlq"};
        while ((c = getopt_long(argc, argv, "+b:X:h", long_options, NULL)) !=
               -1)
                if (apply_common_option(o, c, optarg) != 0)
                        return NULL;
        if (optind >= argc) {
                fprintf(stderr, PROGRAM ": missing COMMAND; see --help\n");
                return NULL;
        }
        cmd = find_command(argv[optind]);
        if (!cmd)
                return NULL;
        argc -= optind;
        argv += optind;
        /* optind 0 makes glibc start over, without the '+' of the first scan,
         * so options after the names are found too. */
        optind = 0;
        while ((c = getopt_long(argc, argv, "b:X:h", long_options, NULL)) !=
               -1)
                if (apply_option(o, c, optarg) != 0)
                        return NULL;
        o->names = argv + optind;
        o->n_names = argc - optind;
        if (o->n_names > 0 && strcmp(cmd->name, "delete-topics") != 0) {
                fprintf(stderr, PROGRAM ": unexpected argument \"%s\"; see "
                        "--help\n", o->names[0]);
                return NULL;
        }
        return check_options(cmd, o) == 0 ? cmd : NULL;
}

/* Errors librdkafka reports for a partition whose topic was deleted. */
static int is_deletion_error(int err)
{
        return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
               err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
        admin_t *a = opaque;

        if (is_deletion_error(err))
                a->saw_deleted_topic = 1;
        if (a->closing) {
                hearth_debug(COMPONENT, "Kafka while closing: %s", reason);
        } else if (hearth_kafka_record_error(rk, err, reason)) {
                a->fatal = 1;
        } else if (hearth_kafka_failure()) {
                /* The program is stopping because of that failure. */
                hearth_debug(COMPONENT, "Kafka: %s", reason);
        } else {
                hearth_warn(COMPONENT, "Kafka: %s", reason);
        }
}

/*
 * Routes librdkafka's own log lines through hearth logging. Connection
 * failures ("FAIL") also reach on_kafka_error, so they are debug lines here
 * to avoid printing them twice.
 */
static void on_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
                         const char *buf)
{
        (void)rk;
        if (level <= 4 && strcmp(fac, "FAIL") != 0)
                hearth_warn(COMPONENT, "librdkafka %s: %s", fac, buf);
        else
                hearth_debug(COMPONENT, "librdkafka %s: %s", fac, buf);
}

/* Sets name to value unless the user's configuration already set it. */
static int set_default(rd_kafka_conf_t *conf, const char *name,
                       const char *value, char *errstr, size_t errstr_size)
{
        char current[256];
        size_t size = sizeof(current);

        if (rd_kafka_conf_get(conf, name, current, &size) ==
                    RD_KAFKA_CONF_OK && current[0] != '\0')
                return 0;
        return hearth_kafka_conf_set(conf, name, value, errstr, errstr_size);
}

/*
 * Consumer settings for dump: librdkafka's assign() needs a group.id, but
 * nothing joins or commits to that group.
 */
static int set_consumer_conf(rd_kafka_conf_t *conf, char *errstr,
                             size_t errstr_size)
{
        return set_default(conf, "group.id", PROGRAM, errstr, errstr_size) ||
               hearth_kafka_conf_set(conf, "enable.auto.commit", "false",
                                     errstr, errstr_size) ||
               hearth_kafka_conf_set(conf, "enable.auto.offset.store",
                                     "false", errstr, errstr_size) ||
               hearth_kafka_conf_set(conf, "enable.partition.eof", "true",
                                     errstr, errstr_size) ||
               hearth_kafka_conf_set(conf, "auto.offset.reset", "earliest",
                                     errstr, errstr_size) ||
               hearth_kafka_conf_set(conf, "allow.auto.create.topics",
                                     "false", errstr, errstr_size);
}

/* Returns 0, EXIT_USAGE for a bad setting or EXIT_KAFKA. */
static int create_client(admin_t *a, rd_kafka_type_t type)
{
        char errstr[512];
        rd_kafka_conf_t *conf;

        conf = hearth_kafka_conf_new(a->opt.brokers, a->opt.kafka_config,
                                     a->opt.overrides, a->opt.n_overrides,
                                     errstr, sizeof(errstr));
        if (!conf ||
            set_default(conf, "client.id", PROGRAM, errstr, sizeof(errstr)) ||
            (type == RD_KAFKA_CONSUMER &&
             set_consumer_conf(conf, errstr, sizeof(errstr)))) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                fprintf(stderr, PROGRAM ": %s\n", errstr);
                return EXIT_USAGE;
        }
        rd_kafka_conf_set_error_cb(conf, on_kafka_error);
        rd_kafka_conf_set_log_cb(conf, on_kafka_log);
        rd_kafka_conf_set_opaque(conf, a);
        a->rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!a->rk) {
                rd_kafka_conf_destroy(conf);
                fprintf(stderr, PROGRAM ": cannot create the Kafka client: "
                        "%s\n", errstr);
                return EXIT_KAFKA;
        }
        if (type == RD_KAFKA_CONSUMER)
                rd_kafka_poll_set_consumer(a->rk);
        return 0;
}

/* Milliseconds left before --timeout, or -1 without a limit. */
static long remaining_ms(const admin_t *a)
{
        int64_t left;

        if (a->deadline_ms == 0)
                return -1;
        left = a->deadline_ms - monotonic_ms();
        return left > 0 ? (long)left : 0;
}

/* The time left before --timeout, at most max milliseconds. */
static int request_timeout(const admin_t *a, long max)
{
        long left = remaining_ms(a);

        return (int)(left < 0 || left > max ? max : left);
}

static void report_unreachable(const admin_t *a, int timeout_ms,
                               rd_kafka_resp_err_t err)
{
        /* A failed login also makes requests time out. Its error, which
         * explains them and is logged once recorded, may still be queued. */
        if (hearth_kafka_check_failure(a->rk))
                return;
        hearth_error(COMPONENT, "cannot reach the broker at %s within %d ms "
                     "(%s): check --brokers, that Kafka is running and "
                     "--timeout",
                     brokers_of(a), timeout_ms, rd_kafka_err2str(err));
}

/*
 * Fetches metadata of every topic: a request for all topics never makes
 * the broker auto-create one. Returns NULL after an error message.
 */
static const struct rd_kafka_metadata *fetch_metadata(admin_t *a)
{
        const struct rd_kafka_metadata *md;
        int timeout = request_timeout(a, METADATA_TIMEOUT_MS);
        rd_kafka_resp_err_t err;

        err = rd_kafka_metadata(a->rk, 1, NULL, &md, timeout);
        if (err) {
                report_unreachable(a, timeout, err);
                return NULL;
        }
        return md;
}

/* Returns the topic's metadata, or NULL when it does not exist. */
static const rd_kafka_metadata_topic_t *
find_topic(const struct rd_kafka_metadata *md, const char *name)
{
        for (int i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &md->topics[i];

                if (strcmp(t->topic, name) == 0 &&
                    t->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                        return t;
        }
        return NULL;
}

/* Fills specs with the topics to create and returns their number. */
static size_t plan_topics(const options_t *o, topic_spec_t *specs)
{
        size_t n = 0;

        snprintf(specs[n].name, sizeof(specs[n].name), "%s", o->input_topic);
        specs[n++].partitions = o->partitions;
        snprintf(specs[n].name, sizeof(specs[n].name), "%s", o->dlq_topic);
        specs[n++].partitions = o->dlq_partitions;
        for (int p = 1; p <= N_ALERT_TOPICS; p++) {
                snprintf(specs[n].name, sizeof(specs[n].name),
                         "hearth.alerts.p%d", p);
                specs[n++].partitions = o->alert_partitions;
        }
        snprintf(specs[n].name, sizeof(specs[n].name), "hearth.tags");
        specs[n++].partitions = o->tags_partitions;
        /* The person topic spreads persons like the input spreads
         * districts, so it gets as many partitions. */
        snprintf(specs[n].name, sizeof(specs[n].name), "hearth.persons");
        specs[n++].partitions = o->partitions;
        for (size_t i = 0; i < o->n_extras; i++)
                specs[n++] = o->extras[i];
        return n;
}

/* A request naming a topic twice fails as a whole, so reject that early. */
static int check_duplicates(const topic_spec_t *specs, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                for (size_t j = i + 1; j < n; j++) {
                        if (strcmp(specs[i].name, specs[j].name) != 0)
                                continue;
                        fprintf(stderr, PROGRAM ": topic %s is named twice; "
                                "check --input, --dlq and --extra\n",
                                specs[i].name);
                        return -1;
                }
        }
        return 0;
}

/*
 * Waits for the result event of the CreateTopics or DeleteTopics request
 * sent through queue. Returns NULL after an error message.
 */
static rd_kafka_event_t *wait_admin_result(admin_t *a,
                                           rd_kafka_queue_t *queue,
                                           int timeout)
{
        /* Extra time so the request's own timeout fires first. */
        rd_kafka_event_t *ev = rd_kafka_queue_poll(queue, timeout + 5000);
        rd_kafka_resp_err_t err;

        if (!ev) {
                report_unreachable(a, timeout, RD_KAFKA_RESP_ERR__TIMED_OUT);
                return NULL;
        }
        err = rd_kafka_event_error(ev);
        if (err == RD_KAFKA_RESP_ERR__TIMED_OUT ||
            err == RD_KAFKA_RESP_ERR__TRANSPORT) {
                report_unreachable(a, timeout, err);
        } else if (err) {
                hearth_error(COMPONENT, "the broker at %s rejected the "
                             "request: %s", brokers_of(a),
                             rd_kafka_event_error_string(ev));
        } else {
                return ev;
        }
        rd_kafka_event_destroy(ev);
        return NULL;
}

static rd_kafka_AdminOptions_t *admin_options(admin_t *a,
                                              rd_kafka_admin_op_t op,
                                              int timeout)
{
        rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(a->rk,
                                                                     op);
        char errstr[256];

        rd_kafka_AdminOptions_set_request_timeout(options, timeout, errstr,
                                                  sizeof(errstr));
        rd_kafka_AdminOptions_set_operation_timeout(options, timeout, errstr,
                                                    sizeof(errstr));
        return options;
}

/*
 * Reports a topic that exists already, with a warning when its partition
 * count differs from the request. *md is fetched on first use.
 */
static void report_existing(admin_t *a, const topic_spec_t *spec,
                            const struct rd_kafka_metadata **md)
{
        const rd_kafka_metadata_topic_t *t;

        printf("%s already exists; left unchanged\n", spec->name);
        if (!*md)
                *md = fetch_metadata(a);
        t = *md ? find_topic(*md, spec->name) : NULL;
        if (t && t->partition_cnt != spec->partitions)
                hearth_warn(COMPONENT, "%s has %d partitions, not the %d "
                            "requested; delete it first to recreate it",
                            spec->name, t->partition_cnt, spec->partitions);
}

static const topic_spec_t *find_spec(const topic_spec_t *specs, size_t n,
                                     const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(specs[i].name, name) == 0)
                        return &specs[i];
        return NULL;
}

/* Reports each topic's result and returns the exit status. */
static int report_created(admin_t *a, rd_kafka_event_t *ev,
                          const topic_spec_t *specs, size_t n_specs)
{
        const rd_kafka_CreateTopics_result_t *res =
                rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **results;
        const struct rd_kafka_metadata *md = NULL;
        size_t n;
        int rc = 0;

        results = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_topic_result_name(results[i]);
                const topic_spec_t *spec = find_spec(specs, n_specs, name);
                rd_kafka_resp_err_t err =
                        rd_kafka_topic_result_error(results[i]);

                if (!err) {
                        printf("created %s with %d partitions\n", name,
                               spec ? spec->partitions : -1);
                } else if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS &&
                           spec) {
                        report_existing(a, spec, &md);
                } else {
                        hearth_error(COMPONENT, "cannot create %s: %s", name,
                                     rd_kafka_topic_result_error_string(
                                             results[i]));
                        rc = EXIT_KAFKA;
                }
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        return rc;
}

static rd_kafka_NewTopic_t **new_topics(admin_t *a, const topic_spec_t *specs,
                                        size_t n)
{
        rd_kafka_NewTopic_t **topics = calloc(n, sizeof(*topics));
        char errstr[256];

        for (size_t i = 0; topics && i < n; i++) {
                topics[i] = rd_kafka_NewTopic_new(specs[i].name,
                                                  specs[i].partitions,
                                                  a->opt.replication, errstr,
                                                  sizeof(errstr));
                if (!topics[i]) {
                        hearth_error(COMPONENT, "invalid topic %s: %s",
                                     specs[i].name, errstr);
                        rd_kafka_NewTopic_destroy_array(topics, i);
                        free(topics);
                        return NULL;
                }
        }
        return topics;
}

static int create_run(admin_t *a)
{
        topic_spec_t specs[MAX_CREATE];
        size_t n = plan_topics(&a->opt, specs);
        int timeout = request_timeout(a, INT_MAX);
        rd_kafka_NewTopic_t **topics;
        rd_kafka_AdminOptions_t *options;
        rd_kafka_queue_t *queue;
        rd_kafka_event_t *ev;
        int rc = EXIT_KAFKA;

        if (check_duplicates(specs, n) != 0)
                return EXIT_USAGE;
        topics = new_topics(a, specs, n);
        if (!topics)
                return EXIT_USAGE;
        options = admin_options(a, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout);
        queue = rd_kafka_queue_new(a->rk);
        rd_kafka_CreateTopics(a->rk, topics, n, options, queue);
        ev = wait_admin_result(a, queue, timeout);
        if (ev) {
                rc = report_created(a, ev, specs, n);
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_queue_destroy(queue);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_NewTopic_destroy_array(topics, n);
        free(topics);
        return rc;
}

static int report_deleted(rd_kafka_event_t *ev)
{
        const rd_kafka_DeleteTopics_result_t *res =
                rd_kafka_event_DeleteTopics_result(ev);
        const rd_kafka_topic_result_t **results;
        size_t n;
        int rc = 0;

        results = rd_kafka_DeleteTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_topic_result_name(results[i]);
                rd_kafka_resp_err_t err =
                        rd_kafka_topic_result_error(results[i]);

                if (!err) {
                        printf("deleted %s\n", name);
                } else if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                        printf("%s does not exist; nothing to delete\n",
                               name);
                } else {
                        hearth_error(COMPONENT, "cannot delete %s: %s", name,
                                     rd_kafka_topic_result_error_string(
                                             results[i]));
                        rc = EXIT_KAFKA;
                }
        }
        return rc;
}

static int delete_run(admin_t *a)
{
        int n = a->opt.n_names;
        int timeout = request_timeout(a, INT_MAX);
        rd_kafka_DeleteTopic_t **topics = calloc((size_t)n, sizeof(*topics));
        rd_kafka_AdminOptions_t *options;
        rd_kafka_queue_t *queue;
        rd_kafka_event_t *ev;
        int rc = EXIT_KAFKA;

        for (int i = 0; i < n; i++) {
                if (check_topic_name("topic name", a->opt.names[i]) != 0) {
                        rc = EXIT_USAGE;
                        goto out;
                }
                topics[i] = rd_kafka_DeleteTopic_new(a->opt.names[i]);
        }
        options = admin_options(a, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout);
        queue = rd_kafka_queue_new(a->rk);
        rd_kafka_DeleteTopics(a->rk, topics, (size_t)n, options, queue);
        ev = wait_admin_result(a, queue, timeout);
        if (ev) {
                rc = report_deleted(ev);
                rd_kafka_event_destroy(ev);
        }
        rd_kafka_queue_destroy(queue);
        rd_kafka_AdminOptions_destroy(options);
out:
        for (int i = 0; i < n; i++)
                if (topics[i])
                        rd_kafka_DeleteTopic_destroy(topics[i]);
        free(topics);
        return rc;
}

/* Errors that a new topic returns until its partition leaders are known. */
static int is_transient(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
               err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
               err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
}

/*
 * Adds high minus low watermark of one partition to *total, retrying
 * transient errors every 200 ms until the timeout.
 */
static int count_partition(admin_t *a, int32_t id, long long *total)
{
        int64_t low, high;
        rd_kafka_resp_err_t err;

        for (;;) {
                err = rd_kafka_query_watermark_offsets(
                        a->rk, a->opt.topic, id, &low, &high,
                        request_timeout(a, METADATA_TIMEOUT_MS));
                if (!err) {
                        *total += high - low;
                        return 0;
                }
                if (is_deletion_error(err))
                        a->saw_deleted_topic = 1;
                if (!is_transient(err) || remaining_ms(a) < 200)
                        break;
                hearth_debug(COMPONENT, "offsets of %s [%d]: %s; retrying",
                             a->opt.topic, id, rd_kafka_err2str(err));
                nanosleep(&(struct timespec){0, 200 * 1000000L}, NULL);
        }
        hearth_error(COMPONENT, "cannot read the offsets of %s [%d]: %s",
                     a->opt.topic, id, rd_kafka_err2str(err));
        return -1;
}

static int count_run(admin_t *a)
{
        const struct rd_kafka_metadata *md = fetch_metadata(a);
        const rd_kafka_metadata_topic_t *t;
        long long total = 0;
        int rc = 0;

        if (!md)
                return EXIT_KAFKA;
        t = find_topic(md, a->opt.topic);
        if (!t)
                fprintf(stderr, PROGRAM ": topic %s does not exist; counting "
                        "0 messages\n", a->opt.topic);
        for (int i = 0; t && i < t->partition_cnt && rc == 0; i++)
                if (count_partition(a, t->partitions[i].id, &total) != 0)
                        rc = EXIT_KAFKA;
        rd_kafka_metadata_destroy(md);
        if (rc == 0)
                printf("%lld\n", total);
        return rc;
}

/* Dump state: which partitions reached their end, and how many lines. */
typedef struct dump {
        rd_kafka_topic_partition_list_t *assigned; /* opaque: 1 after EOF */
        int n_at_end;
        long written;
} dump_t;

static json_t *base64_json(const void *data, size_t len)
{
        char *text;
        json_t *value;

        if (!data)
                return json_null();
        text = malloc(4 * ((len + 2) / 3) + 1);
        if (!text)
                return NULL;
        EVP_EncodeBlock((unsigned char *)text, data, (int)len);
        value = json_string(text);
        free(text);
        return value;
}

static json_t *error_record(const rd_kafka_message_t *m, const char *error)
{
        return json_pack("{s:s, s:i, s:I}", "error", error, "partition",
                         (int)m->partition, "offset", (json_int_t)m->offset);
}

static json_t *decode_incident(const rd_kafka_message_t *m)
{
        Hearth__V1__IncidentEvent *e =
                hearth__v1__incident_event__unpack(NULL, m->len, m->payload);
        json_t *doc;

        if (!e)
                return error_record(m, "not a valid IncidentEvent");
        doc = hearth_incident_to_json(e);
        hearth__v1__incident_event__free_unpacked(e, NULL);
        return doc;
}

static json_t *decode_alert(const rd_kafka_message_t *m)
{
        Hearth__V1__Alert *alert =
                hearth__v1__alert__unpack(NULL, m->len, m->payload);
        json_t *doc;

        if (!alert)
                return error_record(m, "not a valid Alert");
        doc = hearth_alert_to_json(alert);
        hearth__v1__alert__free_unpacked(alert, NULL);
        return doc;
}

static json_t *decode_tag(const rd_kafka_message_t *m)
{
        Hearth__V1__Tag *tag = hearth__v1__tag__unpack(NULL, m->len,
                                                       m->payload);
        json_t *doc;

        if (!tag)
                return error_record(m, "not a valid Tag");
        doc = hearth_tag_to_json(tag);
        hearth__v1__tag__free_unpacked(tag, NULL);
        return doc;
}

/* Returns the dead letter, a JSON object, with partition and offset. */
static json_t *decode_dlq(const rd_kafka_message_t *m)
{
        json_error_t error;
        json_t *doc = NULL;
        char text[256];

        if (!m->payload)
                return error_record(m, "empty message");
        doc = json_loadb(m->payload, m->len, 0, &error);
        if (!doc) {
                snprintf(text, sizeof(text), "invalid JSON: %s", error.text);
                return error_record(m, text);
        }
        if (!json_is_object(doc)) {
                json_decref(doc);
                return error_record(m, "JSON value is not an object");
        }
        json_object_set_new(doc, "partition", json_integer(m->partition));
        json_object_set_new(doc, "offset", json_integer(m->offset));
        return doc;
}

/* Returns partition, offset, Kafka timestamp (ms), and key and value in
 * base64. */
static json_t *decode_raw(const rd_kafka_message_t *m)
{
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(m, &type);

        return json_pack("{s:i, s:I, s:I, s:o, s:o}", "partition",
                         (int)m->partition, "offset", (json_int_t)m->offset,
                         "timestamp_ms", (json_int_t)ts, "key",
                         base64_json(m->key, m->key_len), "value",
                         base64_json(m->payload, m->len));
}

static void write_message(admin_t *a, dump_t *d, const rd_kafka_message_t *m)
{
        json_t *doc;

        switch (a->opt.type) {
        case DUMP_INCIDENT: doc = decode_incident(m); break;
        case DUMP_ALERT: doc = decode_alert(m); break;
        case DUMP_DLQ: doc = decode_dlq(m); break;
        case DUMP_TAG: doc = decode_tag(m); break;
        default: doc = decode_raw(m); break;
        }
        if (!doc)
                doc = error_record(m, "cannot convert to JSON");
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
        d->written++;
}

static void mark_at_end(dump_t *d, int32_t partition)
{
        rd_kafka_topic_partition_t *p = NULL;

        for (int i = 0; i < d->assigned->cnt; i++)
                if (d->assigned->elems[i].partition == partition)
                        p = &d->assigned->elems[i];
        if (p && !p->opaque) {
                p->opaque = (void *)1;
                d->n_at_end++;
        }
}

static void handle_message(admin_t *a, dump_t *d, const rd_kafka_message_t *m)
{
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                mark_at_end(d, m->partition);
        } else if (m->err) {
                hearth_warn(COMPONENT, "cannot read %s [%d]: %s",
                            a->opt.topic, m->partition,
                            rd_kafka_message_errstr(m));
                if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                        a->fatal = 1;
                if (is_deletion_error(m->err))
                        a->saw_deleted_topic = 1;
        } else {
                write_message(a, d, m);
        }
}

static int dump_done(const admin_t *a, const dump_t *d)
{
        return d->n_at_end >= d->assigned->cnt ||
               (a->opt.max_messages > 0 && d->written >= a->opt.max_messages);
}

/* Reads until every partition's end, --max, a signal or --timeout. */
static int dump_loop(admin_t *a, dump_t *d)
{
        rd_kafka_message_t *m;
        long left;

        while (!dump_done(a, d) && !stop_requested && !a->fatal &&
               !a->saw_deleted_topic) {
                left = remaining_ms(a);
                if (left == 0) {
                        hearth_error(COMPONENT, "timed out after %ld ms "
                                     "(--timeout) with %d of %d partitions "
                                     "of %s read to the end",
                                     a->opt.timeout_ms, d->n_at_end,
                                     d->assigned->cnt, a->opt.topic);
                        return EXIT_KAFKA;
                }
                m = rd_kafka_consumer_poll(a->rk, left < 0 || left > POLL_MS
                                                          ? POLL_MS
                                                          : (int)left);
                if (!m)
                        continue;
                handle_message(a, d, m);
                rd_kafka_message_destroy(m);
        }
        if (stop_requested)
                hearth_info(COMPONENT, "stopped by signal after %ld messages",
                            d->written);
        if (a->saw_deleted_topic)
                hearth_error(COMPONENT, "%s was deleted during the dump after "
                             "%ld messages", a->opt.topic, d->written);
        return a->fatal || a->saw_deleted_topic ? EXIT_KAFKA : 0;
}

static int dump_run(admin_t *a)
{
        const struct rd_kafka_metadata *md = fetch_metadata(a);
        const rd_kafka_metadata_topic_t *t;
        dump_t d = {0};
        rd_kafka_resp_err_t err;
        int rc;

        if (!md)
                return EXIT_KAFKA;
        t = find_topic(md, a->opt.topic);
        if (!t) {
                fprintf(stderr, PROGRAM ": topic %s does not exist; nothing "
                        "to dump\n", a->opt.topic);
                rd_kafka_metadata_destroy(md);
                return 0;
        }
        d.assigned = rd_kafka_topic_partition_list_new(t->partition_cnt);
        for (int i = 0; i < t->partition_cnt; i++)
                rd_kafka_topic_partition_list_add(d.assigned, a->opt.topic,
                                                  t->partitions[i].id)
                        ->offset = RD_KAFKA_OFFSET_BEGINNING;
        rd_kafka_metadata_destroy(md);
        err = rd_kafka_assign(a->rk, d.assigned);
        if (err) {
                hearth_error(COMPONENT, "cannot assign the partitions of %s: "
                             "%s", a->opt.topic, rd_kafka_err2str(err));
                rc = EXIT_KAFKA;
        } else {
                rc = dump_loop(a, &d);
        }
        rd_kafka_topic_partition_list_destroy(d.assigned);
        return rc;
}

/*
 * NOTE: librdkafka 2.0.2 can hang in rd_kafka_destroy() after it saw a
 * topic it used being deleted (reproduced with a minimal consumer). The
 * program exits right after this, so in that case the handle is left for
 * the operating system to reclaim.
 */
static void close_client(admin_t *a, rd_kafka_type_t type)
{
        a->closing = 1;
        if (type == RD_KAFKA_CONSUMER)
                rd_kafka_consumer_close(a->rk);
        if (a->saw_deleted_topic)
                hearth_debug(COMPONENT, "not destroying the Kafka handle "
                             "after a topic deletion");
        else
                rd_kafka_destroy(a->rk);
}

static void install_signals(void)
{
        struct sigaction sa = {0};

        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
}

int main(int argc, char **argv)
{
        admin_t a = {0};
        const command_t *cmd = parse_options(argc, argv, &a.opt);
        long timeout;
        int rc;

        if (!cmd)
                return EXIT_USAGE;
        timeout = a.opt.timeout_ms >= 0 ? a.opt.timeout_ms
                                        : cmd->default_timeout_ms;
        if (timeout == 0 && cmd->default_timeout_ms > 0) {
                fprintf(stderr, PROGRAM ": invalid --timeout 0: %s needs a "
                        "limit in milliseconds\n", cmd->name);
                return EXIT_USAGE;
        }
        a.opt.timeout_ms = timeout;
        if (timeout > 0)
                a.deadline_ms = monotonic_ms() + timeout;
        install_signals();
        rc = create_client(&a, cmd->client_type);
        if (rc != 0)
                return rc;
        rc = cmd->run(&a);
        fflush(stdout);
        close_client(&a, cmd->client_type);
        return rc;
}
