/*
 * librdkafka configuration shared by every hearth client: bootstrap
 * servers, a properties file for TLS and SASL settings, and -X overrides.
 * Also records the Kafka failures that end a program.
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
 * sasl.password belong in the file, which should be mode 600. Installs
 * hearth_kafka_on_error() as the error callback. Returns NULL and fills
 * errstr naming the property on failure.
 */
rd_kafka_conf_t *hearth_kafka_conf_new(const char *brokers, const char *file,
                                       char **overrides, size_t n_overrides,
                                       char *errstr, size_t errstr_size);

/*
 * hearth_kafka_conf_new() with a program's own defaults, given as name and
 * value pairs in a NULL-terminated list and set before file and overrides,
 * so that a user can change them.
 */
rd_kafka_conf_t *hearth_kafka_conf_new_with(const char *brokers,
                                            const char *const *defaults,
                                            const char *file,
                                            char **overrides,
                                            size_t n_overrides, char *errstr,
                                            size_t errstr_size);

/* Sets one property; returns -1 and fills errstr on failure. */
int hearth_kafka_conf_set(rd_kafka_conf_t *conf, const char *name,
                          const char *value, char *errstr,
                          size_t errstr_size);

/*
 * Failures that retrying cannot fix: an authentication failure (wrong
 * credentials or SASL mechanism) or a fatal error such as a fenced
 * idempotent producer. librdkafka reports an authentication failure as an
 * error and keeps reconnecting, so a program that waits for the broker
 * would wait forever. The first such failure of the process is recorded
 * and logged once. Programs stop when hearth_kafka_failure() returns a
 * message and exit non-zero.
 *
 * hearth_kafka_conf_new() installs hearth_kafka_on_error() as the error
 * callback. A program that sets its own error callback calls
 * hearth_kafka_record_error() from it. librdkafka calls error callbacks
 * inside rd_kafka_poll(), rd_kafka_consumer_poll() and rd_kafka_flush(),
 * so a program detects a failure only while it polls its clients.
 */

/*
 * Records and logs err with its reason when it is an authentication
 * failure or a fatal error, and returns 1 then, else 0. rk is the client
 * that reported it, used to read the cause of RD_KAFKA_RESP_ERR__FATAL.
 */
int hearth_kafka_record_error(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                              const char *reason);

/* Error callback: hearth_kafka_record_error(), else a warning, or a debug
 * line once a failure is recorded. */
void hearth_kafka_on_error(rd_kafka_t *rk, int err, const char *reason,
                           void *opaque);

/* Returns the message of the recorded failure, or NULL when none. */
const char *hearth_kafka_failure(void);

/* Forgets the recorded failure, so that unit tests in one process start
 * clean. Programs have no reason to call it. */
void hearth_kafka_failure_clear(void);

/*
 * Serves the callbacks queued on rk, then returns hearth_kafka_failure().
 * Call it after a request to the broker failed and before reporting the
 * broker as unreachable: an authentication failure explains the error
 * better. A consumer's messages that arrive meanwhile are dropped, so
 * call it only when the program stops reading.
 */
const char *hearth_kafka_check_failure(rd_kafka_t *rk);

#endif
