/*
 * hearth-engine configuration: one table of options (name, type, default,
 * range, unit, description). Loading, validation, --help-config and the
 * configuration reference in engine/CONFIG.md all come from that table.
 *
 * A configuration file is a JSON object whose keys are option names with
 * dots ("redis.port") or nested objects ({"redis": {"port": 6379}}). An
 * unknown key, a wrong type or a value out of range is an error naming the
 * option; nothing is silently ignored.
 */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hearth_config {
        /* Kafka */
        char *kafka_brokers;
        char *kafka_config_file;
        char *group_id;
        char *group_instance_id;
        char *input_topic;
        char *persons_topic;
        char *tags_topic;
        char *dlq_topic;
        char *priority_topic_template;
        char *region_topic_template;
        bool create_topics;
        int64_t create_partitions;
        int64_t create_replication;
        /* Redis */
        char *redis_host;
        int64_t redis_port;
        char *redis_unix_socket;
        char *redis_user;
        char *redis_password_file;
        int64_t redis_timeout_ms;
        char *key_prefix;
        /* Engine */
        char *stage;
        int64_t fusion_window_h;
        int64_t idle_advance_ms;
        int64_t person_heartbeat_ms;
        int64_t batch_max_events;
        int64_t batch_max_wait_ms;
        int64_t allowed_lateness_ms;
        int64_t max_message_bytes;
        int64_t outbox_ttl_s;
        char *rule_version;
        char *log_level;
        char *metrics_file;
        int64_t metrics_interval_ms;
        char *audit_log;
        /* Repeat calls model */
        bool rc_enabled;
        int64_t rc_short_window_h;
        int64_t rc_short_threshold;
        int64_t rc_short_priority;
        int64_t rc_long_window_d;
        int64_t rc_long_threshold;
        int64_t rc_long_priority;
        int64_t rc_max_incident_ids;
        /* Special circumstances model */
        bool sc_enabled;
        char *sc_lethal_flags;
        int64_t sc_lethal_priority;
        char *sc_combined_flags;
        int64_t sc_combined_threshold;
        int64_t sc_combined_priority;
        int64_t sc_dedup_window_d;
        /* Repeat dispositions model */
        bool rd_enabled;
        char *rd_dispositions;
        int64_t rd_window_d;
        int64_t rd_threshold;
        int64_t rd_priority;
        int64_t rd_max_incident_ids;
        /* Hotspot model */
        bool hs_enabled;
        int64_t hs_c2_threshold_x100;
        int64_t hs_min_sigma_x100;
        int64_t hs_baseline_d;
        int64_t hs_guard_d;
        int64_t hs_district_priority;
        int64_t hs_grid_priority;
        int64_t hs_day_offset_min;
        int64_t hs_max_incident_ids;
        /* Repeat offender model */
        bool ro_enabled;
        int64_t ro_window_d;
        int64_t ro_threshold;
        int64_t ro_after_warning_d;
        int64_t ro_priority;
        int64_t ro_max_incident_ids;
        /* Order violation model */
        bool ov_enabled;
        int64_t ov_order_d;
        int64_t ov_priority;
        int64_t ov_suppress_h;
        /* Follow-up overdue model */
        bool fu_enabled;
        int64_t fu_due_d;
        int64_t fu_priority;
        /* Dispatch overdue model */
        bool do_enabled;
        int64_t do_due_min;
        int64_t do_priority;
        char *do_profiles;
        /* Labels on persons */
        bool lb_enabled;
        int64_t lb_warned_d;
        int64_t lb_offender_d;
        int64_t lb_victim_d;
} hearth_config_t;

/* Fills cfg with every default. Free with hearth_config_free(). */
void hearth_config_defaults(hearth_config_t *cfg);

/*
 * Applies a JSON file over cfg. Returns -1 and fills errstr naming the
 * option on error; cfg may then be partly changed.
 */
int hearth_config_load_file(hearth_config_t *cfg, const char *path,
                            char *errstr, size_t errstr_size);

int hearth_config_load_json(hearth_config_t *cfg, const char *json,
                            size_t len, char *errstr, size_t errstr_size);

/* Applies one "name=value" override, as given with --set. */
int hearth_config_set(hearth_config_t *cfg, const char *assignment,
                      char *errstr, size_t errstr_size);

/* Cross-option checks after loading; -1 and errstr on failure. */
int hearth_config_validate(const hearth_config_t *cfg, char *errstr,
                           size_t errstr_size);

/*
 * Prepares next to replace cur on a reload (SIGHUP): options that cannot
 * change while running (connections, topics, limits, files) are set back
 * to cur's values. Only model options, engine.rule_version,
 * engine.allowed_lateness_ms and log.level take effect. Returns how many
 * options were set back, and lists their names in changed.
 */
size_t hearth_config_keep_static(hearth_config_t *next,
                                 const hearth_config_t *cur, char *changed,
                                 size_t changed_size);

/* True when cfg runs the persons stage (engine.stage is "persons"). */
bool hearth_config_persons_stage(const hearth_config_t *cfg);

/*
 * The topic and consumer group the stage reads: topics.input and
 * kafka.group_id, or in the persons stage topics.persons and
 * "<kafka.group_id>.persons".
 */
const char *hearth_config_stage_topic(const hearth_config_t *cfg);
void hearth_config_stage_group(const hearth_config_t *cfg, char *out,
                               size_t size);

/* Writes the option table as Markdown. */
void hearth_config_print_reference(FILE *out);

void hearth_config_free(hearth_config_t *cfg);

#endif
