/*
 * Command-line options that hearth-connect and hearth-replay share: the
 * profile and key, the Kafka connection, the topics, the send order,
 * dead-letter contents, the summary, progress, flush timeout and log
 * level. Each program lists HEARTH_CONNECTOR_LONGOPTS in its own
 * getopt_long() table, numbers its own options from HEARTH_OPT_END, and
 * hands every option to hearth_connector_option() first.
 */
#ifndef HEARTH_OPTIONS_H
#define HEARTH_OPTIONS_H

#include <getopt.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "connectors/ingest.h"
#include "connectors/sender.h"

#define HEARTH_MAX_OVERRIDES 64

/* Short options of the shared set, for getopt_long()'s optstring. */
#define HEARTH_CONNECTOR_SHORTOPTS "p:k:b:t:X:"

enum {
        HEARTH_OPT_KEY_ID = 256,
        HEARTH_OPT_DLQ,
        HEARTH_OPT_KAFKA_CONFIG,
        HEARTH_OPT_ORDER,
        HEARTH_OPT_DLQ_RAW,
        HEARTH_OPT_SUMMARY,
        HEARTH_OPT_PROGRESS,
        HEARTH_OPT_NO_PROGRESS,
        HEARTH_OPT_FLUSH,
        HEARTH_OPT_LOG,
        HEARTH_OPT_END          /* first value free for a program */
};

#define HEARTH_CONNECTOR_LONGOPTS                                            \
        {"profile", required_argument, NULL, 'p'},                           \
        {"key-file", required_argument, NULL, 'k'},                          \
        {"key-id", required_argument, NULL, HEARTH_OPT_KEY_ID},              \
        {"brokers", required_argument, NULL, 'b'},                           \
        {"topic", required_argument, NULL, 't'},                             \
        {"dlq-topic", required_argument, NULL, HEARTH_OPT_DLQ},              \
        {"kafka-config", required_argument, NULL, HEARTH_OPT_KAFKA_CONFIG},  \
        {"order", required_argument, NULL, HEARTH_OPT_ORDER},                \
        {"dlq-include-raw", no_argument, NULL, HEARTH_OPT_DLQ_RAW},          \
        {"summary-json", required_argument, NULL, HEARTH_OPT_SUMMARY},       \
        {"progress", no_argument, NULL, HEARTH_OPT_PROGRESS},                \
        {"no-progress", no_argument, NULL, HEARTH_OPT_NO_PROGRESS},          \
        {"flush-timeout", required_argument, NULL, HEARTH_OPT_FLUSH},        \
        {"log-level", required_argument, NULL, HEARTH_OPT_LOG}

typedef struct hearth_connector_options {
        const char *profile;
        const char *key_file;
        const char *key_id;
        const char *brokers;
        const char *topic;
        const char *dlq_topic;
        const char *kafka_config;
        const char *summary_json;
        char *overrides[HEARTH_MAX_OVERRIDES];
        size_t n_overrides;
        int sort_by_time;
        int dlq_raw;
        int progress;           /* -1: when stderr is a terminal */
        int flush_timeout_ms;
} hearth_connector_options_t;

/* Sets the defaults: key id k1, topics hearth.incidents and
 * hearth.incidents.dlq, event-time order, a 60000 ms flush timeout. */
void hearth_connector_options_init(hearth_connector_options_t *o);

/*
 * Applies option c with argument arg. Returns 1 when c is a shared
 * option, 0 when it is not, and -1 after printing "program: invalid ..."
 * when its value is invalid.
 */
int hearth_connector_option(hearth_connector_options_t *o, int c,
                            const char *arg, const char *program);

/* Fills a reader configuration; file_name is the input's base name. */
void hearth_connector_ingest_conf(const hearth_connector_options_t *o,
                                  const char *file_name,
                                  hearth_ingest_conf_t *conf);

/* Fills a producer configuration with client.id client_id. */
void hearth_connector_sender_conf(const hearth_connector_options_t *o,
                                  const char *client_id,
                                  hearth_sender_conf_t *conf);

/*
 * Opens the input at path, or returns stdin for "-", and sets *file_name
 * to its base name ("-" for stdin), a malloc'd copy the caller frees.
 * Returns NULL, after logging why, when the file cannot be opened.
 */
FILE *hearth_connector_open_input(const char *path, char **file_name);

/* Writes doc, indented, to path (--summary-json) and releases doc; logs
 * an error when the file cannot be written. */
void hearth_connector_write_summary(const char *path, json_t *doc);

#endif
