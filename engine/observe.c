/*
 * Audit log and Prometheus metrics file.
 */
#include "engine/observe.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/common/log.h"
#include "hearth/v1/alert.pb-c.h"

#define COMPONENT "observe"

struct hearth_observe {
        const hearth_config_t *cfg;
        FILE *audit;
        char priority_topics[4][256];
        uint64_t audited;
        uint64_t batches;
        double batch_seconds_sum;
        double batch_seconds_max;
        double last_write;
};

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

hearth_observe_t *hearth_observe_new(const hearth_config_t *cfg,
                                     char *errstr, size_t errstr_size)
{
        hearth_observe_t *o = calloc(1, sizeof(*o));
        char value[4];

        o->cfg = cfg;
        for (int p = 1; p <= 4; p++) {
                snprintf(value, sizeof(value), "%d", p);
                hearth_topic_from_template(cfg->priority_topic_template,
                                           "{priority}", value,
                                           o->priority_topics[p - 1],
                                           sizeof(o->priority_topics[0]));
        }
        if (*cfg->audit_log) {
                o->audit = fopen(cfg->audit_log, "a");
                if (!o->audit) {
                        snprintf(errstr, errstr_size, "cannot open audit.log "
                                 "%s: %s", cfg->audit_log, strerror(errno));
                        free(o);
                        return NULL;
                }
                setvbuf(o->audit, NULL, _IOLBF, 0);
        }
        return o;
}

static const char *subject_kind_name(int kind)
{
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
                &hearth__v1__subject_kind__descriptor, kind);

        return v ? v->name : "UNKNOWN";
}

static int is_priority_topic(const hearth_observe_t *o, const char *topic)
{
        for (int p = 0; p < 4; p++)
                if (strcmp(o->priority_topics[p], topic) == 0)
                        return 1;
        return 0;
}

void hearth_observe_delivered(hearth_observe_t *o,
                              const rd_kafka_message_t *msg)
{
        const char *topic = rd_kafka_topic_name(msg->rkt);
        Hearth__V1__Alert *a;
        json_t *line;

        if (!o || !o->audit || msg->err || !is_priority_topic(o, topic))
                return;
        a = hearth__v1__alert__unpack(NULL, msg->len, msg->payload);
        if (!a)
                return;
        line = json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:I, "
                         "s:I, s:s, s:i, s:I, s:s}",
                         "audited_at_ms", (json_int_t)time(NULL) * 1000,
                         "alert_id", a->alert_id, "model", a->model,
                         "priority", a->priority, "province_code",
                         a->province_code, "city_code", a->city_code,
                         "district_code", a->district_code, "subject_kind",
                         subject_kind_name(a->subject_kind),
                         "event_time_ms", (json_int_t)a->event_time_ms,
                         "emitted_at_ms", (json_int_t)a->emitted_at_ms,
                         "topic", topic, "partition", (int)msg->partition,
                         "offset", (json_int_t)msg->offset, "rule_version",
                         a->rule_version);
        if (line) {
                char *text = json_dumps(line, JSON_COMPACT);

                if (text && fprintf(o->audit, "%s\n", text) < 0)
                        hearth_error(COMPONENT, "audit log write failed: %s",
                                     strerror(errno));
                free(text);
                json_decref(line);
                o->audited++;
        }
        hearth__v1__alert__free_unpacked(a, NULL);
}

void hearth_observe_batch(hearth_observe_t *o, double seconds)
{
        if (!o)
                return;
        o->batches++;
        o->batch_seconds_sum += seconds;
        if (seconds > o->batch_seconds_max)
                o->batch_seconds_max = seconds;
}

static void counter(FILE *fp, const char *name, const char *help,
                    uint64_t value)
{
        fprintf(fp, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n",
                name, help, name, name, value);
}

/* Lag per assigned partition: high watermark minus the consumer's
 * position, both as librdkafka last saw them (no broker request). */
static void write_lag(FILE *fp, rd_kafka_t *consumer)
{
        rd_kafka_topic_partition_list_t *parts = NULL;

        fprintf(fp, "# HELP hearth_engine_consumer_lag Messages not yet "
                    "consumed, per input partition.\n"
                    "# TYPE hearth_engine_consumer_lag gauge\n");
        if (!consumer || rd_kafka_assignment(consumer, &parts) != 0)
                return;
        rd_kafka_position(consumer, parts);
        for (int i = 0; i < parts->cnt; i++) {
                rd_kafka_topic_partition_t *tp = &parts->elems[i];
                int64_t low = 0, high = 0;

                if (rd_kafka_get_watermark_offsets(consumer, tp->topic,
                                                   tp->partition, &low,
                                                   &high) != 0 ||
                    high < 0 || tp->offset < 0)
                        continue;
                fprintf(fp, "hearth_engine_consumer_lag{topic=\"%s\","
                            "partition=\"%d\"} %" PRId64 "\n",
                        tp->topic, tp->partition, high - tp->offset);
        }
        rd_kafka_topic_partition_list_destroy(parts);
}

static void write_metrics(hearth_observe_t *o, FILE *fp, rd_kafka_t *consumer,
                          const hearth_engine_stats_t *s,
                          const hearth_observe_counters_t *c)
{
        counter(fp, "hearth_engine_messages_total",
                "Input messages consumed.", c->messages_in);
        counter(fp, "hearth_engine_events_total",
                "Input events applied to the models.", s->events);
        counter(fp, "hearth_engine_domestic_events_total",
                "Domestic events applied.", s->domestic);
        counter(fp, "hearth_engine_late_events_total",
                "Events older than the watermark.", s->late);
        counter(fp, "hearth_engine_dead_letters_total",
                "Input messages sent to the dead-letter topic.",
                s->dead_letters);
        fprintf(fp, "# HELP hearth_engine_alerts_total Alerts emitted.\n"
                    "# TYPE hearth_engine_alerts_total counter\n");
        for (int p = 1; p <= 4; p++)
                fprintf(fp, "hearth_engine_alerts_total{priority=\"P%d\"} "
                            "%" PRIu64 "\n", p, s->alerts_by_priority[p]);
        counter(fp, "hearth_engine_deliveries_total",
                "Messages acknowledged by the broker.", c->delivered);
        counter(fp, "hearth_engine_delivery_failures_total",
                "Messages the broker did not acknowledge.",
                c->delivery_failed);
        counter(fp, "hearth_engine_audit_records_total",
                "Alerts written to the audit log.", o->audited);
        counter(fp, "hearth_engine_redis_round_trips_total",
                "Redis round trips.", c->redis_round_trips);
        counter(fp, "hearth_engine_redis_commands_total",
                "Redis commands sent.", c->redis_commands);
        fprintf(fp, "# HELP hearth_engine_batch_duration_seconds Time to "
                    "process one batch.\n"
                    "# TYPE hearth_engine_batch_duration_seconds summary\n"
                    "hearth_engine_batch_duration_seconds_sum %.6f\n"
                    "hearth_engine_batch_duration_seconds_count %" PRIu64 "\n"
                    "# HELP hearth_engine_batch_duration_max_seconds Longest "
                    "batch so far.\n"
                    "# TYPE hearth_engine_batch_duration_max_seconds gauge\n"
                    "hearth_engine_batch_duration_max_seconds %.6f\n",
                o->batch_seconds_sum, o->batches, o->batch_seconds_max);
        write_lag(fp, consumer);
}

void hearth_observe_metrics(hearth_observe_t *o, rd_kafka_t *consumer,
                            const hearth_engine_stats_t *stats,
                            const hearth_observe_counters_t *counters,
                            int force)
{
        char tmp[4200];
        double t = now_s();
        FILE *fp;

        if (!o || !*o->cfg->metrics_file)
                return;
        if (!force &&
            (t - o->last_write) * 1000 < (double)o->cfg->metrics_interval_ms)
                return;
        o->last_write = t;
        snprintf(tmp, sizeof(tmp), "%s.tmp", o->cfg->metrics_file);
        fp = fopen(tmp, "w");
        if (!fp) {
                hearth_error(COMPONENT, "cannot write metrics file %s: %s",
                             tmp, strerror(errno));
                return;
        }
        write_metrics(o, fp, consumer, stats, counters);
        if (fclose(fp) != 0 || rename(tmp, o->cfg->metrics_file) != 0)
                hearth_error(COMPONENT, "cannot write metrics file %s: %s",
                             o->cfg->metrics_file, strerror(errno));
}

void hearth_observe_free(hearth_observe_t *o)
{
        if (!o)
                return;
        if (o->audit)
                fclose(o->audit);
        free(o);
}
