/*
 * hearth-watch: follows alerts for people. It reads the province-wide
 * priority topics, or one city's regional topic with --region, and prints
 * one line per alert, or JSON Lines with --json.
 *
 * The watcher joins no consumer group. It assigns every partition itself
 * and never commits offsets, so any number of watchers can run side by
 * side without taking alerts from each other or from the engine.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/alertfmt.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"

#define PROGRAM "hearth-watch"
#define COMPONENT "watch"
#define MAX_OVERRIDES 64
#define MAX_PRIORITY 4
#define MAX_TOPICS MAX_PRIORITY
#define TOPIC_NAME_MAX 249              /* Kafka's limit on topic names */
#define METADATA_TIMEOUT_MS 10000
/* Interval between metadata requests for created or deleted topics. */
#define REFRESH_INTERVAL_MS 10000
#define POLL_MS 200
#define TOP_SUBJECTS 10
#define LINE_SIZE 4096

#define DEFAULT_REGION_TEMPLATE "hearth.alerts.region.{city}"
#define DEFAULT_PRIORITY_TEMPLATE "hearth.alerts.p{priority}"

enum { EXIT_KAFKA = 1, EXIT_USAGE = 2 };

typedef struct options {
        const char *brokers;
        const char *kafka_config;
        char *overrides[MAX_OVERRIDES];
        size_t n_overrides;
        const char *region;
        const char *region_template;
        const char *priority_template;
        int requested[MAX_PRIORITY + 1]; /* requested[p] != 0: show P<p> */
        int from_beginning;
        int until_end;
        long timeout_ms;                /* 0: no limit */
        int json;
        int summary;
        int color;                      /* -1: auto */
} options_t;

typedef struct model_tally {
        char *model;
        uint64_t by_priority[MAX_PRIORITY + 1]; /* [0]: any other value */
} model_tally_t;

typedef struct subject_tally {
        int kind;
        char *key;
        uint64_t alerts;
        uint32_t max_count;
} subject_tally_t;

typedef struct tally {
        model_tally_t *models;
        size_t n_models;
        subject_tally_t **subjects;
        size_t n_subjects;
        void *subject_tree;             /* tsearch index over subjects */
        uint64_t alerts;
        uint64_t undecodable;
        uint64_t skipped_priority;
} tally_t;

typedef struct watch {
        options_t opt;
        char topics[MAX_TOPICS][TOPIC_NAME_MAX + 1];
        size_t n_topics;
        rd_kafka_t *rk;
        /* Every assigned partition. Its opaque is non-NULL at the end. */
        rd_kafka_topic_partition_list_t *assigned;
        int n_at_end;
        int64_t deadline_ms;            /* monotonic clock; 0: none */
        int64_t next_refresh_ms;
        int fatal;
        int closing;                    /* set once errors are expected */
        int saw_deleted_topic;
        tally_t tally;
} watch_t;

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

static void *xrealloc(void *p, size_t size)
{
        p = realloc(p, size);
        if (!p) {
                fprintf(stderr, PROGRAM ": out of memory\n");
                exit(EXIT_KAFKA);
        }
        return p;
}

static char *xstrdup(const char *s)
{
        size_t len = strlen(s) + 1;

        return memcpy(xrealloc(NULL, len), s, len);
}

static void usage(FILE *out)
{
        fprintf(out,
"Usage: " PROGRAM " [options]\n"
"\n"
"Prints alerts from Kafka as they arrive: one line per alert, or JSON Lines\n"
"with --json. Without --region it follows the province-wide priority\n"
"topics.\n"
"\n"
"  -b, --brokers LIST         bootstrap servers ("
        HEARTH_KAFKA_DEFAULT_BROKERS ")\n"
"      --kafka-config FILE    librdkafka properties, e.g. TLS and SASL\n"
"                             (none)\n"
"  -X NAME=VALUE              one librdkafka property; repeatable\n"
"      --region CODE          follow the regional topic of city CODE instead\n"
"                             of the priority topics (off)\n"
"      --region-template T    regional topic; {city} becomes CODE\n"
"                             (" DEFAULT_REGION_TEMPLATE ")\n"
"      --priority-template T  priority topic; {priority} becomes 1 to 4\n"
"                             (" DEFAULT_PRIORITY_TEMPLATE ")\n"
"      --priorities LIST      priorities to show, e.g. 1,2 (1,2,3,4); with\n"
"                             --region, alerts of other priorities are\n"
"                             skipped\n"
"      --from-beginning       read every alert the topics still keep\n"
"                             (default: only alerts that arrive later)\n"
"      --until-end            exit once every partition has been read to\n"
"                             its end, skipping topics that do not exist\n"
"                             (default: keep watching, and pick up topics\n"
"                             and partitions created later)\n"
"      --timeout MS           exit with status 1 after MS milliseconds\n"
"                             (0: no limit)\n"
"      --json                 JSON Lines on stdout, one alert a line (off)\n"
"      --summary              at the end, print alerts by model and\n"
"                             priority, the top 10 subjects and the total;\n"
"                             with --json as a last line {\"summary\": ...}\n"
"                             (off)\n"
"      --color WHEN           auto, always or never (auto: when stdout is a\n"
"                             terminal and NO_COLOR is unset)\n"
"      --log-level LEVEL      debug, info, warn, error or off (info)\n"
"  -h, --help                 this text\n"
"\n"
"Exit status: 0 at the end or after SIGINT or SIGTERM; 1 when Kafka cannot\n"
"be reached or fails, or --timeout expires; 2 for invalid options.\n");
}

/* Parses a comma-separated list of priorities 1..4 into requested[]. */
static int parse_priorities(const char *list, int *requested)
{
        const char *p = list;

        memset(requested, 0, (MAX_PRIORITY + 1) * sizeof(*requested));
        for (;;) {
                if (*p < '1' || *p > '0' + MAX_PRIORITY ||
                    (p[1] != ',' && p[1] != '\0')) {
                        fprintf(stderr, PROGRAM ": invalid --priorities "
                                "\"%s\": use numbers 1 to 4 separated by "
                                "commas, e.g. 1,2\n", list);
                        return -1;
                }
                requested[*p - '0'] = 1;
                if (p[1] == '\0')
                        return 0;
                p += 2;
        }
}

static int parse_timeout(const char *text, long *ms)
{
        char *end;

        errno = 0;
        *ms = strtol(text, &end, 10);
        if (errno || end == text || *end || *ms < 0) {
                fprintf(stderr, PROGRAM ": invalid --timeout \"%s\": use a "
                        "number of milliseconds, 0 for no limit\n", text);
                return -1;
        }
        return 0;
}

static int parse_color(const char *text, int *color)
{
        if (strcmp(text, "auto") == 0)
                *color = -1;
        else if (strcmp(text, "always") == 0)
                *color = 1;
        else if (strcmp(text, "never") == 0)
                *color = 0;
        else {
                fprintf(stderr, PROGRAM ": invalid --color \"%s\": use auto, "
                        "always or never\n", text);
                return -1;
        }
        return 0;
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

enum { OPT_KCONF = 256, OPT_REGION, OPT_REGION_TEMPLATE,
       OPT_PRIORITY_TEMPLATE, OPT_PRIORITIES, OPT_FROM_BEGINNING,
       OPT_UNTIL_END, OPT_TIMEOUT, OPT_JSON, OPT_SUMMARY, OPT_COLOR,
       OPT_LOG };

static const struct option long_options[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"kafka-config", required_argument, NULL, OPT_KCONF},
        {"region", required_argument, NULL, OPT_REGION},
        {"region-template", required_argument, NULL, OPT_REGION_TEMPLATE},
        {"priority-template", required_argument, NULL, OPT_PRIORITY_TEMPLATE},
        {"priorities", required_argument, NULL, OPT_PRIORITIES},
        {"from-beginning", no_argument, NULL, OPT_FROM_BEGINNING},
        {"until-end", no_argument, NULL, OPT_UNTIL_END},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"color", required_argument, NULL, OPT_COLOR},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};

/* Applies one option from getopt_long; returns -1 when it is invalid. */
static int apply_option(options_t *o, int c, char *arg)
{
        switch (c) {
        case 'b': o->brokers = arg; return 0;
        case OPT_KCONF: o->kafka_config = arg; return 0;
        case 'X': return add_override(o, arg);
        case OPT_REGION: o->region = arg; return 0;
        case OPT_REGION_TEMPLATE: o->region_template = arg; return 0;
        case OPT_PRIORITY_TEMPLATE: o->priority_template = arg; return 0;
        case OPT_PRIORITIES: return parse_priorities(arg, o->requested);
        case OPT_FROM_BEGINNING: o->from_beginning = 1; return 0;
        case OPT_UNTIL_END: o->until_end = 1; return 0;
        case OPT_TIMEOUT: return parse_timeout(arg, &o->timeout_ms);
        case OPT_JSON: o->json = 1; return 0;
        case OPT_SUMMARY: o->summary = 1; return 0;
        case OPT_COLOR: return parse_color(arg, &o->color);
        case OPT_LOG: return parse_log_level(arg);
        case 'h': usage(stdout); exit(0);
        default:
                fprintf(stderr, "Try '" PROGRAM " --help'.\n");
                return -1;
        }
}

static int parse_options(int argc, char **argv, options_t *o)
{
        int c;

        *o = (options_t){.region_template = DEFAULT_REGION_TEMPLATE,
                         .priority_template = DEFAULT_PRIORITY_TEMPLATE,
                         .requested = {0, 1, 1, 1, 1}, .color = -1};
        while ((c = getopt_long(argc, argv, "b:X:h", long_options, NULL)) !=
               -1) {
                if (apply_option(o, c, optarg) != 0)
                        return -1;
        }
        if (optind < argc) {
                fprintf(stderr, PROGRAM ": unexpected argument \"%s\"; see "
                        "--help\n", argv[optind]);
                return -1;
        }
        return 0;
}

/* Kafka allows ASCII letters, digits, '.', '_' and '-' in topic names. */
static int topic_chars_valid(const char *s)
{
        return *s && strspn(s, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789._-") == strlen(s);
}

/*
 * Writes template with every "{name}" replaced by value into out, which
 * has room for a topic name. Returns -1, after a message naming option,
 * when the placeholder is missing or the result is not a valid topic.
 */
static int expand_template(const char *option, const char *template,
                           const char *name, const char *value, char *out)
{
        char placeholder[32];
        size_t len = 0, plen;
        const char *p = template, *hit;

        plen = (size_t)snprintf(placeholder, sizeof(placeholder), "{%s}",
                                name);
        if (!strstr(template, placeholder)) {
                fprintf(stderr, PROGRAM ": %s \"%s\" has no %s placeholder\n",
                        option, template, placeholder);
                return -1;
        }
        while (len <= TOPIC_NAME_MAX && (hit = strstr(p, placeholder))) {
                len += (size_t)snprintf(out + len, TOPIC_NAME_MAX + 1 - len,
                                        "%.*s%s", (int)(hit - p), p, value);
                p = hit + plen;
        }
        if (len <= TOPIC_NAME_MAX)
                len += (size_t)snprintf(out + len, TOPIC_NAME_MAX + 1 - len,
                                        "%s", p);
        if (len > TOPIC_NAME_MAX || !topic_chars_valid(out) ||
            strcmp(out, ".") == 0 || strcmp(out, "..") == 0) {
                fprintf(stderr, PROGRAM ": %s \"%s\" gives an invalid topic "
                        "name: use at most %d letters, digits, '.', '_' or "
                        "'-'\n", option, template, TOPIC_NAME_MAX);
                return -1;
        }
        return 0;
}

/* Fills w->topics from the options. */
static int build_topics(watch_t *w)
{
        const options_t *o = &w->opt;
        char digit[2] = "0";

        if (o->region) {
                if (!topic_chars_valid(o->region)) {
                        fprintf(stderr, PROGRAM ": invalid --region \"%s\": "
                                "use the city code, made of letters, digits, "
                                "'.', '_' or '-'\n", o->region);
                        return -1;
                }
                w->n_topics = 1;
                return expand_template("--region-template",
                                       o->region_template, "city", o->region,
                                       w->topics[0]);
        }
        for (int p = 1; p <= MAX_PRIORITY; p++) {
                if (!o->requested[p])
                        continue;
                digit[0] = (char)('0' + p);
                if (expand_template("--priority-template",
                                    o->priority_template, "priority", digit,
                                    w->topics[w->n_topics]) != 0)
                        return -1;
                w->n_topics++;
        }
        return 0;
}

/* Errors librdkafka reports for a partition whose topic was deleted. */
static int is_deletion_error(int err)
{
        return err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
               err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
               err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION;
}

/* Logs errors that librdkafka reports outside a message, such as lost
 * connections, which it retries by itself. */
static void on_kafka_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
        watch_t *w = opaque;

        if (w->closing) {
                hearth_debug(COMPONENT, "Kafka while closing: %s", reason);
        } else if (hearth_kafka_record_error(rk, err, reason)) {
                w->fatal = 1;
        } else if (hearth_kafka_failure()) {
                /* The program is stopping because of that failure. */
                hearth_debug(COMPONENT, "Kafka: %s", reason);
        } else if (is_deletion_error(err)) {
                /* Drop the deleted partitions now, not after the interval. */
                w->saw_deleted_topic = 1;
                w->next_refresh_ms = 0;
                hearth_warn(COMPONENT, "Kafka: %s", reason);
        } else if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
                hearth_error(COMPONENT, "cannot reach any broker at %s: %s; "
                             "retrying", w->opt.brokers ? w->opt.brokers
                             : HEARTH_KAFKA_DEFAULT_BROKERS, reason);
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
 * Configures a consumer for manual assignment. librdkafka's assign()
 * needs a group.id, but nothing joins or commits to that group. A position
 * that retention has deleted restarts at the earliest kept offset.
 */
static rd_kafka_conf_t *consumer_conf(watch_t *w, char *errstr,
                                      size_t errstr_size)
{
        rd_kafka_conf_t *conf;

        conf = hearth_kafka_conf_new(w->opt.brokers, w->opt.kafka_config,
                                     w->opt.overrides, w->opt.n_overrides,
                                     errstr, errstr_size);
        if (!conf)
                return NULL;
        if (set_default(conf, "group.id", PROGRAM, errstr, errstr_size) ||
            set_default(conf, "client.id", PROGRAM, errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                                  errstr_size) ||
            hearth_kafka_conf_set(conf, "enable.auto.offset.store", "false",
                                  errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "enable.partition.eof", "true",
                                  errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "auto.offset.reset", "earliest",
                                  errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "allow.auto.create.topics", "false",
                                  errstr, errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_error_cb(conf, on_kafka_error);
        rd_kafka_conf_set_log_cb(conf, on_kafka_log);
        rd_kafka_conf_set_opaque(conf, w);
        return conf;
}

/* Returns 0, EXIT_USAGE for a bad setting or EXIT_KAFKA. */
static int create_consumer(watch_t *w)
{
        char errstr[512];
        rd_kafka_conf_t *conf = consumer_conf(w, errstr, sizeof(errstr));

        if (!conf) {
                fprintf(stderr, PROGRAM ": %s\n", errstr);
                return EXIT_USAGE;
        }
        w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        if (!w->rk) {
                rd_kafka_conf_destroy(conf);
                fprintf(stderr, PROGRAM ": cannot create the Kafka consumer: "
                        "%s\n", errstr);
                return EXIT_KAFKA;
        }
        rd_kafka_poll_set_consumer(w->rk);
        w->assigned = rd_kafka_topic_partition_list_new(16);
        return 0;
}

/* Milliseconds left before --timeout, or -1 without a limit. */
static long remaining_ms(const watch_t *w)
{
        int64_t left;

        if (w->deadline_ms == 0)
                return -1;
        left = w->deadline_ms - monotonic_ms();
        return left > 0 ? (long)left : 0;
}

static int metadata_timeout(const watch_t *w)
{
        long left = remaining_ms(w);

        return left < 0 || left > METADATA_TIMEOUT_MS ? METADATA_TIMEOUT_MS
                                                      : (int)left;
}

static const rd_kafka_metadata_topic_t *
find_topic(const struct rd_kafka_metadata *md, const char *name)
{
        for (int i = 0; i < md->topic_cnt; i++)
                if (strcmp(md->topics[i].topic, name) == 0)
                        return &md->topics[i];
        return NULL;
}

/*
 * Adds to list the partitions of topic that w->assigned lacks, starting at
 * offset. Returns how many it added, 0 when the topic does not exist.
 */
static int add_new_partitions(watch_t *w, const struct rd_kafka_metadata *md,
                              const char *topic, int64_t offset,
                              rd_kafka_topic_partition_list_t *list)
{
        const rd_kafka_metadata_topic_t *t = find_topic(md, topic);
        int added = 0;

        if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                return 0;
        for (int i = 0; i < t->partition_cnt; i++) {
                int32_t id = t->partitions[i].id;

                if (rd_kafka_topic_partition_list_find(w->assigned, topic,
                                                       id))
                        continue;
                rd_kafka_topic_partition_list_add(list, topic, id)->offset =
                        offset;
                added++;
        }
        return added;
}

static void append_assigned(watch_t *w,
                            const rd_kafka_topic_partition_list_t *list)
{
        for (int i = 0; i < list->cnt; i++)
                rd_kafka_topic_partition_list_add(w->assigned,
                                                  list->elems[i].topic,
                                                  list->elems[i].partition);
}

static void report_missing_topic(const watch_t *w, const char *topic)
{
        if (w->opt.until_end)
                hearth_info(COMPONENT, "topic %s does not exist, so no such "
                            "alert was published yet; skipped", topic);
        else
                hearth_info(COMPONENT, "topic %s does not exist yet; it is "
                            "watched once the first such alert creates it",
                            topic);
}

/* Assigns every partition of the existing topics. Returns 0 or an exit
 * status. */
static int assign_initial(watch_t *w)
{
        const struct rd_kafka_metadata *md;
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_resp_err_t err;
        int64_t offset = w->opt.from_beginning ? RD_KAFKA_OFFSET_BEGINNING
                                               : RD_KAFKA_OFFSET_END;
        int timeout = metadata_timeout(w);

        err = rd_kafka_metadata(w->rk, 1, NULL, &md, timeout);
        /* A failed login also makes the request time out. Its error, which
         * explains it and is logged once recorded, may still be queued. */
        if (err && hearth_kafka_check_failure(w->rk))
                return EXIT_KAFKA;
        if (err) {
                hearth_error(COMPONENT, "cannot reach the broker at %s within "
                             "%d ms (%s): check --brokers, that Kafka is "
                             "running and --timeout",
                             w->opt.brokers ? w->opt.brokers
                                            : HEARTH_KAFKA_DEFAULT_BROKERS,
                             timeout, rd_kafka_err2str(err));
                return EXIT_KAFKA;
        }
        list = rd_kafka_topic_partition_list_new(16);
        for (size_t i = 0; i < w->n_topics; i++) {
                int n = add_new_partitions(w, md, w->topics[i], offset, list);

                if (n == 0)
                        report_missing_topic(w, w->topics[i]);
                else
                        hearth_debug(COMPONENT, "reading %s: %d partitions",
                                     w->topics[i], n);
        }
        rd_kafka_metadata_destroy(md);
        err = rd_kafka_assign(w->rk, list);
        if (!err)
                append_assigned(w, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err) {
                hearth_error(COMPONENT, "cannot assign partitions: %s",
                             rd_kafka_err2str(err));
                return EXIT_KAFKA;
        }
        return 0;
}

static int partition_exists(const struct rd_kafka_metadata *md,
                            const char *topic, int32_t id)
{
        const rd_kafka_metadata_topic_t *t = find_topic(md, topic);

        if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
                return 0;
        for (int i = 0; i < t->partition_cnt; i++)
                if (t->partitions[i].id == id)
                        return 1;
        return 0;
}

/* Removes one partition from w->assigned and from the count at the end. */
static void forget_partition(watch_t *w, const char *topic, int32_t id)
{
        rd_kafka_topic_partition_t *p =
                rd_kafka_topic_partition_list_find(w->assigned, topic, id);

        if (p && p->opaque)
                w->n_at_end--;
        rd_kafka_topic_partition_list_del(w->assigned, topic, id);
}

/*
 * Stops reading the partitions of deleted topics. Without this librdkafka
 * retries them every second, and they could never reach their end.
 */
static void drop_deleted_partitions(watch_t *w,
                                    const struct rd_kafka_metadata *md)
{
        rd_kafka_topic_partition_list_t *deleted;
        rd_kafka_error_t *error;

        deleted = rd_kafka_topic_partition_list_new(4);
        for (int i = 0; i < w->assigned->cnt; i++) {
                const rd_kafka_topic_partition_t *p = &w->assigned->elems[i];

                if (!partition_exists(md, p->topic, p->partition))
                        rd_kafka_topic_partition_list_add(deleted, p->topic,
                                                          p->partition);
        }
        error = deleted->cnt > 0
                        ? rd_kafka_incremental_unassign(w->rk, deleted)
                        : NULL;
        if (error) {
                hearth_warn(COMPONENT, "cannot stop reading deleted "
                            "partitions: %s; retrying",
                            rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
                deleted->cnt = 0;
        }
        if (deleted->cnt > 0)
                w->saw_deleted_topic = 1;
        for (int i = 0; i < deleted->cnt; i++) {
                hearth_warn(COMPONENT, "%s [%d] was deleted; stopped reading "
                            "it", deleted->elems[i].topic,
                            deleted->elems[i].partition);
                forget_partition(w, deleted->elems[i].topic,
                                 deleted->elems[i].partition);
        }
        rd_kafka_topic_partition_list_destroy(deleted);
}

/*
 * Starts reading topics and partitions created since the last metadata
 * request, from
 * their beginning, since every message in them is new. --until-end reads
 * only what existed at the start.
 */
static void assign_new_partitions(watch_t *w,
                                  const struct rd_kafka_metadata *md)
{
        rd_kafka_topic_partition_list_t *list;
        rd_kafka_error_t *error;

        list = rd_kafka_topic_partition_list_new(4);
        for (size_t i = 0; i < w->n_topics; i++)
                if (add_new_partitions(w, md, w->topics[i],
                                       RD_KAFKA_OFFSET_BEGINNING, list) > 0)
                        hearth_info(COMPONENT, "now reading new partitions "
                                    "of %s", w->topics[i]);
        error = list->cnt > 0 ? rd_kafka_incremental_assign(w->rk, list)
                              : NULL;
        if (error) {
                hearth_warn(COMPONENT, "cannot assign new partitions: %s; "
                            "retrying", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        } else {
                append_assigned(w, list);
        }
        rd_kafka_topic_partition_list_destroy(list);
}

/* Compares the assignment with the cluster's topics. A failed metadata
 * request is retried after the interval. */
static void refresh_assignment(watch_t *w)
{
        const struct rd_kafka_metadata *md;

        w->next_refresh_ms = monotonic_ms() + REFRESH_INTERVAL_MS;
        if (rd_kafka_metadata(w->rk, 1, NULL, &md, metadata_timeout(w)))
                return;
        drop_deleted_partitions(w, md);
        if (!w->opt.until_end)
                assign_new_partitions(w, md);
        rd_kafka_metadata_destroy(md);
}

static void mark_at_end(watch_t *w, const char *topic, int32_t partition)
{
        rd_kafka_topic_partition_t *p =
                rd_kafka_topic_partition_list_find(w->assigned, topic,
                                                   partition);

        if (p && !p->opaque) {
                p->opaque = (void *)1;
                w->n_at_end++;
                hearth_debug(COMPONENT, "end of %s [%d]: %d of %d partitions "
                             "read", topic, partition, w->n_at_end,
                             w->assigned->cnt);
        }
}

/* The model row of the tally, added when new. */
static model_tally_t *model_row(tally_t *t, const char *model)
{
        for (size_t i = 0; i < t->n_models; i++)
                if (strcmp(t->models[i].model, model) == 0)
                        return &t->models[i];
        t->models = xrealloc(t->models, (t->n_models + 1) * sizeof(*t->models));
        t->models[t->n_models] = (model_tally_t){.model = xstrdup(model)};
        return &t->models[t->n_models++];
}

static int compare_subjects(const void *a, const void *b)
{
        const subject_tally_t *x = a, *y = b;

        if (x->kind != y->kind)
                return x->kind < y->kind ? -1 : 1;
        return strcmp(x->key, y->key);
}

/* The subject row of the tally, added when new. */
static subject_tally_t *subject_row(tally_t *t, int kind, const char *key)
{
        subject_tally_t probe = {.kind = kind, .key = (char *)key}, *s;
        void *found = tfind(&probe, &t->subject_tree, compare_subjects);

        if (found)
                return *(subject_tally_t **)found;
        s = xrealloc(NULL, sizeof(*s));
        *s = (subject_tally_t){.kind = kind, .key = xstrdup(key)};
        if (!tsearch(s, &t->subject_tree, compare_subjects)) {
                fprintf(stderr, PROGRAM ": out of memory\n");
                exit(EXIT_KAFKA);
        }
        t->subjects = xrealloc(t->subjects,
                               (t->n_subjects + 1) * sizeof(*t->subjects));
        t->subjects[t->n_subjects++] = s;
        return s;
}

static void count_alert(tally_t *t, const Hearth__V1__Alert *a)
{
        int p = a->priority >= 1 && a->priority <= MAX_PRIORITY
                        ? (int)a->priority : 0;
        subject_tally_t *s;

        t->alerts++;
        model_row(t, a->model ? a->model : "")->by_priority[p]++;
        s = subject_row(t, (int)a->subject_kind,
                        a->subject_key ? a->subject_key : "");
        s->alerts++;
        if (a->count > s->max_count)
                s->max_count = a->count;
}

static void print_alert(const watch_t *w, const Hearth__V1__Alert *a)
{
        char line[LINE_SIZE], *text = line;
        json_t *doc;
        int n;

        if (w->opt.json) {
                doc = hearth_alert_to_json(a);
                if (!doc) {
                        fprintf(stderr, PROGRAM ": out of memory\n");
                        exit(EXIT_KAFKA);
                }
                json_dumpf(doc, stdout, JSON_COMPACT);
                putchar('\n');
                json_decref(doc);
                return;
        }
        n = hearth_alert_format_line(a, w->opt.color, line, sizeof(line));
        if (n >= (int)sizeof(line)) {
                text = xrealloc(NULL, (size_t)n + 1);
                hearth_alert_format_line(a, w->opt.color, text, (size_t)n + 1);
        }
        puts(text);
        if (text != line)
                free(text);
}

static void handle_alert(watch_t *w, const rd_kafka_message_t *m)
{
        Hearth__V1__Alert *a =
                hearth__v1__alert__unpack(NULL, m->len, m->payload);

        if (!a) {
                w->tally.undecodable++;
                hearth_warn(COMPONENT, "message at %s [%d] offset %lld is not "
                            "an Alert (%zu bytes); skipped",
                            rd_kafka_topic_name(m->rkt), m->partition,
                            (long long)m->offset, m->len);
                return;
        }
        if (w->opt.region && (a->priority < 1 || a->priority > MAX_PRIORITY ||
                              !w->opt.requested[a->priority])) {
                w->tally.skipped_priority++;
        } else {
                print_alert(w, a);
                count_alert(&w->tally, a);
        }
        hearth__v1__alert__free_unpacked(a, NULL);
}

/* A partition whose topic was deleted can never reach its end, so it
 * counts as read to the end. */
static void handle_consume_error(watch_t *w, const rd_kafka_message_t *m)
{
        const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

        if (m->err == RD_KAFKA_RESP_ERR__FATAL)
                w->fatal = 1;
        if (is_deletion_error(m->err)) {
                w->saw_deleted_topic = 1;
                w->next_refresh_ms = 0;
        }
        if (!topic) {
                hearth_warn(COMPONENT, "Kafka: %s", rd_kafka_message_errstr(m));
                return;
        }
        hearth_warn(COMPONENT, "cannot read %s [%d]: %s", topic, m->partition,
                    rd_kafka_message_errstr(m));
        if (is_deletion_error(m->err))
                mark_at_end(w, topic, m->partition);
}

static void handle_message(watch_t *w, const rd_kafka_message_t *m)
{
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
                mark_at_end(w, rd_kafka_topic_name(m->rkt), m->partition);
        else if (m->err)
                handle_consume_error(w, m);
        else
                handle_alert(w, m);
}

static int all_at_end(const watch_t *w)
{
        return w->n_at_end >= w->assigned->cnt;
}

static void report_timeout(const watch_t *w)
{
        if (w->opt.until_end)
                hearth_error(COMPONENT, "timed out after %ld ms (--timeout) "
                             "with %d of %d partitions read to the end",
                             w->opt.timeout_ms, w->n_at_end,
                             w->assigned->cnt);
        else
                hearth_error(COMPONENT, "timed out after %ld ms (--timeout)",
                             w->opt.timeout_ms);
}

/* Polls until the end, a signal, --timeout or a fatal error. Returns 0 or
 * an exit status. */
static int run(watch_t *w)
{
        rd_kafka_message_t *m;
        long left;

        while (!stop_requested && !w->fatal &&
               !(w->opt.until_end && all_at_end(w))) {
                left = remaining_ms(w);
                if (left == 0) {
                        report_timeout(w);
                        return EXIT_KAFKA;
                }
                m = rd_kafka_consumer_poll(w->rk, left < 0 || left > POLL_MS
                                                          ? POLL_MS
                                                          : (int)left);
                if (m) {
                        handle_message(w, m);
                        rd_kafka_message_destroy(m);
                }
                if (monotonic_ms() >= w->next_refresh_ms)
                        refresh_assignment(w);
        }
        if (stop_requested)
                hearth_info(COMPONENT, "stopped by signal");
        return w->fatal ? EXIT_KAFKA : 0;
}

static const char *subject_kind_name(int kind)
{
        const char *name =
                hearth_enum_name(&hearth__v1__subject_kind__descriptor, kind);

        return name ? name : "UNKNOWN_KIND";
}

/* Most alerts first, then the largest count, then by subject. */
static int compare_rank(const void *a, const void *b)
{
        const subject_tally_t *x = *(subject_tally_t *const *)a;
        const subject_tally_t *y = *(subject_tally_t *const *)b;

        if (x->alerts != y->alerts)
                return x->alerts > y->alerts ? -1 : 1;
        if (x->max_count != y->max_count)
                return x->max_count > y->max_count ? -1 : 1;
        return compare_subjects(x, y);
}

static void print_summary_text(const tally_t *t, size_t top)
{
        printf("\nAlerts by model and priority:\n");
        printf("  %-24s %7s %7s %7s %7s %7s %7s\n", "MODEL", "P1", "P2", "P3",
               "P4", "OTHER", "TOTAL");
        for (size_t i = 0; i < t->n_models; i++) {
                const uint64_t *n = t->models[i].by_priority;

                printf("  %-24s %7llu %7llu %7llu %7llu %7llu %7llu\n",
                       t->models[i].model[0] ? t->models[i].model : "-",
                       (unsigned long long)n[1], (unsigned long long)n[2],
                       (unsigned long long)n[3], (unsigned long long)n[4],
                       (unsigned long long)n[0],
                       (unsigned long long)(n[0] + n[1] + n[2] + n[3] + n[4]));
        }
        printf("\nTop %d subjects by number of alerts:\n", TOP_SUBJECTS);
        printf("  %7s %9s  %s\n", "ALERTS", "MAX COUNT", "SUBJECT");
        for (size_t i = 0; i < top; i++)
                printf("  %7llu %9u  %s %s\n",
                       (unsigned long long)t->subjects[i]->alerts,
                       (unsigned)t->subjects[i]->max_count,
                       subject_kind_name(t->subjects[i]->kind),
                       t->subjects[i]->key);
        printf("\nTotal: %llu alerts\n", (unsigned long long)t->alerts);
        if (t->skipped_priority)
                printf("Skipped alerts of other priorities: %llu\n",
                       (unsigned long long)t->skipped_priority);
        if (t->undecodable)
                printf("Skipped messages that are not alerts: %llu\n",
                       (unsigned long long)t->undecodable);
}

static json_t *model_json(const model_tally_t *m)
{
        const uint64_t *n = m->by_priority;

        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}",
                         "P1", (json_int_t)n[1], "P2", (json_int_t)n[2],
                         "P3", (json_int_t)n[3], "P4", (json_int_t)n[4],
                         "other", (json_int_t)n[0],
                         "total",
                         (json_int_t)(n[0] + n[1] + n[2] + n[3] + n[4]));
}

static json_t *subject_json(const subject_tally_t *s)
{
        return json_pack("{s:s, s:s, s:I, s:I}", "subject_kind",
                         subject_kind_name(s->kind), "subject_key", s->key,
                         "alerts", (json_int_t)s->alerts, "max_count",
                         (json_int_t)s->max_count);
}

static void print_summary_json(const tally_t *t, size_t top)
{
        json_t *models = json_object(), *subjects = json_array(), *doc;

        for (size_t i = 0; i < t->n_models; i++)
                json_object_set_new(models, t->models[i].model,
                                    model_json(&t->models[i]));
        for (size_t i = 0; i < top; i++)
                json_array_append_new(subjects, subject_json(t->subjects[i]));
        doc = json_pack("{s:{s:o, s:o, s:I, s:I, s:I}}", "summary",
                        "by_model", models, "top_subjects", subjects,
                        "total", (json_int_t)t->alerts,
                        "skipped_priority", (json_int_t)t->skipped_priority,
                        "undecodable", (json_int_t)t->undecodable);
        if (!doc) {
                fprintf(stderr, PROGRAM ": cannot build the summary: out of "
                        "memory\n");
                return;
        }
        json_dumpf(doc, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(doc);
}

static void print_summary(watch_t *w)
{
        tally_t *t = &w->tally;
        size_t top = t->n_subjects < TOP_SUBJECTS ? t->n_subjects
                                                  : TOP_SUBJECTS;

        qsort(t->subjects, t->n_subjects, sizeof(*t->subjects), compare_rank);
        if (w->opt.json)
                print_summary_json(t, top);
        else
                print_summary_text(t, top);
}

/* The tree only indexes subjects; free_tally frees them from the array. */
static void free_noop(void *node)
{
        (void)node;
}

static void free_tally(tally_t *t)
{
        tdestroy(t->subject_tree, free_noop);
        for (size_t i = 0; i < t->n_subjects; i++) {
                free(t->subjects[i]->key);
                free(t->subjects[i]);
        }
        free(t->subjects);
        for (size_t i = 0; i < t->n_models; i++)
                free(t->models[i].model);
        free(t->models);
}

/*
 * NOTE: librdkafka 2.0.2 hangs in rd_kafka_destroy() after a topic that
 * the consumer had assigned is deleted, even once it is unassigned (seen
 * with a minimal consumer too). The program exits right after this, so in
 * that case the handle is left for the operating system to reclaim.
 */
static void close_consumer(watch_t *w)
{
        w->closing = 1;
        rd_kafka_consumer_close(w->rk);
        if (w->saw_deleted_topic)
                hearth_debug(COMPONENT, "not destroying the Kafka handle "
                             "after a topic deletion");
        else
                rd_kafka_destroy(w->rk);
}

/* The NO_COLOR convention: set and not empty turns colors off. */
static int no_color_env(void)
{
        const char *value = getenv("NO_COLOR");

        return value && *value;
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
        watch_t w = {0};
        int rc;

        if (parse_options(argc, argv, &w.opt) != 0 || build_topics(&w) != 0)
                return EXIT_USAGE;
        if (w.opt.color < 0)
                w.opt.color = isatty(STDOUT_FILENO) && !no_color_env();
        setvbuf(stdout, NULL, _IOLBF, 0);
        install_signals();
        if (w.opt.timeout_ms > 0)
                w.deadline_ms = monotonic_ms() + w.opt.timeout_ms;
        rc = create_consumer(&w);
        if (rc != 0)
                return rc;
        w.next_refresh_ms = monotonic_ms() + REFRESH_INTERVAL_MS;
        rc = assign_initial(&w);
        if (rc == 0) {
                rc = run(&w);
                if (w.opt.summary)
                        print_summary(&w);
        }
        close_consumer(&w);
        rd_kafka_topic_partition_list_destroy(w.assigned);
        free_tally(&w.tally);
        return rc;
}
