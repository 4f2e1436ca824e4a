/*
 * librdkafka configuration shared by every hearth client: bootstrap
 * servers, a properties file for TLS and SASL settings, and -X overrides.
 */
#ifndef HEARTH_KAFKA_H
#define HEARTH_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Default bootstrap servers: the broker deploy/local/kafka.sh starts. */
#define HEARTH_KAFKA_DEFAULT_BROKERS "127.0.0.1:24092"

/*
 * Creates a configuration with bootstrap.servers set to brokers, then the
 * properties of file (lines "name=value"; '#' starts a comment; NULL for
 * none), then each "name=value" in overrides. Secrets such as
 * sasl.password belong in the file, which should be mode 600. Returns NULL
 * and fills errstr naming the property on failure.
 */
rd_kafka_conf_t *hearth_kafka_conf_new(const char *brokers, const char *file,
                                       char **overrides, size_t n_overrides,
                                       char *errstr, size_t errstr_size);

/* Sets one property; returns -1 and fills errstr on failure. */
int hearth_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                          const char *value, char *errstr,
                          size_t errstr_size);

#endif
