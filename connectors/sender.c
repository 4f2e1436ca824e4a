/*
 * Kafka producer of the connector tools (see sender.h). Each message's
 * opaque separates events (NULL) from dead letters (non-NULL) in the delivery
 * report.
 */
#include "connectors/sender.h"

#include <stdlib.h>
#include <string.h>

#include "engine/common/kafka.h"
#include "engine/common/log.h"

#define COMPONENT "sender"
#define QUEUE_FULL_WAIT_MS 100
#define FLUSH_SLICE_MS 500

struct hearth_sender {
        hearth_sender_conf_t conf;
        hearth_sender_stats_t stats;
        rd_kafka_t *rk;
        rd_kafka_topic_t *topic;
        rd_kafka_topic_t *dlq;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        hearth_sender_t *s = opaque;

        (void)rk;
        if (msg->err) {
                s->stats.failed++;
                hearth_error(COMPONENT, "delivery failed topic=%s "
                             "partition=%d: %s",
                             rd_kafka_topic_name(msg->rkt), msg->partition,
                             rd_kafka_err2str(msg->err));
                return;
        }
        if (msg->_private)
                s->stats.dlq_delivered++;
        else
                s->stats.delivered++;
}

static rd_kafka_conf_t *producer_conf(hearth_sender_t *s, char *errstr,
                                      size_t errstr_size)
{
        const hearth_sender_conf_t *c = &s->conf;
        rd_kafka_conf_t *conf;

        /* Batching suits a bulk load; -X linger.ms=0 sends at once. */
        static const char *const defaults[] = {"linger.ms", "20", NULL};

        conf = hearth_kafka_conf_new_with(c->brokers, defaults,
                                          c->kafka_config, c->overrides,
                                          c->n_overrides, errstr,
                                          errstr_size);
        if (!conf)
                return NULL;
        if (hearth_kafka_conf_set(conf, "enable.idempotence", "true", errstr,
                                  errstr_size) != 0 ||
            hearth_kafka_conf_set(conf, "acks", "all", errstr,
                                  errstr_size) != 0 ||
            hearth_kafka_conf_set(conf, "client.id", c->client_id, errstr,
                                  errstr_size) != 0) {
                rd_kafka_conf_destroy(conf);
                return NULL;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, s);
        return conf;
}

hearth_sender_t *hearth_sender_new(const hearth_sender_conf_t *conf,
                                   char *errstr, size_t errstr_size)
{
        hearth_sender_t *s = calloc(1, sizeof(*s));
        rd_kafka_conf_t *kconf;

        if (!s) {
                snprintf(errstr, errstr_size, "out of memory");
                return NULL;
        }
        s->conf = *conf;
        kconf = producer_conf(s, errstr, errstr_size);
        if (!kconf)
                goto fail;
        s->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kconf, errstr, errstr_size);
        if (!s->rk) {
                rd_kafka_conf_destroy(kconf);
                goto fail;
        }
        s->topic = rd_kafka_topic_new(s->rk, conf->topic, NULL);
        s->dlq = rd_kafka_topic_new(s->rk, conf->dlq_topic, NULL);
        return s;
fail:
        free(s);
        return NULL;
}

/*
 * Hands one message to librdkafka, waiting while its queue is full so a
 * slow broker slows the reader instead of failing it. With F_FREE the
 * payload belongs to librdkafka once accepted.
 */
static int produce(hearth_sender_t *s, rd_kafka_topic_t *topic,
                   void *payload, size_t len, const char *key, int is_dlq)
{
        for (;;) {
                /* After a failed login nothing can be delivered, and the
                 * failure was logged once. */
                if (hearth_kafka_failure()) {
                        free(payload);
                        s->stats.failed++;
                        return -1;
                }
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
                        s->stats.failed++;
                        return -1;
                }
                rd_kafka_poll(s->rk, QUEUE_FULL_WAIT_MS);
        }
}

int hearth_sender_send_event(hearth_sender_t *s, void *payload, size_t len,
                             const char *key)
{
        int rc;

        s->stats.sent++;
        rc = produce(s, s->topic, payload, len, key, 0);
        rd_kafka_poll(s->rk, 0);
        return rc;
}

int hearth_sender_send_dead_letter(hearth_sender_t *s, char *json,
                                   size_t len, const char *reason)
{
        s->stats.dlq_sent++;
        return produce(s, s->dlq, json, len, reason, 1);
}

void hearth_sender_poll(hearth_sender_t *s, int timeout_ms)
{
        rd_kafka_poll(s->rk, timeout_ms);
}

int hearth_sender_finish(hearth_sender_t *s)
{
        const hearth_sender_stats_t *st = &s->stats;
        uint64_t expected, delivered;
        int waited_ms = 0;

        /* Flushes in slices, so that an authentication failure, which
         * librdkafka does not count as a delivery failure, ends the wait. */
        while (rd_kafka_outq_len(s->rk) > 0 && !hearth_kafka_failure() &&
               waited_ms < s->conf.flush_timeout_ms) {
                int slice_ms = s->conf.flush_timeout_ms - waited_ms;

                if (slice_ms > FLUSH_SLICE_MS)
                        slice_ms = FLUSH_SLICE_MS;
                rd_kafka_flush(s->rk, slice_ms);
                waited_ms += slice_ms;
        }
        if (hearth_kafka_failure()) {
                hearth_error(COMPONENT, "%d queued messages were not "
                             "delivered because of the Kafka failure above",
                             rd_kafka_outq_len(s->rk));
                return -1;
        }
        if (rd_kafka_outq_len(s->rk) > 0) {
                hearth_error(COMPONENT, "%d messages not delivered within "
                             "%d ms; is the broker at %s reachable?",
                             rd_kafka_outq_len(s->rk),
                             s->conf.flush_timeout_ms,
                             s->conf.brokers ? s->conf.brokers
                                             : HEARTH_KAFKA_DEFAULT_BROKERS);
                return -1;
        }
        expected = st->sent + st->dlq_sent;
        delivered = st->delivered + st->dlq_delivered;
        if (st->failed > 0 || delivered != expected) {
                hearth_error(COMPONENT, "%llu of %llu messages were not "
                             "delivered",
                             (unsigned long long)(expected - delivered),
                             (unsigned long long)expected);
                return -1;
        }
        return 0;
}

const hearth_sender_stats_t *hearth_sender_stats(const hearth_sender_t *s)
{
        return &s->stats;
}

void hearth_sender_free(hearth_sender_t *s)
{
        if (!s)
                return;
        if (s->topic)
                rd_kafka_topic_destroy(s->topic);
        if (s->dlq)
                rd_kafka_topic_destroy(s->dlq);
        if (s->rk)
                rd_kafka_destroy(s->rk);
        free(s);
}
