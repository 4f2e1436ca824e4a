/*
 * Tests for connectors/sender.c that need no broker: after a Kafka
 * failure the sender drops messages and stops waiting for deliveries.
 */
#include "connectors/sender.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/common/kafka.h"
#include "engine/common/log.h"

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(failure_ends_sending)
{
        /* Port 1 on loopback: nothing listens, and nothing is reached. */
        hearth_sender_conf_t conf = {.brokers = "127.0.0.1:1",
                                     .client_id = "test-sender",
                                     .topic = "t", .dlq_topic = "t.dlq",
                                     .flush_timeout_ms = 60000};
        char errstr[256];
        hearth_sender_t *s;
        double started;

        hearth_log_set_level(HEARTH_LOG_OFF);
        hearth_kafka_failure_clear();
        s = hearth_sender_new(&conf, errstr, sizeof(errstr));
        ck_assert_msg(s != NULL, "%s", errstr);
        ck_assert_int_eq(hearth_sender_send_event(s, strdup("a"), 1, "k"), 0);

        hearth_kafka_record_error(NULL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                                  "invalid credentials");
        ck_assert_int_eq(hearth_sender_send_event(s, strdup("b"), 1, "k"),
                         -1);
        ck_assert_int_eq(hearth_sender_stats(s)->failed, 1);
        started = now_s();
        ck_assert_int_eq(hearth_sender_finish(s), -1);
        /* Far below the 60 s flush timeout. */
        ck_assert_double_lt(now_s() - started, 5.0);

        hearth_sender_free(s);
        hearth_kafka_failure_clear();
}
END_TEST

Suite *hearth_test_sender_suite(void)
{
        Suite *s = suite_create("sender");
        TCase *tc = tcase_create("failure");

        tcase_add_test(tc, failure_ends_sending);
        suite_add_tcase(s, tc);
        return s;
}
