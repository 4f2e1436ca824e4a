/*
 * The engine's option table and its JSON loader.
 */
#include "engine/config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_type { OPT_STRING, OPT_INT, OPT_BOOL } opt_type_t;

typedef struct option_def {
        const char *name;
        opt_type_t type;
        size_t offset;
        const char *def;        /* default, as text */
        int64_t min, max;       /* for OPT_INT */
        const char *unit;
        const char *description;
} option_def_t;

#define OFF(field) offsetof(hearth_config_t, field)

static const option_def_t options[] = {
        {"kafka.brokers", OPT_STRING, OFF(kafka_brokers), "127.0.0.1:24092",
         0, 0, "", "Bootstrap servers, comma-separated host:port."},
        {"kafka.config_file", OPT_STRING, OFF(kafka_config_file), "", 0, 0,
         "", "librdkafka properties file (name=value lines) for TLS and "
             "SASL; empty for none."},
        {"kafka.group_id", OPT_STRING, OFF(group_id), "hearth-engine", 0, 0,
         "", "Consumer group of the engine instances."},
        {"kafka.group_instance_id", OPT_STRING, OFF(group_instance_id), "",
         0, 0, "", "Static group membership id (group.instance.id), one per "
                   "instance; a restarted instance with the same id takes "
                   "its partitions back without waiting for the session "
                   "timeout. Empty for dynamic membership."},
        {"topics.input", OPT_STRING, OFF(input_topic), "hearth.incidents", 0,
         0, "", "Topic of IncidentEvent messages."},
        {"topics.persons", OPT_STRING, OFF(persons_topic), "hearth.persons",
         0, 0, "", "Person repartition topic: the incidents stage copies "
                   "each event there once per suspect or victim, keyed by "
                   "the person key, and the persons stage reads it. Empty "
                   "disables the copies."},
        {"topics.tags", OPT_STRING, OFF(tags_topic), "hearth.tags", 0, 0, "",
         "Topic of Tag messages: label changes on persons, published by "
         "the persons stage."},
        {"topics.dlq", OPT_STRING, OFF(dlq_topic), "hearth.incidents.dlq", 0,
         0, "", "Dead-letter topic for input messages the engine rejects."},
        {"topics.priority_template", OPT_STRING,
         OFF(priority_topic_template), "hearth.alerts.p{priority}", 0, 0, "",
         "Province-wide alert topic; {priority} becomes 1 to 4."},
        {"topics.region_template", OPT_STRING, OFF(region_topic_template),
         "hearth.alerts.region.{city}", 0, 0, "",
         "Regional alert topic; {city} becomes the event's city code. "
         "Empty disables regional topics."},
        {"topics.create_missing", OPT_BOOL, OFF(create_topics), "true", 0, 0,
         "", "Ask the broker to create an alert or dead-letter topic before "
             "the first message to it, so a new city's regional topic exists "
             "even when the broker does not create topics itself."},
        {"topics.create_partitions", OPT_INT, OFF(create_partitions), "1", 1,
         10000, "partitions", "Partitions of a topic created on first use."},
        {"topics.create_replication", OPT_INT, OFF(create_replication), "1",
         1, 32, "replicas", "Replication factor of a topic created on first "
                            "use; use 3 on a production cluster."},
        {"redis.host", OPT_STRING, OFF(redis_host), "127.0.0.1", 0, 0, "",
         "Redis host; ignored when redis.unix_socket is set."},
        {"redis.port", OPT_INT, OFF(redis_port), "24379", 1, 65535, "",
         "Redis TCP port."},
        {"redis.unix_socket", OPT_STRING, OFF(redis_unix_socket), "", 0, 0,
         "", "Path of a Redis Unix socket; empty for TCP."},
        {"redis.user", OPT_STRING, OFF(redis_user), "", 0, 0, "",
         "Redis ACL user; empty for the default user."},
        {"redis.password_file", OPT_STRING, OFF(redis_password_file), "", 0,
         0, "", "File holding the Redis password; empty for none."},
        {"redis.timeout_ms", OPT_INT, OFF(redis_timeout_ms), "2000", 10,
         600000, "ms", "Connect and command timeout."},
        {"redis.key_prefix", OPT_STRING, OFF(key_prefix), "hearth:", 0, 0, "",
         "Prefix of every Redis key; use one per deployment."},
        {"engine.stage", OPT_STRING, OFF(stage), "incidents", 0, 0, "",
         "incidents: read topics.input and run the household, incident and "
         "area models; persons: read topics.persons (consumer group "
         "<kafka.group_id>.persons) and run the person models and labels. "
         "A deployment runs both."},
        {"engine.fusion_window_hours", OPT_INT, OFF(fusion_window_h), "720",
         0, 87600, "h",
         "An alert on a household or person that another model alerted on "
         "within this time before (event time) goes out one priority "
         "higher, listing both models' reasons. 0 disables fusion."},
        {"engine.idle_advance_ms", OPT_INT, OFF(idle_advance_ms), "10000", 0,
         86400000, "ms",
         "When a partition has received nothing for this long, its largest "
         "event time advances with the wall clock, so timers fire without "
         "new traffic. 0 keeps watermarks in pure event time."},
        {"engine.person_heartbeat_ms", OPT_INT, OFF(person_heartbeat_ms),
         "3600000", 1000, INT64_C(31536000000), "ms",
         "The incidents stage tells each person partition how far each input "
         "partition has got (the persons stage's watermark is the least of "
         "these) with every copy, and with a heartbeat when it sent that "
         "person partition nothing for this much event time."},
        {"engine.batch_max_events", OPT_INT, OFF(batch_max_events), "5000", 1,
         1000000, "events", "Largest batch processed in one Redis "
                            "transaction."},
        {"engine.batch_max_wait_ms", OPT_INT, OFF(batch_max_wait_ms), "20", 0,
         60000, "ms", "Longest wait for a batch to fill."},
        {"engine.allowed_lateness_ms", OPT_INT, OFF(allowed_lateness_ms),
         "600000", 0, INT64_C(31536000000), "ms",
         "Watermark lag behind the largest event time of a partition; an "
         "older event updates state but raises no alert."},
        {"engine.max_message_bytes", OPT_INT, OFF(max_message_bytes),
         "1048576", 64, 67108864, "bytes",
         "Input messages above this size go to the dead-letter topic."},
        {"engine.outbox_ttl_s", OPT_INT, OFF(outbox_ttl_s), "604800", 60,
         INT64_C(31536000), "s",
         "TTL of an alert outbox that could not be published."},
        {"engine.rule_version", OPT_STRING, OFF(rule_version), "1", 0, 0, "",
         "Version label written into every alert."},
        {"log.level", OPT_STRING, OFF(log_level), "info", 0, 0, "",
         "debug, info, warn or error."},
        {"metrics.file", OPT_STRING, OFF(metrics_file), "", 0, 0, "",
         "File the engine rewrites with its metrics in the Prometheus text "
         "format (for node_exporter's textfile collector); empty for "
         "none."},
        {"metrics.interval_ms", OPT_INT, OFF(metrics_interval_ms), "10000",
         100, 3600000, "ms", "Interval between two writes of metrics.file."},
        {"audit.log", OPT_STRING, OFF(audit_log), "", 0, 0, "",
         "File to which every published alert is appended as one JSON "
         "line (alert id, model, priority, region, times; no personal "
         "data); empty for none."},
        {"models.repeat_calls.enabled", OPT_BOOL, OFF(rc_enabled), "true", 0,
         0, "", "Run the repeat-calls model."},
        {"models.repeat_calls.short_window_hours", OPT_INT,
         OFF(rc_short_window_h), "72", 1, 8760, "h",
         "Short window for repeat domestic incidents at one household."},
        {"models.repeat_calls.short_threshold", OPT_INT,
         OFF(rc_short_threshold), "2", 2, 1000, "incidents",
         "Incidents in the short window that raise an alert."},
        {"models.repeat_calls.short_priority", OPT_INT,
         OFF(rc_short_priority), "3", 1, 4, "",
         "Priority of a short-window alert (1 highest)."},
        {"models.repeat_calls.long_window_days", OPT_INT,
         OFF(rc_long_window_d), "30", 1, 3650, "d",
         "Long window for repeat domestic incidents at one household."},
        {"models.repeat_calls.long_threshold", OPT_INT,
         OFF(rc_long_threshold), "3", 2, 1000, "incidents",
         "Incidents in the long window that raise an alert."},
        {"models.repeat_calls.long_priority", OPT_INT, OFF(rc_long_priority),
         "2", 1, 4, "", "Priority of a long-window alert (1 highest)."},
        {"models.repeat_calls.max_incident_ids", OPT_INT,
         OFF(rc_max_incident_ids), "50", 1, 10000, "ids",
         "Most recent incident ids listed in one alert."},
        {"models.special_circumstances.enabled", OPT_BOOL, OFF(sc_enabled),
         "true", 0, 0, "", "Run the special-circumstances model."},
        {"models.special_circumstances.lethal_flags", OPT_STRING,
         OFF(sc_lethal_flags),
         "weapon,firearm,strangulation,threat_to_kill,victim_fears_death", 0,
         0, "", "Comma-separated RiskFlags field names. Any one of them on "
                "a domestic incident raises an alert, and an empty list "
                "disables this rule."},
        {"models.special_circumstances.lethal_priority", OPT_INT,
         OFF(sc_lethal_priority), "1", 1, 4, "",
         "Priority of a lethal-flag alert (1 highest)."},
        {"models.special_circumstances.combined_flags", OPT_STRING,
         OFF(sc_combined_flags),
         "injury,children_present,suicide_threat,intoxication,pregnancy,"
         "separation,stalking,escalation", 0, 0, "",
         "Comma-separated RiskFlags field names counted together, none of "
         "them a lethal flag. An empty list disables this rule."},
        {"models.special_circumstances.combined_threshold", OPT_INT,
         OFF(sc_combined_threshold), "4", 1, 64, "flags",
         "Number of combined flags on one incident that raises an alert, at "
         "most the number of names in combined_flags."},
        {"models.special_circumstances.combined_priority", OPT_INT,
         OFF(sc_combined_priority), "2", 1, 4, "",
         "Priority of a combined-flags alert (1 highest)."},
        {"models.special_circumstances.dedup_window_days", OPT_INT,
         OFF(sc_dedup_window_d), "30", 1, 3650, "d",
         "An incident alerts at most once per priority within this window "
         "of event time."},
        {"models.repeat_dispositions.enabled", OPT_BOOL, OFF(rd_enabled),
         "true", 0, 0, "", "Run the repeat-dispositions model."},
        {"models.repeat_dispositions.dispositions", OPT_STRING,
         OFF(rd_dispositions), "MEDIATED,WARNED", 0, 0, "",
         "Comma-separated Disposition names whose domestic incidents are "
         "counted."},
        {"models.repeat_dispositions.window_days", OPT_INT, OFF(rd_window_d),
         "90", 1, 3650, "d",
         "Window for counted incidents at one household."},
        {"models.repeat_dispositions.threshold", OPT_INT, OFF(rd_threshold),
         "2", 2, 1000, "incidents",
         "Number of counted incidents in the window that raises an alert."},
        {"models.repeat_dispositions.priority", OPT_INT, OFF(rd_priority),
         "3", 1, 4, "", "Priority of a repeat-dispositions alert (1 "
                        "highest)."},
        {"models.repeat_dispositions.max_incident_ids", OPT_INT,
         OFF(rd_max_incident_ids), "50", 1, 10000, "ids",
         "Most recent incident ids listed in one alert."},
        {"models.hotspot.enabled", OPT_BOOL, OFF(hs_enabled), "true", 0, 0,
         "", "Run the hotspot model."},
        {"models.hotspot.c2_threshold_x100", OPT_INT,
         OFF(hs_c2_threshold_x100), "300", 1, 100000, "hundredths",
         "A district or grid cell alarms for a day when the day's EARS C2 "
         "statistic exceeds this value (300 means 3.00)."},
        {"models.hotspot.min_sigma_x100", OPT_INT, OFF(hs_min_sigma_x100),
         "100", 1, 100000, "hundredths",
         "Floor of the baseline's standard deviation (100 means 1.00 "
         "incidents), so that a flat baseline does not alarm on a small "
         "change."},
        {"models.hotspot.baseline_days", OPT_INT, OFF(hs_baseline_d), "7", 2,
         28, "d", "Days whose counts form the baseline of a day."},
        {"models.hotspot.guard_days", OPT_INT, OFF(hs_guard_d), "2", 0, 28,
         "d", "Days between the baseline and the day evaluated (the guard "
              "band), left out of the baseline."},
        {"models.hotspot.district_priority", OPT_INT,
         OFF(hs_district_priority), "3", 1, 4, "",
         "Priority of a district alarm (1 highest)."},
        {"models.hotspot.grid_priority", OPT_INT, OFF(hs_grid_priority), "4",
         1, 4, "", "Priority of a grid-cell alarm (1 highest)."},
        {"models.hotspot.day_offset_minutes", OPT_INT, OFF(hs_day_offset_min),
         "0", -720, 840, "min",
         "Fixed offset from UTC of the calendar days counted, e.g. 480 for "
         "China. It does not follow daylight saving time."},
        {"models.hotspot.max_incident_ids", OPT_INT, OFF(hs_max_incident_ids),
         "50", 1, 10000, "ids",
         "Most recent incident ids of the day listed in one alert."},
        {"models.repeat_offender.enabled", OPT_BOOL, OFF(ro_enabled), "true",
         0, 0, "", "Run the repeat-offender model (persons stage)."},
        {"models.repeat_offender.window_days", OPT_INT, OFF(ro_window_d),
         "365", 1, 3650, "d",
         "Window for domestic incidents with one person as suspect."},
        {"models.repeat_offender.threshold", OPT_INT, OFF(ro_threshold), "2",
         2, 1000, "incidents",
         "Incidents as suspect in the window that raise an alert."},
        {"models.repeat_offender.after_warning_days", OPT_INT,
         OFF(ro_after_warning_d), "365", 0, 3650, "d",
         "A domestic incident with a suspect who was warned (WARNING_ISSUED) "
         "in another incident up to this long before raises an alert. 0 "
         "disables this rule."},
        {"models.repeat_offender.priority", OPT_INT, OFF(ro_priority), "2", 1,
         4, "", "Priority of a repeat-offender alert (1 highest)."},
        {"models.repeat_offender.max_incident_ids", OPT_INT,
         OFF(ro_max_incident_ids), "50", 1, 10000, "ids",
         "Most recent incident ids listed in one alert."},
        {"models.order_violation.enabled", OPT_BOOL, OFF(ov_enabled), "true",
         0, 0, "", "Run the order-violation model (persons stage)."},
        {"models.order_violation.order_days", OPT_INT, OFF(ov_order_d), "180",
         1, 3650, "d",
         "How long a protection order stays active after "
         "PROTECTION_ORDER_ISSUED (China's personal safety protection "
         "orders last up to six months)."},
        {"models.order_violation.priority", OPT_INT, OFF(ov_priority), "1", 1,
         4, "", "Priority of an order-violation alert (1 highest)."},
        {"models.order_violation.suppress_hours", OPT_INT, OFF(ov_suppress_h),
         "24", 0, 8760, "h",
         "A person alerts at most once per priority within this time of "
         "event time; every new incident after it alerts again."},
        {"models.follow_up_overdue.enabled", OPT_BOOL, OFF(fu_enabled),
         "true", 0, 0, "", "Run the follow-up-overdue model (persons "
                           "stage)."},
        {"models.follow_up_overdue.due_days", OPT_INT, OFF(fu_due_d), "7", 1,
         365, "d", "A warned person needs a FOLLOW_UP_VISIT within this "
                   "time of the WARNING_ISSUED event."},
        {"models.follow_up_overdue.priority", OPT_INT, OFF(fu_priority), "3",
         1, 4, "", "Priority of a follow-up-overdue alert (1 highest)."},
        {"models.dispatch_overdue.enabled", OPT_BOOL, OFF(do_enabled), "true",
         0, 0, "", "Run the dispatch-overdue model (incidents stage)."},
        {"models.dispatch_overdue.due_minutes", OPT_INT, OFF(do_due_min),
         "10", 1, 1440, "min",
         "A CALL_RECEIVED needs a DISPATCHED of the same incident within "
         "this time."},
        {"models.dispatch_overdue.priority", OPT_INT, OFF(do_priority), "2",
         1, 4, "", "Priority of a dispatch-overdue alert (1 highest)."},
        {"models.dispatch_overdue.profiles", OPT_STRING, OFF(do_profiles),
         "cn_110", 0, 0, "",
         "Comma-separated connector profile names (IncidentEvent.source."
         "profile) whose records carry dispatch times; calls from other "
         "sources start no timer, as they never report a dispatch."},
        {"models.labels.enabled", OPT_BOOL, OFF(lb_enabled), "true", 0, 0, "",
         "Keep labels on persons and publish their changes on topics.tags "
         "(persons stage)."},
        {"models.labels.warned_days", OPT_INT, OFF(lb_warned_d), "365", 1,
         3650, "d", "Lifetime of the warned_person label after a "
                    "WARNING_ISSUED."},
        {"models.labels.repeat_offender_days", OPT_INT, OFF(lb_offender_d),
         "365", 1, 3650, "d", "Lifetime of the repeat_offender label after "
                              "a repeat-offender alert."},
        {"models.labels.high_risk_victim_days", OPT_INT, OFF(lb_victim_d),
         "365", 1, 3650, "d",
         "Lifetime of the high_risk_victim label on the victim of an "
         "incident with a lethal flag or enough combined flags (the "
         "special-circumstances options)."},
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static const option_def_t *find_option(const char *name)
{
        for (size_t i = 0; i < N_OPTIONS; i++)
                if (strcmp(options[i].name, name) == 0)
                        return &options[i];
        return NULL;
}

static int set_value(hearth_config_t *cfg, const option_def_t *o,
                     const char *text, char *errstr, size_t errstr_size)
{
        char *field = (char *)cfg + o->offset;
        char *end;
        long long v;

        switch (o->type) {
        case OPT_STRING:
                free(*(char **)field);
                *(char **)field = strdup(text);
                return 0;
        case OPT_BOOL:
                if (strcmp(text, "true") != 0 && strcmp(text, "false") != 0)
                        break;
                *(bool *)field = strcmp(text, "true") == 0;
                return 0;
        case OPT_INT:
                errno = 0;
                v = strtoll(text, &end, 10);
                if (errno || !*text || *end || v < o->min || v > o->max) {
                        snprintf(errstr, errstr_size,
                                 "option %s: invalid value \"%.40s\": use an "
                                 "integer from %" PRId64 " to %" PRId64 "%s%s",
                                 o->name, text, o->min, o->max,
                                 *o->unit ? " " : "", o->unit);
                        return -1;
                }
                *(int64_t *)field = v;
                return 0;
        }
        snprintf(errstr, errstr_size, "option %s: invalid value \"%.40s\": "
                                      "use true or false", o->name, text);
        return -1;
}

void hearth_config_defaults(hearth_config_t *cfg)
{
        char errstr[256];

        memset(cfg, 0, sizeof(*cfg));
        for (size_t i = 0; i < N_OPTIONS; i++)
                set_value(cfg, &options[i], options[i].def, errstr,
                          sizeof(errstr));
}

/* True when some option name starts with "group." */
static bool is_group(const char *group)
{
        size_t len = strlen(group);

        for (size_t i = 0; i < N_OPTIONS; i++)
                if (strncmp(options[i].name, group, len) == 0 &&
                    options[i].name[len] == '.')
                        return true;
        return false;
}

static int apply_json(hearth_config_t *cfg, const char *prefix, json_t *obj,
                      char *errstr, size_t errstr_size)
{
        const char *key;
        json_t *v;
        char name[160], text[64];

        json_object_foreach(obj, key, v)
        {
                const option_def_t *o;

                snprintf(name, sizeof(name), "%s%s%s", prefix,
                         *prefix ? "." : "", key);
                if (json_is_object(v) && is_group(name)) {
                        if (apply_json(cfg, name, v, errstr, errstr_size))
                                return -1;
                        continue;
                }
                o = find_option(name);
                if (!o) {
                        snprintf(errstr, errstr_size, "unknown option %s; "
                                 "see hearth-engine --help-config", name);
                        return -1;
                }
                if (o->type == OPT_STRING && json_is_string(v)) {
                        if (set_value(cfg, o, json_string_value(v), errstr,
                                      errstr_size))
                                return -1;
                        continue;
                }
                if (o->type == OPT_INT && json_is_integer(v))
                        snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT,
                                 json_integer_value(v));
                else if (o->type == OPT_BOOL && json_is_boolean(v))
                        snprintf(text, sizeof(text), "%s",
                                 json_is_true(v) ? "true" : "false");
                else {
                        snprintf(errstr, errstr_size, "option %s must be %s",
                                 name, o->type == OPT_STRING ? "a string"
                                       : o->type == OPT_INT ? "an integer"
                                                            : "true or false");
                        return -1;
                }
                if (set_value(cfg, o, text, errstr, errstr_size))
                        return -1;
        }
        return 0;
}

int hearth_config_load_json(hearth_config_t *cfg, const char *json,
                            size_t len, char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        int rc;

        if (!root) {
                snprintf(errstr, errstr_size, "invalid JSON at line %d "
                         "column %d: %s", jerr.line, jerr.column, jerr.text);
                return -1;
        }
        if (!json_is_object(root)) {
                json_decref(root);
                snprintf(errstr, errstr_size, "configuration must be a JSON "
                                              "object");
                return -1;
        }
        rc = apply_json(cfg, "", root, errstr, errstr_size);
        json_decref(root);
        return rc;
}

int hearth_config_load_file(hearth_config_t *cfg, const char *path,
                            char *errstr, size_t errstr_size)
{
        json_error_t jerr;
        json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
        char inner[512];
        int rc;

        if (!root && jerr.line < 1) {
                snprintf(errstr, errstr_size, "%s: %s", path, jerr.text);
                return -1;
        }
        if (!root) {
                snprintf(errstr, errstr_size, "%s: %s (line %d)", path,
                         jerr.text, jerr.line);
                return -1;
        }
        rc = json_is_object(root)
                     ? apply_json(cfg, "", root, inner, sizeof(inner))
                     : (snprintf(inner, sizeof(inner),
                                 "configuration must be a JSON object"), -1);
        json_decref(root);
        if (rc)
                snprintf(errstr, errstr_size, "%s: %s", path, inner);
        return rc;
}

int hearth_config_set(hearth_config_t *cfg, const char *assignment,
                      char *errstr, size_t errstr_size)
{
        const char *eq = strchr(assignment, '=');
        const option_def_t *o;
        char name[160];

        if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(name)) {
                snprintf(errstr, errstr_size, "--set %.60s: expected "
                         "option=value", assignment);
                return -1;
        }
        memcpy(name, assignment, (size_t)(eq - assignment));
        name[eq - assignment] = '\0';
        o = find_option(name);
        if (!o) {
                snprintf(errstr, errstr_size, "unknown option %s; see "
                         "hearth-engine --help-config", name);
                return -1;
        }
        return set_value(cfg, o, eq + 1, errstr, errstr_size);
}

int hearth_config_validate(const hearth_config_t *cfg, char *errstr,
                           size_t errstr_size)
{
        if (!*cfg->kafka_brokers || !*cfg->input_topic || !*cfg->group_id) {
                snprintf(errstr, errstr_size, "options kafka.brokers, "
                         "topics.input and kafka.group_id must not be empty");
                return -1;
        }
        /* Key buffers hold the prefix, "{p1023}:" and a model's suffix. */
        if (strlen(cfg->key_prefix) > 64) {
                snprintf(errstr, errstr_size, "option redis.key_prefix is "
                         "longer than 64 bytes");
                return -1;
        }
        if (!strstr(cfg->priority_topic_template, "{priority}")) {
                snprintf(errstr, errstr_size, "option topics.priority_template "
                         "must contain {priority}");
                return -1;
        }
        if (*cfg->region_topic_template &&
            !strstr(cfg->region_topic_template, "{city}")) {
                snprintf(errstr, errstr_size, "option topics.region_template "
                         "must contain {city} or be empty");
                return -1;
        }
        if (cfg->rc_long_window_d * 24 < cfg->rc_short_window_h) {
                snprintf(errstr, errstr_size, "option models.repeat_calls."
                         "long_window_days must cover short_window_hours");
                return -1;
        }
        if (strcmp(cfg->stage, "incidents") != 0 &&
            strcmp(cfg->stage, "persons") != 0) {
                snprintf(errstr, errstr_size, "option engine.stage: invalid "
                         "value \"%.40s\": use incidents or persons",
                         cfg->stage);
                return -1;
        }
        if (hearth_config_persons_stage(cfg) && !*cfg->persons_topic) {
                snprintf(errstr, errstr_size, "option topics.persons must "
                         "not be empty in the persons stage");
                return -1;
        }
        if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
            strcmp(cfg->log_level, "warn") && strcmp(cfg->log_level, "error")) {
                snprintf(errstr, errstr_size, "option log.level: use debug, "
                         "info, warn or error");
                return -1;
        }
        return 0;
}

bool hearth_config_persons_stage(const hearth_config_t *cfg)
{
        return cfg->stage && strcmp(cfg->stage, "persons") == 0;
}

const char *hearth_config_stage_topic(const hearth_config_t *cfg)
{
        return hearth_config_persons_stage(cfg) ? cfg->persons_topic
                                                : cfg->input_topic;
}

void hearth_config_stage_group(const hearth_config_t *cfg, char *out,
                               size_t size)
{
        snprintf(out, size, "%s%s", cfg->group_id,
                 hearth_config_persons_stage(cfg) ? ".persons" : "");
}

static bool reloadable(const option_def_t *o)
{
        return strncmp(o->name, "models.", 7) == 0 ||
               strcmp(o->name, "engine.rule_version") == 0 ||
               strcmp(o->name, "engine.allowed_lateness_ms") == 0 ||
               strcmp(o->name, "engine.fusion_window_hours") == 0 ||
               strcmp(o->name, "log.level") == 0;
}

size_t hearth_config_keep_static(hearth_config_t *next,
                                 const hearth_config_t *cur, char *changed,
                                 size_t changed_size)
{
        size_t n = 0;

        if (changed_size)
                changed[0] = '\0';
        for (size_t i = 0; i < N_OPTIONS; i++) {
                const option_def_t *o = &options[i];
                char *to = (char *)next + o->offset;
                const char *from = (const char *)cur + o->offset;
                bool same;

                if (reloadable(o))
                        continue;
                if (o->type == OPT_STRING) {
                        same = strcmp(*(char **)to, *(char *const *)from) == 0;
                        free(*(char **)to);
                        *(char **)to = strdup(*(char *const *)from);
                } else if (o->type == OPT_INT) {
                        same = *(int64_t *)to == *(const int64_t *)from;
                        *(int64_t *)to = *(const int64_t *)from;
                } else {
                        same = *(bool *)to == *(const bool *)from;
                        *(bool *)to = *(const bool *)from;
                }
                if (same)
                        continue;
                if (n++ == 0)
                        snprintf(changed, changed_size, "%s", o->name);
                else if (strlen(changed) + strlen(o->name) + 3 < changed_size)
                        strcat(strcat(changed, ", "), o->name);
        }
        return n;
}

void hearth_config_print_reference(FILE *out)
{
        fprintf(out, "| option | type | default | range | unit | "
                     "description |\n|---|---|---|---|---|---|\n");
        for (size_t i = 0; i < N_OPTIONS; i++) {
                const option_def_t *o = &options[i];
                char range[64] = "";

                if (o->type == OPT_INT)
                        snprintf(range, sizeof(range), "%" PRId64 "–%" PRId64,
                                 o->min, o->max);
                fprintf(out, "| `%s` | %s | `%s` | %s | %s | %s%s |\n", o->name,
                        o->type == OPT_STRING ? "string"
                        : o->type == OPT_INT  ? "integer"
                                              : "boolean",
                        o->def, range, o->unit, o->description,
                        reloadable(o) ? " Reloads on SIGHUP." : "");
        }
}

void hearth_config_free(hearth_config_t *cfg)
{
        for (size_t i = 0; i < N_OPTIONS; i++)
                if (options[i].type == OPT_STRING) {
                        char **field = (char **)((char *)cfg +
                                                 options[i].offset);
                        free(*field);
                        *field = NULL;
                }
}
