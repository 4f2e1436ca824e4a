/*
 * Produces malformed and out-of-range messages to an input topic, for the
 * engine's dead-letter test in run.sh. Prints, for each message, the
 * dead-letter reason the engine is expected to give it, one per line.
 *
 * Usage: hostile_producer BROKERS TOPIC
 * The oversized case is 6000 bytes, so run the engine with
 * engine.max_message_bytes below that (4096 in run.sh).
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/kafka.h"
#include "hearth/v1/incident.pb-c.h"

#define EVENT_TIME_MS INT64_C(1552485900000) /* 2019-03-13T14:05:00Z */
#define YEAR_9999_MS  INT64_C(253402214400000)

typedef struct sender {
        rd_kafka_t *producer;
        const char *topic;
        int failed;
} sender_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        sender_t *s = opaque;

        (void)rk;
        if (msg->err) {
                fprintf(stderr, "delivery failed: %s\n",
                        rd_kafka_err2str(msg->err));
                s->failed++;
        }
}

/* Produces payload keyed like the connector (district code). */
static void send_raw(sender_t *s, const void *payload, size_t len,
                     const char *reason)
{
        rd_kafka_resp_err_t err = rd_kafka_producev(
            s->producer, RD_KAFKA_V_TOPIC(s->topic),
            RD_KAFKA_V_KEY("hostile", 7),
            RD_KAFKA_V_VALUE((void *)payload, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);

        if (err) {
                fprintf(stderr, "produce failed: %s\n", rd_kafka_err2str(err));
                exit(1);
        }
        printf("%s\n", reason);
}

static void send_event(sender_t *s, const Hearth__V1__IncidentEvent *ev,
                       size_t truncate_by, const char *reason)
{
        size_t len = hearth__v1__incident_event__get_packed_size(ev);
        uint8_t *buf = malloc(len);

        hearth__v1__incident_event__pack(ev, buf);
        send_raw(s, buf, len - truncate_by, reason);
        free(buf);
}

/* A valid domestic call with invented codes, changed by each case. */
static void base_event(Hearth__V1__IncidentEvent *ev,
                       Hearth__V1__Source *source)
{
        hearth__v1__incident_event__init(ev);
        hearth__v1__source__init(source);
        ev->incident_id = "HOSTILE-0001";
        ev->event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev->event_time_ms = EVENT_TIME_MS;
        ev->city_code = "990100";
        ev->district_code = "990101";
        ev->is_domestic = 1;
        source->profile = "hostile";
        source->file = "hostile-input-file";
        ev->source = source;
}

static char *repeat(char c, size_t n)
{
        char *s = malloc(n + 1);

        memset(s, c, n);
        s[n] = '\0';
        return s;
}

static void send_bad_events(sender_t *s)
{
        Hearth__V1__IncidentEvent ev;
        Hearth__V1__Source source;
        Hearth__V1__Party party, *parties[200];
        char *big = repeat('x', 3000), *huge = repeat('y', 6000);
        static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff,
                                          0x07, 0x00, 0x13, 0x37};

        send_raw(s, garbage, sizeof(garbage), "invalid_protobuf");
        send_raw(s, "not a protobuf message", 22, "invalid_protobuf");

        base_event(&ev, &source);
        send_event(s, &ev, 5, "invalid_protobuf");

        base_event(&ev, &source);
        ev.category = NULL;
        ev.caller_key = huge;
        send_event(s, &ev, 0, "message_too_large");

        base_event(&ev, &source);
        ev.event_time_ms = YEAR_9999_MS;
        send_event(s, &ev, 0, "invalid_event_time");

        base_event(&ev, &source);
        ev.event_time_ms = -EVENT_TIME_MS;
        send_event(s, &ev, 0, "invalid_event_time");

        base_event(&ev, &source);
        ev.incident_id = "";
        send_event(s, &ev, 0, "missing_incident_id");

        base_event(&ev, &source);
        hearth__v1__party__init(&party);
        party.role = HEARTH__V1__PARTY_ROLE__VICTIM;
        party.person_key = "p";
        for (size_t i = 0; i < 200; i++)
                parties[i] = &party;
        ev.parties = parties;
        ev.n_parties = 200;
        send_event(s, &ev, 0, "too_many_parties");

        base_event(&ev, &source);
        ev.incident_id = big;
        send_event(s, &ev, 0, "field_too_long");

        base_event(&ev, &source);
        ev.address_key = big;
        send_event(s, &ev, 0, "field_too_long");

        base_event(&ev, &source);
        ev.city_code = big;
        send_event(s, &ev, 0, "field_too_long");

        base_event(&ev, &source);
        ev.city_code = "99/01 00";
        send_event(s, &ev, 0, "invalid_city_code");

        base_event(&ev, &source);
        ev.event_type = 99;
        send_event(s, &ev, 0, "unknown_enum_value");

        base_event(&ev, &source);
        ev.disposition = -5;
        send_event(s, &ev, 0, "unknown_enum_value");

        base_event(&ev, &source);
        party.role = 42;
        ev.parties = parties;
        ev.n_parties = 1;
        send_event(s, &ev, 0, "unknown_enum_value");

        free(big);
        free(huge);
}

int main(int argc, char **argv)
{
        char errstr[512];
        rd_kafka_conf_t *conf;
        sender_t s = {0};

        if (argc != 3) {
                fprintf(stderr, "usage: %s BROKERS TOPIC\n", argv[0]);
                return 2;
        }
        conf = hearth_kafka_conf_new(argv[1], NULL, NULL, 0, errstr,
                                     sizeof(errstr));
        if (!conf || hearth_kafka_conf_set(conf, "enable.idempotence", "true",
                                           errstr, sizeof(errstr)) != 0) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, &s);
        s.producer =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!s.producer) {
                fprintf(stderr, "%s\n", errstr);
                return 1;
        }
        s.topic = argv[2];
        send_bad_events(&s);
        if (rd_kafka_flush(s.producer, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR)
                s.failed++;
        rd_kafka_destroy(s.producer);
        return s.failed ? 1 : 0;
}
