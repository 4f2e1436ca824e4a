/*
 * librdkafka configuration from a properties file and overrides.
 */
#include "engine/common/kafka.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int hearth_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                          const char *value, char *errstr, size_t errstr_size)
{
        char rderr[256];

        if (rd_kafka_conf_set(conf, name, value, rderr, sizeof(rderr)) !=
            RD_KAFKA_CONF_OK) {
                snprintf(errstr, errstr_size, "Kafka property %s: %s", name,
                         rderr);
                return -1;
        }
        return 0;
}

static char *trim(char *s)
{
        char *end;

        while (*s == ' ' || *s == '\t')
                s++;
        end = s + strlen(s);
        while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
                           end[-1] == '\n' || end[-1] == '\r'))
                *--end = '\0';
        return s;
}

/* Splits "name=value" in place; returns -1 when there is no '='. */
static int split_property(char *line, char **name, char **value)
{
        char *eq = strchr(line, '=');

        if (!eq)
                return -1;
        *eq = '\0';
        *name = trim(line);
        *value = trim(eq + 1);
        return **name ? 0 : -1;
}

static int load_file(rd_kafka_conf_t *conf, const char *file, char *errstr,
                     size_t errstr_size)
{
        char line[4096];
        int lineno = 0, rc = 0;
        FILE *fp = fopen(file, "r");

        if (!fp) {
                snprintf(errstr, errstr_size,
                         "cannot open Kafka properties file %s: %s", file,
                         strerror(errno));
                return -1;
        }
        while (rc == 0 && fgets(line, sizeof(line), fp)) {
                char *s = trim(line), *name, *value;

                lineno++;
                if (*s == '\0' || *s == '#')
                        continue;
                if (split_property(s, &name, &value) != 0) {
                        snprintf(errstr, errstr_size,
                                 "%s line %d: expected name=value", file,
                                 lineno);
                        rc = -1;
                        break;
                }
                rc = hearth_kafka_conf_set(conf, name, value, errstr,
                                           errstr_size);
        }
        fclose(fp);
        return rc;
}

rd_kafka_conf_t *hearth_kafka_conf_new(const char *brokers, const char *file,
                                       char **overrides, size_t n_overrides,
                                       char *errstr, size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        if (hearth_kafka_conf_set(conf, "bootstrap.servers",
                                  brokers ? brokers
                                          : HEARTH_KAFKA_DEFAULT_BROKERS,
                                  errstr, errstr_size) != 0)
                goto fail;
        if (file && load_file(conf, file, errstr, errstr_size) != 0)
                goto fail;
        for (size_t i = 0; i < n_overrides; i++) {
                char *copy = strdup(overrides[i]), *name, *value;
                int rc = split_property(copy, &name, &value);

                if (rc != 0)
                        snprintf(errstr, errstr_size,
                                 "-X %s: expected name=value", overrides[i]);
                else
                        rc = hearth_kafka_conf_set(conf, name, value, errstr,
                                                   errstr_size);
                free(copy);
                if (rc != 0)
                        goto fail;
        }
        return conf;
fail:
        rd_kafka_conf_destroy(conf);
        return NULL;
}
