/*
 * Delivery tests against librdkafka's mock cluster (rdkafka_mock.h): the
 * idempotent producer configured as hearth-engine configures it, and a
 * consumer group member configured as the engine's consumer.
 *
 * Each payload is "<partition>:<sequence>", so the consumed messages show
 * a lost, duplicated or reordered message. The mock cluster runs in
 * threads of this process and listens on loopback ports chosen by the
 * system.
 *
 * NOTE: the mock broker of librdkafka 2.0.2 checks producer sequence
 * numbers only for a transactional producer, so a batch that the broker
 * appended but whose response timed out is appended again here. The
 * engine's producer is idempotent without transactions, and a real broker
 * drops such a copy, so that case is not tested here.
 */
#include "engine/common/kafka.h"

#include <check.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TOPIC        "mock.incidents"
#define PARTITIONS   3
#define MAX_MESSAGES 300

/* Kafka protocol request types (ApiKey) used for error injection. */
#define API_PRODUCE          0
#define API_OFFSET_COMMIT    8
#define API_OFFSET_FETCH     9
#define API_FIND_COORDINATOR 10

typedef struct mock {
        rd_kafka_t *owner; /* handle the cluster belongs to */
        rd_kafka_mock_cluster_t *cluster;
        const char *bootstraps;
} mock_t;

/* Messages consumed from one partition, in offset order. */
typedef struct consumed {
        int sequences[MAX_MESSAGES];
        int n;
} consumed_t;

static void mock_start(mock_t *m, int brokers)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        /* The owner handle only keeps the cluster and sends nothing, so
         * its warning about the missing bootstrap.servers is dropped. */
        rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
        m->owner =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        ck_assert_msg(m->owner != NULL, "rd_kafka_new: %s", errstr);
        m->cluster = rd_kafka_mock_cluster_new(m->owner, brokers);
        ck_assert_ptr_nonnull(m->cluster);
        m->bootstraps = rd_kafka_mock_cluster_bootstraps(m->cluster);
        ck_assert_int_eq(
            rd_kafka_mock_topic_create(m->cluster, TOPIC, PARTITIONS, brokers),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void mock_stop(mock_t *m)
{
        rd_kafka_mock_cluster_destroy(m->cluster);
        rd_kafka_destroy(m->owner);
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
        char errstr[512];

        ck_assert_msg(hearth_kafka_conf_set(conf, name, value, errstr,
                                            sizeof(errstr)) == 0,
                      "%s", errstr);
}

static void count_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                           void *opaque)
{
        int *failed = opaque;

        (void)rk;
        if (msg->err)
                (*failed)++;
}

/*
 * Creates a producer with the settings of create_producer() in
 * engine/hearth-engine.c.
 */
static rd_kafka_t *engine_producer(const mock_t *m, int *failed)
{
        char errstr[512];
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(
            m->bootstraps, NULL, NULL, 0, errstr, sizeof(errstr));
        rd_kafka_t *rk;

        ck_assert_msg(conf != NULL, "%s", errstr);
        set(conf, "enable.idempotence", "true");
        set(conf, "linger.ms", "1");
        set(conf, "client.id", "hearth-engine");
        rd_kafka_conf_set_dr_msg_cb(conf, count_delivery);
        rd_kafka_conf_set_opaque(conf, failed);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
        return rk;
}

/* Produces sequences [first, last) to every partition, round robin. */
static void produce_range(rd_kafka_t *rk, int first, int last)
{
        for (int seq = first; seq < last; seq++) {
                for (int32_t p = 0; p < PARTITIONS; p++) {
                        char payload[32];
                        int len = snprintf(payload, sizeof(payload), "%d:%d",
                                           (int)p, seq);
                        rd_kafka_resp_err_t err = rd_kafka_producev(
                            rk, RD_KAFKA_V_TOPIC(TOPIC),
                            RD_KAFKA_V_PARTITION(p),
                            RD_KAFKA_V_VALUE(payload, (size_t)len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                            RD_KAFKA_V_END);

                        ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR,
                                      "produce: %s", rd_kafka_err2str(err));
                }
                rd_kafka_poll(rk, 0);
        }
}

static void flush_or_fail(rd_kafka_t *rk, int *failed)
{
        ck_assert_int_eq(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
        ck_assert_int_eq(rd_kafka_outq_len(rk), 0);
        ck_assert_int_eq(*failed, 0);
}

/* Parses "<partition>:<sequence>" and checks the partition. */
static int parse_sequence(const rd_kafka_message_t *m)
{
        char text[32];
        int partition = -1, seq = -1;

        ck_assert_uint_lt(m->len, sizeof(text));
        memcpy(text, m->payload, m->len);
        text[m->len] = '\0';
        ck_assert_int_eq(sscanf(text, "%d:%d", &partition, &seq), 2);
        ck_assert_int_eq(partition, m->partition);
        return seq;
}

/*
 * Reads every partition from offset 0 to its end with a consumer outside
 * any group, appending each payload's sequence to got[partition].
 */
static void read_all(const mock_t *m, consumed_t got[PARTITIONS])
{
        char errstr[512];
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(
            m->bootstraps, NULL, NULL, 0, errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_t *rk;
        int ended = 0;
        time_t deadline = time(NULL) + 10;

        ck_assert_msg(conf != NULL, "%s", errstr);
        set(conf, "group.id", "mock-reader");
        set(conf, "enable.partition.eof", "true");
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
        parts = rd_kafka_topic_partition_list_new(PARTITIONS);
        for (int32_t p = 0; p < PARTITIONS; p++)
                rd_kafka_topic_partition_list_add(parts, TOPIC, p)->offset =
                    RD_KAFKA_OFFSET_BEGINNING;
        ck_assert_int_eq(rd_kafka_assign(rk, parts),
                         RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);

        memset(got, 0, sizeof(consumed_t) * PARTITIONS);
        while (ended < PARTITIONS && time(NULL) < deadline) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);

                if (!msg)
                        continue;
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        ended++;
                } else {
                        consumed_t *c = &got[msg->partition];

                        ck_assert_msg(msg->err == RD_KAFKA_RESP_ERR_NO_ERROR,
                                      "consume: %s",
                                      rd_kafka_message_errstr(msg));
                        ck_assert_int_lt(c->n, MAX_MESSAGES);
                        c->sequences[c->n++] = parse_sequence(msg);
                }
                rd_kafka_message_destroy(msg);
        }
        ck_assert_int_eq(ended, PARTITIONS);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
}

/*
 * Checks that each partition contains the sequences 0 to n - 1 exactly
 * once and in order: nothing lost, duplicated or reordered.
 */
static void check_exactly_once_in_order(const mock_t *m, int n)
{
        consumed_t got[PARTITIONS];

        read_all(m, got);
        for (int p = 0; p < PARTITIONS; p++) {
                ck_assert_msg(got[p].n == n,
                              "partition %d: %d messages, expected %d", p,
                              got[p].n, n);
                for (int i = 0; i < n; i++)
                        ck_assert_msg(got[p].sequences[i] == i,
                                      "partition %d offset %d: sequence %d", p,
                                      i, got[p].sequences[i]);
        }
}

START_TEST(producer_retries_request_errors)
{
        mock_t m;
        int failed = 0;
        rd_kafka_t *rk;

        mock_start(&m, 3);
        rk = engine_producer(&m, &failed);
        produce_range(rk, 0, 20);
        /* The next Produce requests fail with retriable errors. */
        rd_kafka_mock_push_request_errors(
            m.cluster, API_PRODUCE, 6,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT);
        produce_range(rk, 20, 60);
        flush_or_fail(rk, &failed);
        rd_kafka_destroy(rk);
        check_exactly_once_in_order(&m, 60);
        mock_stop(&m);
}
END_TEST

START_TEST(producer_follows_leader_change)
{
        mock_t m;
        int failed = 0;
        rd_kafka_t *rk;

        mock_start(&m, 3);
        for (int32_t p = 0; p < PARTITIONS; p++)
                rd_kafka_mock_partition_set_leader(m.cluster, TOPIC, p, 1);
        rk = engine_producer(&m, &failed);
        produce_range(rk, 0, 30);
        flush_or_fail(rk, &failed);

        /* Move every leader while messages are queued and in flight. */
        produce_range(rk, 30, 60);
        for (int32_t p = 0; p < PARTITIONS; p++)
                rd_kafka_mock_partition_set_leader(m.cluster, TOPIC, p,
                                                   2 + p % 2);
        rd_kafka_mock_push_request_errors(
            m.cluster, API_PRODUCE, 3,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
        produce_range(rk, 60, 90);
        flush_or_fail(rk, &failed);
        rd_kafka_destroy(rk);
        check_exactly_once_in_order(&m, 90);
        mock_stop(&m);
}
END_TEST

START_TEST(producer_keeps_order_on_slow_broker)
{
        mock_t m;
        int failed = 0;
        rd_kafka_t *rk;

        mock_start(&m, 1);
        rk = engine_producer(&m, &failed);
        /* Every response is 200 ms late, so up to 5 requests per partition
         * are in flight at once (the limit with idempotence). One of them
         * also fails and is retried. */
        rd_kafka_mock_broker_set_rtt(m.cluster, 1, 200);
        produce_range(rk, 0, 50);
        rd_kafka_mock_push_request_errors(
            m.cluster, API_PRODUCE, 1,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
        produce_range(rk, 50, 100);
        flush_or_fail(rk, &failed);
        rd_kafka_destroy(rk);
        check_exactly_once_in_order(&m, 100);
        mock_stop(&m);
}
END_TEST

/*
 * Creates a consumer with the settings of create_consumer() in
 * engine/hearth-engine.c. With subscribe, it joins the group on TOPIC.
 * Without, it takes every partition of TOPIC at its committed offset, as
 * the engine's rebalance callback does for a partition that has no offset
 * in Redis (RD_KAFKA_OFFSET_STORED).
 */
static rd_kafka_t *engine_consumer(const mock_t *m, const char *group,
                                   bool subscribe)
{
        char errstr[512];
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(
            m->bootstraps, NULL, NULL, 0, errstr, sizeof(errstr));
        rd_kafka_topic_partition_list_t *parts;
        rd_kafka_t *rk;
        rd_kafka_resp_err_t err;

        ck_assert_msg(conf != NULL, "%s", errstr);
        set(conf, "group.id", group);
        set(conf, "enable.auto.commit", "false");
        set(conf, "auto.offset.reset", "earliest");
        set(conf, "enable.partition.eof", "true");
        set(conf, "client.id", "hearth-engine");
        rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
        ck_assert_msg(rk != NULL, "rd_kafka_new: %s", errstr);
        rd_kafka_poll_set_consumer(rk);

        parts = rd_kafka_topic_partition_list_new(PARTITIONS);
        if (subscribe) {
                rd_kafka_topic_partition_list_add(parts, TOPIC,
                                                  RD_KAFKA_PARTITION_UA);
                err = rd_kafka_subscribe(rk, parts);
        } else {
                for (int32_t p = 0; p < PARTITIONS; p++)
                        rd_kafka_topic_partition_list_add(parts, TOPIC, p)
                            ->offset = RD_KAFKA_OFFSET_STORED;
                err = rd_kafka_assign(rk, parts);
        }
        ck_assert_int_eq(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        rd_kafka_topic_partition_list_destroy(parts);
        return rk;
}

/*
 * Consumes up to limit messages of each partition, and to the partition's
 * end when limit is 0, appending each sequence to got[partition]. Returns
 * after 10 s at most.
 */
static void consume_group(rd_kafka_t *rk, consumed_t got[PARTITIONS], int limit)
{
        bool done[PARTITIONS] = {false};
        int n_done = 0;
        time_t deadline = time(NULL) + 10;

        while (n_done < PARTITIONS && time(NULL) < deadline) {
                rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);
                consumed_t *c;

                if (!msg)
                        continue;
                if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                        if (limit == 0 && !done[msg->partition]) {
                                done[msg->partition] = true;
                                n_done++;
                        }
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                if (msg->err) {
                        /* Coordinator errors surface here and are retried
                         * by librdkafka. */
                        rd_kafka_message_destroy(msg);
                        continue;
                }
                c = &got[msg->partition];
                if (!done[msg->partition]) {
                        ck_assert_int_lt(c->n, MAX_MESSAGES);
                        c->sequences[c->n++] = parse_sequence(msg);
                        if (limit > 0 && c->n == limit) {
                                done[msg->partition] = true;
                                n_done++;
                        }
                }
                rd_kafka_message_destroy(msg);
        }
        ck_assert_msg(n_done == PARTITIONS,
                      "%d of %d partitions read within 10 s", n_done,
                      PARTITIONS);
}

/* Commits, for each partition, the offset after its last message read. */
static void commit_read(rd_kafka_t *rk, const consumed_t got[PARTITIONS])
{
        rd_kafka_topic_partition_list_t *offsets =
            rd_kafka_topic_partition_list_new(PARTITIONS);
        rd_kafka_resp_err_t err;

        /* Sequence i is at offset i, so the next offset is n. */
        for (int32_t p = 0; p < PARTITIONS; p++)
                rd_kafka_topic_partition_list_add(offsets, TOPIC, p)->offset =
                    got[p].n;
        err = rd_kafka_commit(rk, offsets, 0);
        ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "commit: %s",
                      rd_kafka_err2str(err));
        rd_kafka_topic_partition_list_destroy(offsets);
}

START_TEST(consumer_resumes_after_coordinator_error)
{
        mock_t m;
        int failed = 0;
        rd_kafka_t *producer, *consumer;
        consumed_t first[PARTITIONS] = {0}, second[PARTITIONS] = {0};

        mock_start(&m, 3);
        producer = engine_producer(&m, &failed);
        produce_range(producer, 0, 30);
        flush_or_fail(producer, &failed);
        rd_kafka_destroy(producer);

        consumer = engine_consumer(&m, "mock-engine", true);
        consume_group(consumer, first, 12);
        /* The first commit attempts meet a coordinator that moved. */
        rd_kafka_mock_push_request_errors(
            m.cluster, API_OFFSET_COMMIT, 2, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
        commit_read(consumer, first);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);

        /*
         * The next consumer meets a coordinator that moved and is still
         * loading while it looks up and fetches the committed offsets.
         * NOTE: librdkafka 2.0.2 does not retry an OffsetFetch that fails
         * with NOT_COORDINATOR, so the partitions stay assigned but are
         * never fetched (seen with this mock cluster). The
         * engine fetches committed offsets only for a partition without
         * an offset in Redis, so only such a partition can stall there.
         */
        rd_kafka_mock_coordinator_set(m.cluster, "group", "mock-engine", 2);
        rd_kafka_mock_push_request_errors(
            m.cluster, API_FIND_COORDINATOR, 1,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
        rd_kafka_mock_push_request_errors(
            m.cluster, API_OFFSET_FETCH, 2,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
        consumer = engine_consumer(&m, "mock-engine", false);
        consume_group(consumer, second, 0);
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);

        for (int p = 0; p < PARTITIONS; p++) {
                ck_assert_int_eq(first[p].n, 12);
                ck_assert_msg(second[p].n == 18,
                              "partition %d: %d messages after the commit, "
                              "expected 18",
                              p, second[p].n);
                for (int i = 0; i < second[p].n; i++)
                        ck_assert_int_eq(second[p].sequences[i], 12 + i);
        }
        mock_stop(&m);
}
END_TEST

Suite *hearth_test_kafka_mock_suite(void)
{
        Suite *s = suite_create("kafka_mock");
        TCase *tc = tcase_create("delivery");

        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, producer_retries_request_errors);
        tcase_add_test(tc, producer_follows_leader_change);
        tcase_add_test(tc, producer_keeps_order_on_slow_broker);
        tcase_add_test(tc, consumer_resumes_after_coordinator_error);
        suite_add_tcase(s, tc);
        return s;
}
