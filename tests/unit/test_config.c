/*
 * Tests for engine/config.c: defaults, JSON loading with nested and dotted
 * keys, type and range errors, cross-option validation and --set.
 */
#include "engine/config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hearth_config_t cfg;
static char err[512];

static void setup(void)
{
        hearth_config_defaults(&cfg);
        err[0] = '\0';
}

static void teardown(void)
{
        hearth_config_free(&cfg);
}

static int load(const char *json)
{
        return hearth_config_load_json(&cfg, json, strlen(json), err,
                                       sizeof(err));
}

static int set(const char *assignment)
{
        return hearth_config_set(&cfg, assignment, err, sizeof(err));
}

static int validate(void)
{
        return hearth_config_validate(&cfg, err, sizeof(err));
}

/* Asserts that err contains text. */
#define ck_assert_err_has(text) \
        ck_assert_msg(strstr(err, (text)) != NULL, \
                      "error \"%s\" lacks \"%s\"", err, (text))

START_TEST(defaults_kafka)
{
        ck_assert_str_eq(cfg.kafka_brokers, "127.0.0.1:24092");
        ck_assert_str_eq(cfg.kafka_config_file, "");
        ck_assert_str_eq(cfg.group_id, "hearth-engine");
        ck_assert_str_eq(cfg.input_topic, "hearth.incidents");
        ck_assert_str_eq(cfg.dlq_topic, "hearth.incidents.dlq");
        ck_assert_str_eq(cfg.priority_topic_template,
                         "hearth.alerts.p{priority}");
        ck_assert_str_eq(cfg.region_topic_template,
                         "hearth.alerts.region.{city}");
}
END_TEST

START_TEST(defaults_redis)
{
        ck_assert_str_eq(cfg.redis_host, "127.0.0.1");
        ck_assert_int_eq(cfg.redis_port, 24379);
        ck_assert_str_eq(cfg.redis_unix_socket, "");
        ck_assert_str_eq(cfg.redis_user, "");
        ck_assert_str_eq(cfg.redis_password_file, "");
        ck_assert_int_eq(cfg.redis_timeout_ms, 2000);
        ck_assert_str_eq(cfg.key_prefix, "hearth:");
}
END_TEST

START_TEST(defaults_engine)
{
        ck_assert_int_eq(cfg.batch_max_events, 5000);
        ck_assert_int_eq(cfg.batch_max_wait_ms, 20);
        ck_assert_int_eq(cfg.allowed_lateness_ms, 600000);
        ck_assert_int_eq(cfg.max_message_bytes, 1048576);
        ck_assert_int_eq(cfg.outbox_ttl_s, 604800);
        ck_assert_str_eq(cfg.rule_version, "1");
        ck_assert_str_eq(cfg.log_level, "info");
}
END_TEST

START_TEST(defaults_repeat_calls)
{
        ck_assert(cfg.rc_enabled);
        ck_assert_int_eq(cfg.rc_short_window_h, 72);
        ck_assert_int_eq(cfg.rc_short_threshold, 2);
        ck_assert_int_eq(cfg.rc_short_priority, 3);
        ck_assert_int_eq(cfg.rc_long_window_d, 30);
        ck_assert_int_eq(cfg.rc_long_threshold, 3);
        ck_assert_int_eq(cfg.rc_long_priority, 2);
        ck_assert_int_eq(cfg.rc_max_incident_ids, 50);
}
END_TEST

START_TEST(defaults_validate)
{
        ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(load_nested_keys)
{
        ck_assert_int_eq(load("{\"redis\": {\"port\": 6380, "
                              "\"host\": \"redis.local\"}}"),
                         0);
        ck_assert_int_eq(cfg.redis_port, 6380);
        ck_assert_str_eq(cfg.redis_host, "redis.local");
}
END_TEST

START_TEST(load_dotted_keys)
{
        ck_assert_int_eq(load("{\"redis.port\": 6381, "
                              "\"kafka.brokers\": \"b1:9092,b2:9092\"}"),
                         0);
        ck_assert_int_eq(cfg.redis_port, 6381);
        ck_assert_str_eq(cfg.kafka_brokers, "b1:9092,b2:9092");
}
END_TEST

START_TEST(load_mixed_nesting)
{
        ck_assert_int_eq(load("{\"models\": {\"repeat_calls.short_window_"
                              "hours\": 48, \"repeat_calls\": "
                              "{\"long_threshold\": 4}}}"),
                         0);
        ck_assert_int_eq(cfg.rc_short_window_h, 48);
        ck_assert_int_eq(cfg.rc_long_threshold, 4);
}
END_TEST

START_TEST(load_bool)
{
        ck_assert_int_eq(load("{\"models.repeat_calls.enabled\": false}"), 0);
        ck_assert(!cfg.rc_enabled);
        ck_assert_int_eq(load("{\"models.repeat_calls.enabled\": true}"), 0);
        ck_assert(cfg.rc_enabled);
}
END_TEST

START_TEST(load_keeps_unset_defaults)
{
        ck_assert_int_eq(load("{\"redis\": {\"port\": 6380}}"), 0);
        ck_assert_str_eq(cfg.redis_host, "127.0.0.1");
        ck_assert_int_eq(cfg.redis_timeout_ms, 2000);
        ck_assert_str_eq(cfg.kafka_brokers, "127.0.0.1:24092");
}
END_TEST

START_TEST(load_large_int)
{
        ck_assert_int_eq(load("{\"engine.allowed_lateness_ms\": "
                              "31536000000}"),
                         0);
        ck_assert_int_eq(cfg.allowed_lateness_ms, 31536000000LL);
}
END_TEST

START_TEST(load_unknown_dotted_option)
{
        ck_assert_int_eq(load("{\"redis.prot\": 6380}"), -1);
        ck_assert_err_has("unknown option redis.prot");
}
END_TEST

START_TEST(load_unknown_nested_option)
{
        ck_assert_int_eq(load("{\"models\": {\"repeat_calls\": "
                              "{\"window\": 3}}}"),
                         -1);
        ck_assert_err_has("unknown option models.repeat_calls.window");
}
END_TEST

START_TEST(load_unknown_top_level)
{
        ck_assert_int_eq(load("{\"kafka_brokers\": \"x:1\"}"), -1);
        ck_assert_err_has("kafka_brokers");
        ck_assert_err_has("--help-config");
}
END_TEST

START_TEST(load_int_as_string_rejected)
{
        ck_assert_int_eq(load("{\"redis.port\": \"6380\"}"), -1);
        ck_assert_err_has("option redis.port must be an integer");
        ck_assert_int_eq(cfg.redis_port, 24379);
}
END_TEST

START_TEST(load_real_for_int_rejected)
{
        ck_assert_int_eq(load("{\"redis.port\": 6380.0}"), -1);
        ck_assert_err_has("option redis.port must be an integer");
}
END_TEST

START_TEST(load_string_as_int_rejected)
{
        ck_assert_int_eq(load("{\"kafka.brokers\": 9092}"), -1);
        ck_assert_err_has("option kafka.brokers must be a string");
        ck_assert_str_eq(cfg.kafka_brokers, "127.0.0.1:24092");
}
END_TEST

START_TEST(load_bool_as_int_rejected)
{
        ck_assert_int_eq(load("{\"models.repeat_calls.enabled\": 1}"), -1);
        ck_assert_err_has("option models.repeat_calls.enabled must be true "
                          "or false");
}
END_TEST

START_TEST(load_null_rejected)
{
        ck_assert_int_eq(load("{\"redis.host\": null}"), -1);
        ck_assert_err_has("option redis.host must be a string");
}
END_TEST

START_TEST(load_array_rejected)
{
        ck_assert_int_eq(load("{\"kafka.brokers\": [\"a:1\", \"b:2\"]}"), -1);
        ck_assert_err_has("option kafka.brokers must be a string");
}
END_TEST

/*
 * An object where an integer belongs is a wrong type and, as config.h
 * promises, must not be silently ignored.
 */
START_TEST(load_empty_object_for_int_rejected)
{
        ck_assert_int_eq(load("{\"redis\": {\"port\": {}}}"), -1);
        ck_assert_err_has("redis.port");
}
END_TEST

START_TEST(load_below_range_rejected)
{
        ck_assert_int_eq(load("{\"redis.port\": 0}"), -1);
        ck_assert_err_has("option redis.port");
        ck_assert_err_has("from 1 to 65535");
        ck_assert_int_eq(cfg.redis_port, 24379);
}
END_TEST

START_TEST(load_above_range_rejected)
{
        ck_assert_int_eq(load("{\"redis.port\": 65536}"), -1);
        ck_assert_err_has("option redis.port");
        ck_assert_err_has("from 1 to 65535");
}
END_TEST

START_TEST(load_range_edges_accepted)
{
        ck_assert_int_eq(load("{\"redis.port\": 1}"), 0);
        ck_assert_int_eq(cfg.redis_port, 1);
        ck_assert_int_eq(load("{\"redis.port\": 65535}"), 0);
        ck_assert_int_eq(cfg.redis_port, 65535);
}
END_TEST

START_TEST(load_range_error_names_unit)
{
        ck_assert_int_eq(load("{\"redis.timeout_ms\": 5}"), -1);
        ck_assert_err_has("option redis.timeout_ms");
        ck_assert_err_has("from 10 to 600000 ms");
}
END_TEST

START_TEST(load_negative_rejected)
{
        ck_assert_int_eq(load("{\"engine.batch_max_wait_ms\": -1}"), -1);
        ck_assert_err_has("option engine.batch_max_wait_ms");
}
END_TEST

START_TEST(load_invalid_json)
{
        ck_assert_int_eq(load("{\"redis.port\": }"), -1);
        ck_assert_err_has("invalid JSON at line 1");
}
END_TEST

START_TEST(load_duplicate_key_rejected)
{
        ck_assert_int_eq(load("{\"redis.port\": 1, \"redis.port\": 2}"), -1);
        ck_assert_err_has("invalid JSON");
}
END_TEST

START_TEST(load_top_level_array_rejected)
{
        ck_assert_int_eq(load("[1, 2]"), -1);
        ck_assert_err_has("must be a JSON object");
}
END_TEST

START_TEST(load_file_applies)
{
        char path[] = "/tmp/hearth-config-XXXXXX";
        int fd = mkstemp(path);
        FILE *fp;

        ck_assert_int_ge(fd, 0);
        fp = fdopen(fd, "w");
        ck_assert_ptr_nonnull(fp);
        fputs("{\"redis\": {\"port\": 6390}, \"log.level\": \"debug\"}\n", fp);
        ck_assert_int_eq(fclose(fp), 0);
        ck_assert_int_eq(hearth_config_load_file(&cfg, path, err, sizeof(err)),
                         0);
        ck_assert_int_eq(cfg.redis_port, 6390);
        ck_assert_str_eq(cfg.log_level, "debug");
        unlink(path);
}
END_TEST

START_TEST(load_file_error_names_path)
{
        char path[] = "/tmp/hearth-config-XXXXXX";
        int fd = mkstemp(path);
        FILE *fp;

        ck_assert_int_ge(fd, 0);
        fp = fdopen(fd, "w");
        ck_assert_ptr_nonnull(fp);
        fputs("{\"redis\": {\"prot\": 6390}}\n", fp);
        ck_assert_int_eq(fclose(fp), 0);
        ck_assert_int_eq(hearth_config_load_file(&cfg, path, err, sizeof(err)),
                         -1);
        ck_assert_err_has(path);
        ck_assert_err_has("unknown option redis.prot");
        unlink(path);
}
END_TEST

START_TEST(load_file_missing)
{
        ck_assert_int_eq(hearth_config_load_file(&cfg, "/nonexistent/e.json",
                                                 err, sizeof(err)),
                         -1);
        ck_assert_err_has("/nonexistent/e.json");
}
END_TEST

START_TEST(validate_empty_brokers)
{
        ck_assert_int_eq(set("kafka.brokers="), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("kafka.brokers");
}
END_TEST

START_TEST(validate_empty_input_topic)
{
        ck_assert_int_eq(set("topics.input="), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("topics.input");
}
END_TEST

START_TEST(validate_priority_template)
{
        ck_assert_int_eq(set("topics.priority_template=hearth.alerts"), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("topics.priority_template must contain {priority}");
}
END_TEST

START_TEST(validate_region_template)
{
        ck_assert_int_eq(set("topics.region_template=hearth.region"), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("topics.region_template");
}
END_TEST

START_TEST(validate_empty_region_template_ok)
{
        ck_assert_int_eq(set("topics.region_template="), 0);
        ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(validate_long_window_covers_short)
{
        ck_assert_int_eq(set("models.repeat_calls.long_window_days=2"), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("long_window_days must cover short_window_hours");
}
END_TEST

START_TEST(validate_equal_windows_ok)
{
        ck_assert_int_eq(set("models.repeat_calls.long_window_days=3"), 0);
        ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(validate_log_level)
{
        ck_assert_int_eq(set("log.level=verbose"), 0);
        ck_assert_int_eq(validate(), -1);
        ck_assert_err_has("log.level");
        ck_assert_int_eq(set("log.level=warn"), 0);
        ck_assert_int_eq(validate(), 0);
}
END_TEST

START_TEST(set_int)
{
        ck_assert_int_eq(set("redis.port=6390"), 0);
        ck_assert_int_eq(cfg.redis_port, 6390);
}
END_TEST

START_TEST(set_string_keeps_equals)
{
        ck_assert_int_eq(set("redis.key_prefix=a=b:"), 0);
        ck_assert_str_eq(cfg.key_prefix, "a=b:");
}
END_TEST

START_TEST(set_bool)
{
        ck_assert_int_eq(set("models.repeat_calls.enabled=false"), 0);
        ck_assert(!cfg.rc_enabled);
}
END_TEST

START_TEST(set_bad_bool_rejected)
{
        ck_assert_int_eq(set("models.repeat_calls.enabled=yes"), -1);
        ck_assert_err_has("models.repeat_calls.enabled");
        ck_assert_err_has("true or false");
        ck_assert(cfg.rc_enabled);
}
END_TEST

START_TEST(set_without_equals_rejected)
{
        ck_assert_int_eq(set("redis.port"), -1);
        ck_assert_err_has("expected option=value");
}
END_TEST

START_TEST(set_empty_name_rejected)
{
        ck_assert_int_eq(set("=6390"), -1);
        ck_assert_err_has("expected option=value");
}
END_TEST

START_TEST(set_unknown_rejected)
{
        ck_assert_int_eq(set("redis.prot=6390"), -1);
        ck_assert_err_has("unknown option redis.prot");
}
END_TEST

START_TEST(set_non_numeric_rejected)
{
        ck_assert_int_eq(set("redis.port=63a"), -1);
        ck_assert_err_has("option redis.port: invalid value \"63a\"");
        ck_assert_int_eq(cfg.redis_port, 24379);
}
END_TEST

START_TEST(set_empty_int_rejected)
{
        ck_assert_int_eq(set("redis.port="), -1);
        ck_assert_err_has("option redis.port");
}
END_TEST

START_TEST(set_out_of_range_rejected)
{
        ck_assert_int_eq(set("models.repeat_calls.short_priority=5"), -1);
        ck_assert_err_has("from 1 to 4");
}
END_TEST

START_TEST(set_overflow_rejected)
{
        ck_assert_int_eq(set("redis.port=99999999999999999999"), -1);
        ck_assert_err_has("option redis.port");
}
END_TEST

START_TEST(reference_lists_options)
{
        char *text = NULL;
        size_t len = 0;
        FILE *fp = open_memstream(&text, &len);

        ck_assert_ptr_nonnull(fp);
        hearth_config_print_reference(fp);
        ck_assert_int_eq(fclose(fp), 0);
        ck_assert_ptr_nonnull(strstr(text, "| `redis.port` | integer | "
                                           "`24379` | 1–65535 |"));
        ck_assert_ptr_nonnull(strstr(text, "`models.repeat_calls.enabled` | "
                                           "boolean | `true`"));
        free(text);
}
END_TEST

START_TEST(free_clears_strings)
{
        hearth_config_free(&cfg);
        ck_assert_ptr_null(cfg.kafka_brokers);
        ck_assert_ptr_null(cfg.log_level);
        /* A second free, as teardown does, is harmless. */
}
END_TEST

Suite *hearth_test_config_suite(void)
{
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, defaults_kafka);
        tcase_add_test(tc, defaults_redis);
        tcase_add_test(tc, defaults_engine);
        tcase_add_test(tc, defaults_repeat_calls);
        tcase_add_test(tc, defaults_validate);
        tcase_add_test(tc, load_nested_keys);
        tcase_add_test(tc, load_dotted_keys);
        tcase_add_test(tc, load_mixed_nesting);
        tcase_add_test(tc, load_bool);
        tcase_add_test(tc, load_keeps_unset_defaults);
        tcase_add_test(tc, load_large_int);
        tcase_add_test(tc, load_unknown_dotted_option);
        tcase_add_test(tc, load_unknown_nested_option);
        tcase_add_test(tc, load_unknown_top_level);
        tcase_add_test(tc, load_int_as_string_rejected);
        tcase_add_test(tc, load_real_for_int_rejected);
        tcase_add_test(tc, load_string_as_int_rejected);
        tcase_add_test(tc, load_bool_as_int_rejected);
        tcase_add_test(tc, load_null_rejected);
        tcase_add_test(tc, load_array_rejected);
        tcase_add_test(tc, load_empty_object_for_int_rejected);
        tcase_add_test(tc, load_below_range_rejected);
        tcase_add_test(tc, load_above_range_rejected);
        tcase_add_test(tc, load_range_edges_accepted);
        tcase_add_test(tc, load_range_error_names_unit);
        tcase_add_test(tc, load_negative_rejected);
        tcase_add_test(tc, load_invalid_json);
        tcase_add_test(tc, load_duplicate_key_rejected);
        tcase_add_test(tc, load_top_level_array_rejected);
        tcase_add_test(tc, load_file_applies);
        tcase_add_test(tc, load_file_error_names_path);
        tcase_add_test(tc, load_file_missing);
        tcase_add_test(tc, validate_empty_brokers);
        tcase_add_test(tc, validate_empty_input_topic);
        tcase_add_test(tc, validate_priority_template);
        tcase_add_test(tc, validate_region_template);
        tcase_add_test(tc, validate_empty_region_template_ok);
        tcase_add_test(tc, validate_long_window_covers_short);
        tcase_add_test(tc, validate_equal_windows_ok);
        tcase_add_test(tc, validate_log_level);
        tcase_add_test(tc, set_int);
        tcase_add_test(tc, set_string_keeps_equals);
        tcase_add_test(tc, set_bool);
        tcase_add_test(tc, set_bad_bool_rejected);
        tcase_add_test(tc, set_without_equals_rejected);
        tcase_add_test(tc, set_empty_name_rejected);
        tcase_add_test(tc, set_unknown_rejected);
        tcase_add_test(tc, set_non_numeric_rejected);
        tcase_add_test(tc, set_empty_int_rejected);
        tcase_add_test(tc, set_out_of_range_rejected);
        tcase_add_test(tc, set_overflow_rejected);
        tcase_add_test(tc, reference_lists_options);
        tcase_add_test(tc, free_clears_strings);
        suite_add_tcase(s, tc);
        return s;
}
