/*
 * hearth-engine: consumes IncidentEvent messages in a consumer group, runs
 * the risk models with state in Redis, and publishes alerts.
 *
 * Loop: collect a batch (up to engine.batch_max_events messages or
 * engine.batch_max_wait_ms) and process it in one Redis transaction. Then
 * commit the offsets to Kafka, for lag monitoring only because the
 * authoritative offsets are in Redis, and publish the batch's outbox with
 * the idempotent producer. The engine does not wait for the
 * acknowledgements there. It collects and prepares the next batch first,
 * waits for them just before that batch's transaction, and deletes the
 * acknowledged outbox inside it (see run_batch). On a partition assignment
 * or after any error, the engine republishes what the outbox still
 * contains and seeks to the offsets stored in Redis.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "engine/common/kafka.h"
#include "engine/common/log.h"
#include "engine/config.h"
#include "engine/crash.h"
#include "engine/engine.h"
#include "engine/observe.h"
#include "engine/topics.h"
#include "engine/state.h"

#define COMPONENT "engine"

/*
 * The outbox of the last committed batch, produced but not yet deleted
 * from Redis: first awaiting its acknowledgements (active), then, once
 * acknowledged, awaiting the transaction or DEL that deletes it.
 */
typedef struct inflight {
        bool active;
        uint64_t failed_before;         /* delivery_failed when produced */
        int32_t parts[HEARTH_MAX_PARTITIONS];
        size_t n_parts;                 /* partitions of its outbox */
} inflight_t;

typedef struct runner {
        hearth_config_t cfg;
        hearth_state_t *state;
        hearth_engine_t *engine;
        rd_kafka_t *consumer;
        rd_kafka_queue_t *consumer_queue;
        rd_kafka_t *producer;
        inflight_t inflight;
        hearth_observe_t *observe;
        hearth_topics_t *topics;
        bool assigned[HEARTH_MAX_PARTITIONS];
        bool at_end[HEARTH_MAX_PARTITIONS];
        /* Monotonic time of a partition's last message, and up to when
         * its watermark has followed the wall clock since. */
        double last_input[HEARTH_MAX_PARTITIONS];
        double advanced[HEARTH_MAX_PARTITIONS];
        char topic[256];                /* the stage's input topic */
        char group[256];                /* the stage's consumer group */
        size_t n_assigned;
        bool ever_assigned;
        bool needs_resync;
        uint64_t delivered, delivery_failed;
        int exit_at_end;
        int64_t idle_exit_ms;
        const char *stats_json;
        /* Configuration sources in command-line order, for reloads:
         * 'c' a file, 's' one OPTION=VALUE. */
        struct config_source {
                char kind;
                const char *value;
        } sources[64];
        size_t n_sources;
        double started;
        uint64_t messages_in;
} runner_t;

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static void on_sighup(int sig)
{
        (void)sig;
        reload_requested = 1;
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
"Usage: hearth-engine [--config FILE] [--set OPTION=VALUE ...] [options]\n"
"\n"
"Consumes IncidentEvent messages, runs the risk models with state in Redis,\n"
"and publishes alerts on the priority and regional topics. The incidents\n"
"stage (default) also copies events per person to topics.persons; run a\n"
"second set of instances with --set engine.stage=persons for the person\n"
"models, timers and labels.\n"
"\n"
"  -c, --config FILE     JSON configuration (see --help-config)\n"
"  -s, --set OPT=VALUE   set one option, after the file; repeatable\n"
"      --exit-at-end     exit once every assigned partition is consumed to\n"
"                        its end (for replays and the demo)\n"
"      --idle-exit MS    with --exit-at-end, also exit after MS without any\n"
"                        partition assigned (default 60000)\n"
"      --stats-json FILE write the final counters as JSON\n"
"      --help-config     print the option reference as Markdown\n"
"  -h, --help            this text\n"
"\n"
"Signals: SIGINT and SIGTERM finish the current batch, publish, commit and\n"
"exit with status 0. SIGHUP reloads the configuration file and --set\n"
"options between two batches: model options, engine.rule_version,\n"
"engine.allowed_lateness_ms, engine.fusion_window_hours and log.level take\n"
"effect; an invalid file is rejected and the current rules stay in force.\n");
}

/* Builds a configuration from the defaults and the recorded sources. */
static int build_config(const runner_t *r, hearth_config_t *cfg,
                        char *errstr, size_t errstr_size)
{
        hearth_config_defaults(cfg);
        for (size_t i = 0; i < r->n_sources; i++) {
                const struct config_source *src = &r->sources[i];
                int rc = src->kind == 'c'
                                 ? hearth_config_load_file(cfg, src->value,
                                                           errstr,
                                                           errstr_size)
                                 : hearth_config_set(cfg, src->value, errstr,
                                                     errstr_size);

                if (rc != 0)
                        return -1;
        }
        return hearth_config_validate(cfg, errstr, errstr_size);
}

static int parse_args(runner_t *r, int argc, char **argv)
{
        enum { OPT_EXIT_AT_END = 256, OPT_IDLE, OPT_STATS, OPT_HELP_CONFIG };
        static const struct option longopts[] = {
                {"config", required_argument, NULL, 'c'},
                {"set", required_argument, NULL, 's'},
                {"exit-at-end", no_argument, NULL, OPT_EXIT_AT_END},
                {"idle-exit", required_argument, NULL, OPT_IDLE},
                {"stats-json", required_argument, NULL, OPT_STATS},
                {"help-config", no_argument, NULL, OPT_HELP_CONFIG},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0}};
        char errstr[512];
        int c;

        r->idle_exit_ms = 60000;
        while ((c = getopt_long(argc, argv, "c:s:h", longopts, NULL)) != -1) {
                switch (c) {
                case 'c':
                case 's':
                        if (r->n_sources == 64) {
                                fprintf(stderr, "hearth-engine: at most 64 "
                                                "--config and --set options\n");
                                return -1;
                        }
                        r->sources[r->n_sources++] =
                                (struct config_source){(char)c, optarg};
                        break;
                case OPT_EXIT_AT_END: r->exit_at_end = 1; break;
                case OPT_IDLE: r->idle_exit_ms = atoll(optarg); break;
                case OPT_STATS: r->stats_json = optarg; break;
                case OPT_HELP_CONFIG:
                        hearth_config_print_reference(stdout);
                        exit(0);
                case 'h': usage(stdout); exit(0);
                default: usage(stderr); return -1;
                }
        }
        if (build_config(r, &r->cfg, errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "hearth-engine: invalid configuration: %s\n",
                        errstr);
                return -1;
        }
        return 0;
}

/*
 * Reloads the configuration between two batches. The new models are made
 * before the old ones go, so an invalid file changes nothing.
 */
static void reload(runner_t *r)
{
        hearth_config_t next, old;
        hearth_log_level_t level;
        char errstr[512], changed[256];
        size_t n;

        reload_requested = 0;
        if (build_config(r, &next, errstr, sizeof(errstr)) != 0) {
                hearth_error(COMPONENT, "reload rejected, the current rules "
                             "stay in force: %s", errstr);
                hearth_config_free(&next);
                return;
        }
        n = hearth_config_keep_static(&next, &r->cfg, changed,
                                      sizeof(changed));
        if (n > 0)
                hearth_warn(COMPONENT, "reload ignores %zu options that need "
                            "a restart: %s", n, changed);
        old = r->cfg;
        r->cfg = next;
        if (hearth_engine_reload(r->engine, &r->cfg, errstr,
                                 sizeof(errstr)) != 0) {
                r->cfg = old;
                hearth_config_free(&next);
                hearth_error(COMPONENT, "reload rejected, the current rules "
                             "stay in force: %s", errstr);
                return;
        }
        hearth_config_free(&old);
        if (hearth_log_parse_level(r->cfg.log_level, &level) == 0)
                hearth_log_set_level(level);
        snprintf(r->topic, sizeof(r->topic), "%s",
                 hearth_config_stage_topic(&r->cfg));
        hearth_config_stage_group(&r->cfg, r->group, sizeof(r->group));
        hearth_info(COMPONENT, "configuration reloaded: rule_version=%s",
                    r->cfg.rule_version);
}

/* ---- producer ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        runner_t *r = opaque;

        (void)rk;
        if (msg->err) {
                r->delivery_failed++;
                hearth_error(COMPONENT, "alert delivery failed topic=%s: %s",
                             rd_kafka_topic_name(msg->rkt),
                             rd_kafka_err2str(msg->err));
        } else {
                r->delivered++;
                hearth_observe_delivered(r->observe, msg);
        }
}

/*
 * Hands every message to the producer, which copies it, after asking the
 * broker once for each new topic. NOTE: if a topic can be neither created
 * here nor by the broker, delivery fails and the outbox is retried every
 * second, which stalls the partition and republishes its alerts (same ids).
 */
static void produce_all(runner_t *r, hearth_out_list_t *out)
{
        for (size_t i = 0; i < out->n; i++) {
                hearth_out_msg_t *m = &out->msgs[i];
                rd_kafka_resp_err_t err;

                hearth_topics_ensure(r->topics, m->topic);
                do {
                        err = rd_kafka_producev(
                                r->producer, RD_KAFKA_V_TOPIC(m->topic),
                                RD_KAFKA_V_PARTITION(m->partition),
                                RD_KAFKA_V_KEY(m->key, strlen(m->key)),
                                RD_KAFKA_V_VALUE(m->payload, m->len),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_END);
                        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                                rd_kafka_poll(r->producer, 50);
                } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (err) {
                        hearth_error(COMPONENT, "produce to %s failed: %s",
                                     m->topic, rd_kafka_err2str(err));
                        r->delivery_failed++;
                }
        }
}

/*
 * Waits until every produced message is acknowledged. Returns 0 when all
 * were delivered since delivery_failed was failed_before, -1 otherwise
 * (the outbox then stays in Redis).
 */
static int await_delivery(runner_t *r, uint64_t failed_before)
{
        while (rd_kafka_outq_len(r->producer) > 0 && !stop_requested &&
               !hearth_kafka_failure())
                rd_kafka_flush(r->producer, 1000);
        rd_kafka_flush(r->producer, 10000);
        if (rd_kafka_outq_len(r->producer) > 0 ||
            r->delivery_failed != failed_before)
                return -1;
        return 0;
}

/* Produces every message and waits until each is acknowledged. */
static int publish(runner_t *r, hearth_out_list_t *out)
{
        uint64_t failed_before = r->delivery_failed;

        produce_all(r, out);
        return await_delivery(r, failed_before);
}

/* Starts publishing a committed batch's outbox without waiting. */
static void start_inflight(runner_t *r, hearth_out_list_t *out)
{
        inflight_t *f = &r->inflight;
        bool seen[HEARTH_MAX_PARTITIONS] = {0};

        f->n_parts = 0;
        for (size_t i = 0; i < out->n; i++) {
                int32_t p = out->msgs[i].source_partition;

                if (!seen[p]) {
                        seen[p] = true;
                        f->parts[f->n_parts++] = p;
                }
        }
        f->failed_before = r->delivery_failed;
        f->active = out->n > 0;
        produce_all(r, out);
}

/*
 * Waits for the in-flight outbox to be acknowledged. Returns 0 when it
 * was (its partitions stay listed for deletion), -1 when a message failed:
 * the outbox then stays in Redis for resynchronization to publish again.
 */
static int await_inflight(runner_t *r)
{
        inflight_t *f = &r->inflight;

        if (!f->active)
                return 0;
        f->active = false;
        if (await_delivery(r, f->failed_before) == 0)
                return 0;
        hearth_error(COMPONENT, "alerts of %zu partitions not acknowledged; "
                     "their outbox stays in Redis", f->n_parts);
        f->n_parts = 0;
        r->needs_resync = true;
        return -1;
}

/*
 * Finishes the in-flight outbox on its own: waits for it and deletes it
 * with DEL, as there is no next transaction to do that (no input, a
 * rebalance, an error or the exit).
 */
static void finish_inflight(runner_t *r)
{
        inflight_t *f = &r->inflight;
        char errstr[512];

        if (await_inflight(r) != 0 || f->n_parts == 0)
                return;
        if (hearth_engine_outbox_clear(r->engine, f->parts, f->n_parts,
                                       errstr, sizeof(errstr)) != 0) {
                hearth_error(COMPONENT, "deleting the published outbox "
                             "failed: %s", errstr);
                r->needs_resync = true;
        }
        f->n_parts = 0;
}

static int create_producer(runner_t *r, char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(
                r->cfg.kafka_brokers,
                *r->cfg.kafka_config_file ? r->cfg.kafka_config_file : NULL,
                NULL, 0, errstr, errstr_size);

        if (!conf ||
            hearth_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                                  errstr_size) ||
            hearth_kafka_conf_set(conf, "linger.ms", "1", errstr,
                                  errstr_size) ||
            hearth_kafka_conf_set(conf, "client.id", "hearth-engine", errstr,
                                  errstr_size)) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, r);
        r->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
                                   errstr_size);
        if (!r->producer) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        r->topics = hearth_topics_new(r->producer, r->cfg.create_topics,
                                      (int)r->cfg.create_partitions,
                                      (int)r->cfg.create_replication);
        return 0;
}

/* ---- recovery ---- */

/* Publishes and clears what a partition's outbox still holds. */
static int drain_outbox(runner_t *r, int32_t partition)
{
        hearth_out_list_t out = {0};
        char errstr[512];
        int rc = hearth_engine_outbox_read(r->engine, partition, &out, errstr,
                                           sizeof(errstr));

        if (rc == 0 && out.n > 0) {
                hearth_info(COMPONENT, "republishing %zu outbox messages of "
                            "partition %d", out.n, partition);
                rc = publish(r, &out);
                if (rc == 0)
                        rc = hearth_engine_outbox_clear(r->engine, &partition,
                                                        1, errstr,
                                                        sizeof(errstr));
        }
        if (rc != 0)
                hearth_error(COMPONENT, "outbox of partition %d not drained: "
                             "%s", partition, errstr);
        hearth_out_list_clear(&out);
        free(out.msgs);
        return rc;
}

/*
 * Sets each partition's offset to the one stored in Redis (or leaves the
 * committed offset when Redis has none) after draining its outbox.
 */
static int recover_partitions(runner_t *r,
                              rd_kafka_topic_partition_list_t *parts)
{
        char errstr[512];

        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int64_t offset;

                if (drain_outbox(r, tp->partition) != 0 ||
                    hearth_engine_stored_offset(r->engine, tp->partition,
                                                &offset, errstr,
                                                sizeof(errstr)) != 0)
                        return -1;
                tp->offset = offset >= 0 ? offset : RD_KAFKA_OFFSET_STORED;
                if (offset >= 0)
                        hearth_info(COMPONENT, "partition %s [%d] resumes at "
                                    "offset %" PRId64 " stored in Redis",
                                    tp->topic, tp->partition, offset);
                else
                        hearth_info(COMPONENT, "partition %s [%d] has no "
                                    "offset in Redis; using the committed "
                                    "offset", tp->topic, tp->partition);
        }
        return 0;
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
        runner_t *r = opaque;

        /* The outbox of partitions that may move must not stay in flight. */
        finish_inflight(r);
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
                while (recover_partitions(r, parts) != 0 && !stop_requested) {
                        char errstr[512];

                        hearth_warn(COMPONENT, "recovery failed; retrying "
                                    "in 1 s");
                        sleep(1);
                        hearth_state_reconnect(r->state, errstr,
                                               sizeof(errstr));
                }
                memset(r->assigned, 0, sizeof(r->assigned));
                memset(r->at_end, 0, sizeof(r->at_end));
                for (int i = 0; i < parts->cnt; i++)
                        if (parts->elems[i].partition < HEARTH_MAX_PARTITIONS)
                                r->assigned[parts->elems[i].partition] = true;
                for (int i = 0; i < parts->cnt; i++) {
                        int32_t p = parts->elems[i].partition;

                        if (p < HEARTH_MAX_PARTITIONS)
                                r->last_input[p] = r->advanced[p] = now_s();
                }
                r->n_assigned = (size_t)parts->cnt;
                r->ever_assigned = true;
                hearth_info(COMPONENT, "rebalance: %d partitions assigned",
                            parts->cnt);
                rd_kafka_assign(rk, parts);
        } else {
                hearth_info(COMPONENT, "rebalance: %d partitions revoked",
                            parts->cnt);
                memset(r->assigned, 0, sizeof(r->assigned));
                r->n_assigned = 0;
                rd_kafka_assign(rk, NULL);
        }
}

static int create_consumer(runner_t *r, char *errstr, size_t errstr_size)
{
        /*
         * A fetch that the broker keeps open can delay new messages by up to
         * fetch.wait.max.ms (500 ms by default). 10 ms keeps alerts
         * prompt, at the cost of more fetch requests on an idle topic;
         * kafka.config_file can set another value.
         */
        static const char *const defaults[] = {"fetch.wait.max.ms", "10",
                                               NULL};
        rd_kafka_conf_t *conf = hearth_kafka_conf_new_with(
                r->cfg.kafka_brokers, defaults,
                *r->cfg.kafka_config_file ? r->cfg.kafka_config_file : NULL,
                NULL, 0, errstr, errstr_size);
        rd_kafka_topic_partition_list_t *topics;
        rd_kafka_resp_err_t err;

        if (!conf ||
            hearth_kafka_conf_set(conf, "group.id", r->group, errstr,
                                  errstr_size) ||
            hearth_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                                  errstr_size) ||
            hearth_kafka_conf_set(conf, "auto.offset.reset", "earliest",
                                  errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "enable.partition.eof", "true",
                                  errstr, errstr_size) ||
            hearth_kafka_conf_set(conf, "client.id", "hearth-engine", errstr,
                                  errstr_size)) {
                if (conf)
                        rd_kafka_conf_destroy(conf);
                return -1;
        }
        if (*r->cfg.group_instance_id &&
            hearth_kafka_conf_set(conf, "group.instance.id",
                                  r->cfg.group_instance_id, errstr,
                                  errstr_size)) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
        rd_kafka_conf_set_opaque(conf, r);
        r->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr,
                                   errstr_size);
        if (!r->consumer) {
                rd_kafka_conf_destroy(conf);
                return -1;
        }
        rd_kafka_poll_set_consumer(r->consumer);
        r->consumer_queue = rd_kafka_queue_get_consumer(r->consumer);
        topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, r->topic,
                                          RD_KAFKA_PARTITION_UA);
        err = rd_kafka_subscribe(r->consumer, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
                snprintf(errstr, errstr_size, "subscribe to %s: %s",
                         r->topic, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* ---- main loop ---- */

/* Seeks every assigned partition back to the offsets stored in Redis. */
static void resync(runner_t *r)
{
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_error_t *error;
        char errstr[512];

        finish_inflight(r);
        while (!stop_requested && hearth_state_reconnect(r->state, errstr,
                                                          sizeof(errstr))) {
                hearth_warn(COMPONENT, "Redis unavailable, retrying in 1 s: "
                            "%s", errstr);
                sleep(1);
        }
        if (rd_kafka_assignment(r->consumer, &parts) != 0)
                return;
        while (!stop_requested && recover_partitions(r, parts) != 0) {
                hearth_warn(COMPONENT, "resynchronization failed; retrying "
                            "in 1 s");
                sleep(1);
                hearth_state_reconnect(r->state, errstr, sizeof(errstr));
        }
        for (int i = 0; i < parts->cnt; i++)
                if (parts->elems[i].offset == RD_KAFKA_OFFSET_STORED)
                        parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        error = rd_kafka_seek_partitions(r->consumer, parts, 10000);
        if (error) {
                hearth_error(COMPONENT, "seek after resynchronization "
                             "failed: %s", rd_kafka_error_string(error));
                rd_kafka_error_destroy(error);
        }
        rd_kafka_topic_partition_list_destroy(parts);
        r->needs_resync = false;
        hearth_info(COMPONENT, "resynchronized from Redis offsets");
}

typedef struct batch_buf {
        rd_kafka_message_t **msgs;
        rd_kafka_message_t **fetched;   /* one call's messages */
        hearth_input_msg_t *in;
        size_t n, cap;
} batch_buf_t;

/* Adds a message to the batch; returns true at a partition's end. */
static bool take_message(runner_t *r, batch_buf_t *b, rd_kafka_message_t *m)
{
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (m->partition < HEARTH_MAX_PARTITIONS)
                        r->at_end[m->partition] = true;
                rd_kafka_message_destroy(m);
                return true;
        }
        if (m->err) {
                if (!hearth_kafka_record_error(r->consumer, m->err,
                                               rd_kafka_message_errstr(m)))
                        hearth_warn(COMPONENT, "consumer error: %s",
                                    rd_kafka_message_errstr(m));
                rd_kafka_message_destroy(m);
                return false;
        }
        if (m->partition < HEARTH_MAX_PARTITIONS) {
                r->at_end[m->partition] = false;
                r->last_input[m->partition] = now_s();
                r->advanced[m->partition] = r->last_input[m->partition];
        }
        b->msgs[b->n] = m;
        b->in[b->n] = (hearth_input_msg_t){m->partition, m->offset,
                                           m->payload, m->len};
        b->n++;
        return false;
}

/*
 * Waits up to 100 ms at a time for a first message until the batch's wait
 * is over. Then takes what the consumer has already fetched, many messages
 * per call, and stops when the batch is full, the fetched messages run
 * out, a partition ends or the wait is over.
 */
static void collect(runner_t *r, batch_buf_t *b)
{
        double deadline = now_s() + (double)r->cfg.batch_max_wait_ms / 1000.0;

        b->n = 0;
        while (b->n == 0 && !stop_requested) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(r->consumer,
                                                               100);

                if (m)
                        take_message(r, b, m);
                else if (now_s() >= deadline)
                        return;
        }
        while (b->n > 0 && b->n < b->cap && !stop_requested) {
                ssize_t got = rd_kafka_consume_batch_queue(
                        r->consumer_queue, 0, b->fetched, b->cap - b->n);
                bool at_end = false;

                for (ssize_t i = 0; i < got; i++)
                        at_end |= take_message(r, b, b->fetched[i]);
                if (got <= 0 || at_end || now_s() >= deadline)
                        break;
        }
}

/*
 * Asks the engine to move the watermark of each assigned partition that
 * has been idle for engine.idle_advance_ms by the wall time since its last
 * advance, at most once a second. Returns how many partitions it listed.
 */
static size_t advance_idle(runner_t *r)
{
        int32_t parts[HEARTH_MAX_PARTITIONS];
        int64_t deltas[HEARTH_MAX_PARTITIONS];
        double now = now_s(), idle = (double)r->cfg.idle_advance_ms / 1000.0;
        size_t n = 0;
        char errstr[128];

        if (r->cfg.idle_advance_ms <= 0)
                return 0;
        for (int32_t p = 0; p < HEARTH_MAX_PARTITIONS; p++) {
                if (!r->assigned[p] || now - r->last_input[p] < idle ||
                    now - r->advanced[p] < 1.0)
                        continue;
                parts[n] = p;
                deltas[n++] = (int64_t)((now - r->advanced[p]) * 1000.0);
                r->advanced[p] = now;
        }
        if (n && hearth_engine_advance(r->engine, parts, deltas, n, errstr,
                                       sizeof(errstr)) != 0) {
                hearth_error(COMPONENT, "watermark advance failed: %s",
                             errstr);
                return 0;
        }
        return n;
}

static void commit_offsets(runner_t *r, batch_buf_t *b)
{
        rd_kafka_topic_partition_list_t *offsets =
                rd_kafka_topic_partition_list_new((int)b->n);

        for (size_t i = 0; i < b->n; i++) {
                rd_kafka_topic_partition_t *tp =
                        rd_kafka_topic_partition_list_find(
                                offsets, r->topic,
                                b->msgs[i]->partition);

                if (!tp)
                        tp = rd_kafka_topic_partition_list_add(
                                offsets, r->topic,
                                b->msgs[i]->partition);
                if (tp->offset < b->msgs[i]->offset + 1)
                        tp->offset = b->msgs[i]->offset + 1;
        }
        rd_kafka_commit(r->consumer, offsets, 1);
        rd_kafka_topic_partition_list_destroy(offsets);
}

/*
 * Processes a batch while the previous batch's alerts may still be on
 * their way to the broker. This keeps the guarantees of a strictly serial
 * loop. The offsets, state and outbox still reach Redis in one
 * transaction. An outbox is deleted only after all its messages are
 * acknowledged, because await_inflight() runs before the transaction that
 * deletes it, and a failed delivery drops this batch before anything is
 * written. The Kafka offset commit is advisory, so it need not wait for
 * the alerts.
 */
static void run_batch(runner_t *r, batch_buf_t *b)
{
        hearth_out_list_t out = {0};
        inflight_t *f = &r->inflight;
        char errstr[512];
        int rc;

        rc = hearth_engine_prepare(r->engine, b->in, b->n, errstr,
                                   sizeof(errstr));
        if (rc == 0 && await_inflight(r) != 0) {
                hearth_engine_abort(r->engine);
                rc = -2;
        }
        if (rc == 0) {
                hearth_crash_at(HEARTH_CRASH_BEFORE_REDIS_COMMIT);
                rc = hearth_engine_commit(r->engine, f->parts, f->n_parts,
                                          &out, errstr, sizeof(errstr));
        }
        if (rc == 1) {
                hearth_warn(COMPONENT, "another instance owns a partition of "
                            "this batch; batch dropped");
                r->needs_resync = true;
        } else if (rc == -1) {
                hearth_error(COMPONENT, "batch of %zu messages failed: %s",
                             b->n, errstr);
                r->needs_resync = true;
        }
        /*
         * After a success the transaction deleted the acknowledged outbox.
         * After a failure it may not have, and a partition may have moved,
         * so the outbox stays and the next drain publishes it again: a
         * duplicate at most.
         */
        f->n_parts = 0;
        if (rc == 0) {
                hearth_crash_at(HEARTH_CRASH_AFTER_REDIS_COMMIT);
                if (b->n)
                        commit_offsets(r, b);
                start_inflight(r, &out);
                if (out.n > 0)
                        hearth_crash_at(HEARTH_CRASH_AFTER_PRODUCE);
        }
        r->messages_in += b->n;
        hearth_out_list_clear(&out);
        free(out.msgs);
}

static bool all_at_end(runner_t *r)
{
        if (!r->ever_assigned || r->n_assigned == 0)
                return false;
        for (int i = 0; i < HEARTH_MAX_PARTITIONS; i++)
                if (r->assigned[i] && !r->at_end[i])
                        return false;
        return true;
}

static void report(runner_t *r)
{
        const hearth_engine_stats_t *s = hearth_engine_stats(r->engine);
        double elapsed = now_s() - r->started;
        uint64_t rt = hearth_state_round_trips(r->state);
        struct rusage ru;
        double cpu;

        getrusage(RUSAGE_SELF, &ru);
        cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
              (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
        hearth_info(COMPONENT, "stopped: %" PRIu64 " messages, %" PRIu64
                    " events (%" PRIu64 " domestic, %" PRIu64 " late, %" PRIu64
                    " already applied), %" PRIu64 " dead letters, %" PRIu64
                    " alerts (P1 %" PRIu64 ", P2 %" PRIu64 ", P3 %" PRIu64
                    ", P4 %" PRIu64 ") in %.2f s",
                    r->messages_in, s->events, s->domestic, s->late,
                    s->skipped, s->dead_letters, s->alerts,
                    s->alerts_by_priority[1], s->alerts_by_priority[2],
                    s->alerts_by_priority[3], s->alerts_by_priority[4],
                    elapsed);
        if (!r->stats_json)
                return;
        json_t *doc = json_pack(
                "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:[I,I,I,I], s:I, s:I, "
                "s:I, s:f, s:f, s:I}",
                "messages", (json_int_t)r->messages_in,
                "events", (json_int_t)s->events,
                "domestic", (json_int_t)s->domestic,
                "late", (json_int_t)s->late,
                "skipped", (json_int_t)s->skipped,
                "dead_letters", (json_int_t)s->dead_letters,
                "alerts", (json_int_t)s->alerts,
                "alerts_by_priority",
                (json_int_t)s->alerts_by_priority[1],
                (json_int_t)s->alerts_by_priority[2],
                (json_int_t)s->alerts_by_priority[3],
                (json_int_t)s->alerts_by_priority[4],
                "batches", (json_int_t)s->batches,
                "redis_round_trips", (json_int_t)rt,
                "redis_commands",
                (json_int_t)hearth_state_commands(r->state),
                "elapsed_s", elapsed, "cpu_s", cpu,
                "max_rss_kb", (json_int_t)ru.ru_maxrss);
        if (json_dump_file(doc, r->stats_json, JSON_INDENT(2)) != 0)
                hearth_error(COMPONENT, "cannot write %s", r->stats_json);
        json_decref(doc);
}

/*
 * Tells the incidents stage the person topic's partition count, so that it
 * picks each copy's partition itself and can address heartbeats. Without
 * the topic, copies go by key and no heartbeat is sent.
 */
static void find_person_partitions(runner_t *r)
{
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_topic_t *rkt;
        rd_kafka_resp_err_t err;
        int32_t n = 0;

        if (hearth_config_persons_stage(&r->cfg) || !*r->cfg.persons_topic)
                return;
        rkt = rd_kafka_topic_new(r->producer, r->cfg.persons_topic, NULL);
        err = rd_kafka_metadata(r->producer, 0, rkt, &md, 10000);
        if (!err && md->topic_cnt == 1 && !md->topics[0].err)
                n = md->topics[0].partition_cnt;
        if (n > 0)
                hearth_info(COMPONENT, "person topic %s has %d partitions",
                            r->cfg.persons_topic, n);
        else if (!hearth_kafka_check_failure(r->producer))
                hearth_warn(COMPONENT, "person topic %s not found (%s); "
                            "create it with hearth-admin create-topics: "
                            "until then copies go by key and no watermark "
                            "heartbeat is sent", r->cfg.persons_topic,
                            err ? rd_kafka_err2str(err)
                                : rd_kafka_err2str(md->topics[0].err));
        hearth_engine_set_person_partitions(r->engine, n);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);
}

static int setup(runner_t *r)
{
        hearth_log_level_t level;
        char errstr[512];

        if (hearth_log_parse_level(r->cfg.log_level, &level) == 0)
                hearth_log_set_level(level);
        snprintf(r->topic, sizeof(r->topic), "%s",
                 hearth_config_stage_topic(&r->cfg));
        hearth_config_stage_group(&r->cfg, r->group, sizeof(r->group));
        r->observe = hearth_observe_new(&r->cfg, errstr, sizeof(errstr));
        if (!r->observe)
                goto fail;
        r->state = hearth_state_connect(&r->cfg, errstr, sizeof(errstr));
        if (!r->state)
                goto fail;
        r->engine = hearth_engine_new(&r->cfg, r->state, errstr,
                                      sizeof(errstr));
        if (!r->engine || create_producer(r, errstr, sizeof(errstr)) != 0 ||
            create_consumer(r, errstr, sizeof(errstr)) != 0)
                goto fail;
        find_person_partitions(r);
        hearth_info(COMPONENT, "started: group=%s topic=%s brokers=%s "
                    "redis=%s:%" PRId64 " rule_version=%s",
                    r->group, r->topic, r->cfg.kafka_brokers,
                    *r->cfg.redis_unix_socket ? r->cfg.redis_unix_socket
                                              : r->cfg.redis_host,
                    r->cfg.redis_port, r->cfg.rule_version);
        return 0;
fail:
        hearth_error(COMPONENT, "%s", errstr);
        return -1;
}

static void teardown(runner_t *r)
{
        if (r->consumer_queue)
                rd_kafka_queue_destroy(r->consumer_queue);
        if (r->consumer) {
                rd_kafka_consumer_close(r->consumer);
                rd_kafka_destroy(r->consumer);
        }
        hearth_topics_free(r->topics);
        if (r->producer) {
                rd_kafka_flush(r->producer, 10000);
                rd_kafka_destroy(r->producer);
        }
        hearth_engine_free(r->engine);
        hearth_state_free(r->state);
        hearth_observe_free(r->observe);
        hearth_config_free(&r->cfg);
}

/* Writes the metrics file when its interval has passed, or now. */
static void write_metrics(runner_t *r, int force)
{
        hearth_observe_counters_t c = {
                .messages_in = r->messages_in,
                .delivered = r->delivered,
                .delivery_failed = r->delivery_failed,
                .redis_round_trips = hearth_state_round_trips(r->state),
                .redis_commands = hearth_state_commands(r->state),
        };

        hearth_observe_metrics(r->observe, r->consumer,
                               hearth_engine_stats(r->engine), &c, force);
}

/* Serves the producer's error callbacks, which run only while it is
 * polled, and returns 1 once a Kafka client has failed for good. */
static int kafka_failed(runner_t *r)
{
        rd_kafka_poll(r->producer, 0);
        return hearth_kafka_failure() != NULL;
}

static void loop(runner_t *r)
{
        batch_buf_t b = {.cap = (size_t)r->cfg.batch_max_events};
        double idle_since = now_s();

        b.msgs = calloc(b.cap, sizeof(*b.msgs));
        b.fetched = calloc(b.cap, sizeof(*b.fetched));
        b.in = calloc(b.cap, sizeof(*b.in));
        while (!stop_requested && !kafka_failed(r)) {
                if (r->needs_resync)
                        resync(r);
                if (reload_requested)
                        reload(r);
                collect(r, &b);
                write_metrics(r, 0);
                if (advance_idle(r) > 0 || b.n > 0) {
                        double started = now_s();

                        hearth_crash_at(HEARTH_CRASH_AFTER_POLL);
                        run_batch(r, &b);
                        hearth_observe_batch(r->observe, now_s() - started);
                        for (size_t i = 0; i < b.n; i++)
                                rd_kafka_message_destroy(b.msgs[i]);
                        idle_since = now_s();
                        continue;
                }
                /* No input: finish the last outbox instead of waiting. */
                finish_inflight(r);
                if (!r->exit_at_end)
                        continue;
                if (all_at_end(r) && !r->needs_resync)
                        break;
                if (!r->ever_assigned &&
                    (now_s() - idle_since) * 1000 > (double)r->idle_exit_ms) {
                        hearth_warn(COMPONENT, "no partition assigned within "
                                    "%" PRId64 " ms; exiting",
                                    r->idle_exit_ms);
                        break;
                }
        }
        finish_inflight(r);
        write_metrics(r, 1);
        free(b.msgs);
        free(b.fetched);
        free(b.in);
}

int main(int argc, char **argv)
{
        runner_t r = {0};
        char errstr[256];
        int rc = 0;

        if (parse_args(&r, argc, argv) != 0)
                return 2;
        if (hearth_crash_setup(errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "hearth-engine: invalid HEARTH_CRASH_POINT: "
                        "%s\n", errstr);
                return 2;
        }
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_sighup);
        signal(SIGPIPE, SIG_IGN);
        r.started = now_s();
        if (setup(&r) != 0) {
                teardown(&r);
                return 1;
        }
        loop(&r);
        if (hearth_kafka_failure())
                rc = 1;
        report(&r);
        teardown(&r);
        return rc;
}
