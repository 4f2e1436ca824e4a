/* Command-line options shared by the connector tools (see options.h). */
#include "connectors/options.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"

void hearth_connector_options_init(hearth_connector_options_t *o)
{
        *o = (hearth_connector_options_t){
                .key_id = "k1", .topic = "hearth.incidents",
                .dlq_topic = "hearth.incidents.dlq", .sort_by_time = 1,
                .progress = -1, .flush_timeout_ms = 60000};
}

/* Applies the options that take a value to check. */
static int checked_option(hearth_connector_options_t *o, int c,
                          const char *arg, const char *program)
{
        hearth_log_level_t level;

        switch (c) {
        case 'X':
                if (o->n_overrides == HEARTH_MAX_OVERRIDES) {
                        fprintf(stderr, "%s: at most %d -X options\n",
                                program, HEARTH_MAX_OVERRIDES);
                        return -1;
                }
                o->overrides[o->n_overrides++] = (char *)arg;
                return 1;
        case HEARTH_OPT_ORDER:
                if (strcmp(arg, "event-time") != 0 &&
                    strcmp(arg, "file") != 0) {
                        fprintf(stderr, "%s: invalid --order \"%s\": use "
                                "event-time or file\n", program, arg);
                        return -1;
                }
                o->sort_by_time = strcmp(arg, "event-time") == 0;
                return 1;
        case HEARTH_OPT_FLUSH:
                o->flush_timeout_ms = atoi(arg);
                if (o->flush_timeout_ms <= 0) {
                        fprintf(stderr, "%s: invalid --flush-timeout: use a "
                                "positive number of milliseconds\n", program);
                        return -1;
                }
                return 1;
        case HEARTH_OPT_LOG:
                if (hearth_log_parse_level(arg, &level) != 0) {
                        fprintf(stderr, "%s: invalid --log-level \"%s\": use "
                                "debug, info, warn or error\n", program, arg);
                        return -1;
                }
                hearth_log_set_level(level);
                return 1;
        default:
                return 0;
        }
}

int hearth_connector_option(hearth_connector_options_t *o, int c,
                            const char *arg, const char *program)
{
        switch (c) {
        case 'p': o->profile = arg; return 1;
        case 'k': o->key_file = arg; return 1;
        case HEARTH_OPT_KEY_ID: o->key_id = arg; return 1;
        case 'b': o->brokers = arg; return 1;
        case 't': o->topic = arg; return 1;
        case HEARTH_OPT_DLQ: o->dlq_topic = arg; return 1;
        case HEARTH_OPT_KAFKA_CONFIG: o->kafka_config = arg; return 1;
        case HEARTH_OPT_DLQ_RAW: o->dlq_raw = 1; return 1;
        case HEARTH_OPT_SUMMARY: o->summary_json = arg; return 1;
        case HEARTH_OPT_PROGRESS: o->progress = 1; return 1;
        case HEARTH_OPT_NO_PROGRESS: o->progress = 0; return 1;
        default: return checked_option(o, c, arg, program);
        }
}

void hearth_connector_ingest_conf(const hearth_connector_options_t *o,
                                  const char *file_name,
                                  hearth_ingest_conf_t *conf)
{
        *conf = (hearth_ingest_conf_t){
                .profile_path = o->profile, .key_file = o->key_file,
                .key_id = o->key_id, .file_name = file_name,
                .dlq_include_raw = o->dlq_raw};
}

void hearth_connector_sender_conf(const hearth_connector_options_t *o,
                                  const char *client_id,
                                  hearth_sender_conf_t *conf)
{
        *conf = (hearth_sender_conf_t){
                .brokers = o->brokers, .kafka_config = o->kafka_config,
                .overrides = (char **)o->overrides,
                .n_overrides = o->n_overrides, .client_id = client_id,
                .topic = o->topic, .dlq_topic = o->dlq_topic,
                .flush_timeout_ms = o->flush_timeout_ms};
}

void hearth_connector_write_summary(const char *path, json_t *doc)
{
        if (json_dump_file(doc, path, JSON_INDENT(2)) != 0)
                hearth_error("connect", "cannot write %s", path);
        json_decref(doc);
}

FILE *hearth_connector_open_input(const char *path, char **file_name)
{
        char *copy;
        FILE *fp;

        if (strcmp(path, "-") == 0) {
                *file_name = strdup("-");
                return stdin;
        }
        fp = fopen(path, "rb");
        if (!fp) {
                hearth_error("connect", "cannot open input %s: %s", path,
                             strerror(errno));
                *file_name = NULL;
                return NULL;
        }
        copy = strdup(path);
        *file_name = strdup(basename(copy));
        free(copy);
        return fp;
}
