/*
 * libFuzzer target for the engine configuration loader (engine/config.h).
 *
 * The input is the JSON text of a configuration file. It is applied over
 * the defaults and, when it loads, checked with hearth_config_validate, in
 * the order hearth-engine uses. Every string option must stay set (not
 * NULL) whatever the input, because the engine dereferences them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/config.h"

static void check_strings(const hearth_config_t *cfg)
{
        const char *strings[] = {
                cfg->kafka_brokers,  cfg->kafka_config_file,
                cfg->group_id,       cfg->group_instance_id,
                cfg->input_topic,    cfg->dlq_topic,
                cfg->priority_topic_template,
                cfg->region_topic_template,
                cfg->redis_host,     cfg->redis_unix_socket,
                cfg->redis_user,     cfg->redis_password_file,
                cfg->key_prefix,     cfg->rule_version,
                cfg->log_level,
        };

        for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
                if (!strings[i]) {
                        fprintf(stderr, "fuzz_config: string option %zu "
                                        "is NULL\n", i);
                        abort();
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        hearth_config_t cfg;
        char errstr[256];

        hearth_config_defaults(&cfg);
        errstr[0] = '\0';
        if (hearth_config_load_json(&cfg, (const char *)data, size, errstr,
                                    sizeof(errstr)) == 0) {
                check_strings(&cfg);
                hearth_config_validate(&cfg, errstr, sizeof(errstr));
        } else if (errstr[0] == '\0') {
                fprintf(stderr, "fuzz_config: load failed without an "
                                "error message\n");
                abort();
        }
        hearth_config_free(&cfg);
        return 0;
}
