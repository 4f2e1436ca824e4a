/*
 * librdkafka configuration from a properties file and overrides, and the
 * record of the first Kafka failure that ends the program (see kafka.h).
 */
#include "engine/common/kafka.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"

#define COMPONENT "kafka"

/* Error callbacks of several clients may run on several threads, so the
 * first one to move failure_state from FAILURE_NONE writes the message. */
enum { FAILURE_NONE, FAILURE_WRITING, FAILURE_RECORDED };
static atomic_int failure_state = FAILURE_NONE;
static char failure_message[1024];

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

static int is_authentication_error(rd_kafka_resp_err_t err)
{
        return err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
               err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED;
}

int hearth_kafka_record_error(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              const char *reason)
{
        int expected = FAILURE_NONE;
        char cause[512];

        /* rd_kafka_fatal_error() returns the cause of a fatal error,
         * which may be an authentication failure. */
        if (err == RD_KAFKA_RESP_ERR__FATAL && rk)
                err = rd_kafka_fatal_error(rk, cause, sizeof(cause));
        else if (err != RD_KAFKA_RESP_ERR__FATAL &&
                 !is_authentication_error(err))
                return 0;
        if (!atomic_compare_exchange_strong(&failure_state, &expected,
                                            FAILURE_WRITING))
                return 1;

        if (is_authentication_error(err))
                snprintf(failure_message, sizeof(failure_message),
                         "Kafka authentication failed: %s. Check "
                         "sasl.mechanisms, sasl.username and sasl.password "
                         "in the Kafka properties file (--kafka-config, or "
                         "kafka.config_file of hearth-engine)", reason);
        else
                snprintf(failure_message, sizeof(failure_message),
                         "fatal Kafka error: %s", reason);
        atomic_store(&failure_state, FAILURE_RECORDED);
        hearth_error(COMPONENT, "%s", failure_message);
        return 1;
}

void hearth_kafka_on_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque)
{
        (void)opaque;
        if (hearth_kafka_record_error(rk, (rd_kafka_resp_err_t)err, reason))
                return;
        /* After a failure the program stops, and errors such as "all
         * brokers are down" follow from it. */
        if (hearth_kafka_failure())
                hearth_debug(COMPONENT, "%s", reason);
        else
                hearth_warn(COMPONENT, "%s", reason);
}

const char *hearth_kafka_failure(void)
{
        if (atomic_load(&failure_state) != FAILURE_RECORDED)
                return NULL;
        return failure_message;
}

void hearth_kafka_failure_clear(void)
{
        atomic_store(&failure_state, FAILURE_NONE);
}

const char *hearth_kafka_check_failure(rd_kafka_t *rk)
{
        rd_kafka_message_t *m;

        /* A consumer's callbacks run inside rd_kafka_consumer_poll(), which
         * returns consumer errors as messages. The bound keeps a busy
         * consumer from holding the caller. */
        if (rd_kafka_type(rk) == RD_KAFKA_CONSUMER) {
                for (int i = 0; i < 1000; i++) {
                        m = rd_kafka_consumer_poll(rk, 0);
                        if (!m)
                                break;
                        if (m->err)
                                hearth_kafka_record_error(
                                        rk, m->err,
                                        rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                }
        } else {
                rd_kafka_poll(rk, 0);
        }
        return hearth_kafka_failure();
}

rd_kafka_conf_t *hearth_kafka_conf_new(const char *brokers, const char *file,
                                       char **overrides, size_t n_overrides,
                                       char *errstr, size_t errstr_size)
{
        return hearth_kafka_conf_new_with(brokers, NULL, file, overrides,
                                          n_overrides, errstr, errstr_size);
}

rd_kafka_conf_t *hearth_kafka_conf_new_with(const char *brokers,
                                            const char *const *defaults,
                                            const char *file,
                                            char **overrides,
                                            size_t n_overrides, char *errstr,
                                            size_t errstr_size)
{
        rd_kafka_conf_t *conf = rd_kafka_conf_new();

        if (hearth_kafka_conf_set(conf, "bootstrap.servers",
                                  brokers ? brokers
                                          : HEARTH_KAFKA_DEFAULT_BROKERS,
                                  errstr, errstr_size) != 0)
                goto fail;
        for (size_t i = 0; defaults && defaults[i]; i += 2)
                if (hearth_kafka_conf_set(conf, defaults[i], defaults[i + 1],
                                          errstr, errstr_size) != 0)
                        goto fail;
        rd_kafka_conf_set_error_cb(conf, hearth_kafka_on_error);
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
