/*
 * The Kafka producer of the connector tools (hearth-connect,
 * hearth-replay): IncidentEvent messages to the input topic and dead
 * letters to the dead-letter topic, with an idempotent producer and
 * acks=all. A full local queue is back-pressure: sending waits for room
 * instead of failing. Delivery reports are counted, and
 * hearth_sender_finish() reports whether every message sent was
 * acknowledged.
 *
 * After an authentication failure or a fatal Kafka error (see
 * hearth_kafka_failure()), the send functions drop their messages and
 * count them as failed, and hearth_sender_finish() stops waiting.
 *
 * Threads: one thread calls every function; delivery reports run inside
 * hearth_sender_poll(), the send functions and hearth_sender_finish().
 */
#ifndef HEARTH_SENDER_H
#define HEARTH_SENDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_sender hearth_sender_t;

typedef struct hearth_sender_conf {
        const char *brokers;            /* NULL: the local default */
        const char *kafka_config;       /* properties file or NULL */
        char **overrides;               /* "name=value" librdkafka props */
        size_t n_overrides;
        const char *client_id;
        const char *topic;
        const char *dlq_topic;
        int flush_timeout_ms;           /* wait in hearth_sender_finish() */
} hearth_sender_conf_t;

typedef struct hearth_sender_stats {
        uint64_t sent;          /* events handed to the send function */
        uint64_t dlq_sent;      /* dead letters handed to it */
        uint64_t delivered;     /* events acknowledged by the broker */
        uint64_t dlq_delivered;
        uint64_t failed;        /* rejected by librdkafka or the broker */
} hearth_sender_stats_t;

/* Creates the producer; returns NULL and fills errstr on failure. The
 * strings of conf must outlive the sender. */
hearth_sender_t *hearth_sender_new(const hearth_sender_conf_t *conf,
                                   char *errstr, size_t errstr_size);

/*
 * Sends one packed IncidentEvent keyed by key (NULL: no key). The sender
 * takes payload, a malloc'd buffer, in every case. Returns 0 when the
 * message is queued, -1 when librdkafka rejected it (logged and counted
 * as failed) or after a Kafka failure (counted as failed).
 */
int hearth_sender_send_event(hearth_sender_t *s, void *payload, size_t len,
                             const char *key);

/* Sends one dead letter (malloc'd JSON text, taken as above), keyed by
 * its reason. */
int hearth_sender_send_dead_letter(hearth_sender_t *s, char *json,
                                   size_t len, const char *reason);

/* Serves delivery reports, waiting at most timeout_ms for one. */
void hearth_sender_poll(hearth_sender_t *s, int timeout_ms);

/* Waits for every delivery report; returns -1, after logging how many
 * messages were lost, unless every message sent was acknowledged. */
int hearth_sender_finish(hearth_sender_t *s);

const hearth_sender_stats_t *hearth_sender_stats(const hearth_sender_t *s);

void hearth_sender_free(hearth_sender_t *s);

#endif
