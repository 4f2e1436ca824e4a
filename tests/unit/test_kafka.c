/*
 * Tests for engine/common/kafka.c: which Kafka errors end a program, and
 * the message recorded for the first one.
 */
#include "engine/common/kafka.h"

#include <check.h>
#include <string.h>

#include "engine/common/log.h"

static void setup(void)
{
        hearth_log_set_level(HEARTH_LOG_OFF);
        hearth_kafka_failure_clear();
}

static void teardown(void)
{
        hearth_kafka_failure_clear();
}

START_TEST(transport_error_not_recorded)
{
        ck_assert_int_eq(hearth_kafka_record_error(
                                 NULL, RD_KAFKA_RESP_ERR__TRANSPORT,
                                 "connection refused"),
                         0);
        ck_assert_int_eq(hearth_kafka_record_error(
                                 NULL, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
                                 "1/1 brokers are down"),
                         0);
        ck_assert_ptr_null(hearth_kafka_failure());
}
END_TEST

START_TEST(authentication_error_recorded)
{
        const char *message;

        ck_assert_int_eq(hearth_kafka_record_error(
                                 NULL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                                 "SASL authentication error: bad"),
                         1);
        message = hearth_kafka_failure();
        ck_assert_ptr_nonnull(message);
        ck_assert_ptr_nonnull(strstr(message, "Kafka authentication failed: "
                                              "SASL authentication error: "
                                              "bad"));
        ck_assert_ptr_nonnull(strstr(message, "sasl.password"));
}
END_TEST

START_TEST(broker_sasl_error_recorded)
{
        ck_assert_int_eq(
                hearth_kafka_record_error(
                        NULL, RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED,
                        "invalid credentials"),
                1);
        ck_assert_ptr_nonnull(strstr(hearth_kafka_failure(),
                                     "Kafka authentication failed"));
}
END_TEST

START_TEST(first_failure_kept)
{
        hearth_kafka_record_error(NULL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                                  "first");
        ck_assert_int_eq(hearth_kafka_record_error(
                                 NULL, RD_KAFKA_RESP_ERR__FATAL, "second"),
                         1);
        ck_assert_ptr_nonnull(strstr(hearth_kafka_failure(), "first"));
        ck_assert_ptr_null(strstr(hearth_kafka_failure(), "second"));
}
END_TEST

START_TEST(fatal_error_recorded)
{
        ck_assert_int_eq(hearth_kafka_record_error(
                                 NULL, RD_KAFKA_RESP_ERR__FATAL,
                                 "producer fenced"),
                         1);
        ck_assert_str_eq(hearth_kafka_failure(),
                         "fatal Kafka error: producer fenced");
}
END_TEST

START_TEST(clear_forgets_failure)
{
        hearth_kafka_record_error(NULL, RD_KAFKA_RESP_ERR__AUTHENTICATION,
                                  "bad");
        hearth_kafka_failure_clear();
        ck_assert_ptr_null(hearth_kafka_failure());
}
END_TEST

Suite *hearth_test_kafka_suite(void)
{
        Suite *s = suite_create("kafka");
        TCase *tc = tcase_create("failure");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, transport_error_not_recorded);
        tcase_add_test(tc, authentication_error_recorded);
        tcase_add_test(tc, broker_sasl_error_recorded);
        tcase_add_test(tc, first_failure_kept);
        tcase_add_test(tc, fatal_error_recorded);
        tcase_add_test(tc, clear_forgets_failure);
        suite_add_tcase(s, tc);
        return s;
}
