/*
 * Alert topic creation on first use, with librdkafka's Admin API.
 */
#include "engine/topics.h"

#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"

#define COMPONENT "topics"
#define CREATE_TIMEOUT_MS 10000

struct hearth_topics {
        rd_kafka_t *rk;
        int enabled;
        int partitions;
        int replication;
        char **known;           /* topics already asked for */
        size_t n_known, cap_known;
};

hearth_topics_t *hearth_topics_new(rd_kafka_t *rk, int enabled,
                                   int partitions, int replication)
{
        hearth_topics_t *t = calloc(1, sizeof(*t));

        t->rk = rk;
        t->enabled = enabled;
        t->partitions = partitions;
        t->replication = replication;
        return t;
}

static int is_known(const hearth_topics_t *t, const char *topic)
{
        for (size_t i = 0; i < t->n_known; i++)
                if (strcmp(t->known[i], topic) == 0)
                        return 1;
        return 0;
}

static void remember(hearth_topics_t *t, const char *topic)
{
        if (t->n_known == t->cap_known) {
                t->cap_known = t->cap_known ? t->cap_known * 2 : 16;
                t->known = realloc(t->known,
                                   t->cap_known * sizeof(*t->known));
        }
        t->known[t->n_known++] = strdup(topic);
}

/* Reads the result of one CreateTopics request; returns its error. */
static rd_kafka_resp_err_t read_result(rd_kafka_event_t *ev,
                                       const char **errstr)
{
        const rd_kafka_CreateTopics_result_t *res;
        const rd_kafka_topic_result_t **results;
        size_t n = 0;

        *errstr = rd_kafka_event_error_string(ev);
        if (rd_kafka_event_error(ev))
                return rd_kafka_event_error(ev);
        res = rd_kafka_event_CreateTopics_result(ev);
        results = res ? rd_kafka_CreateTopics_result_topics(res, &n) : NULL;
        if (n == 0)
                return RD_KAFKA_RESP_ERR__FAIL;
        *errstr = rd_kafka_topic_result_error_string(results[0]);
        return rd_kafka_topic_result_error(results[0]);
}

void hearth_topics_ensure(hearth_topics_t *t, const char *topic)
{
        rd_kafka_NewTopic_t *nt;
        rd_kafka_AdminOptions_t *opts;
        rd_kafka_queue_t *queue;
        rd_kafka_event_t *ev;
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        const char *errstr = "no reply";
        char buf[256];

        if (!t || !t->enabled || is_known(t, topic))
                return;
        remember(t, topic);
        nt = rd_kafka_NewTopic_new(topic, t->partitions, t->replication, buf,
                                   sizeof(buf));
        if (!nt) {
                hearth_warn(COMPONENT, "cannot request topic %s: %s", topic,
                            buf);
                return;
        }
        opts = rd_kafka_AdminOptions_new(t->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_AdminOptions_set_operation_timeout(opts, CREATE_TIMEOUT_MS,
                                                    buf, sizeof(buf));
        queue = rd_kafka_queue_new(t->rk);
        rd_kafka_CreateTopics(t->rk, &nt, 1, opts, queue);
        ev = rd_kafka_queue_poll(queue, CREATE_TIMEOUT_MS + 2000);
        if (ev)
                err = read_result(ev, &errstr);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
                hearth_info(COMPONENT, "created topic %s with %d partitions",
                            topic, t->partitions);
        else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
                hearth_warn(COMPONENT, "could not create topic %s: %s; "
                            "create it by hand if deliveries to it fail",
                            topic, errstr ? errstr : rd_kafka_err2str(err));
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_queue_destroy(queue);
        rd_kafka_AdminOptions_destroy(opts);
        rd_kafka_NewTopic_destroy(nt);
}

void hearth_topics_free(hearth_topics_t *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < t->n_known; i++)
                free(t->known[i]);
        free(t->known);
        free(t);
}
