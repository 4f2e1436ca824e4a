/*
 * libFuzzer target for the engine's decoding of input messages: the bytes
 * of one Kafka message go through hearth__v1__incident_event__unpack and
 * then the checks hearth-engine applies before any model receives the event.
 * An accepted event then goes through the helpers that use its strings on
 * the way to an alert: hearth_household_key, hearth_alert_id and
 * hearth_topic_from_template.
 *
 * NOTE: libprotobuf-c and jansson come from Debian's packages without
 * coverage instrumentation, so libFuzzer is guided only by the hearth code
 * here, and ASan sees errors inside libprotobuf-c only where they pass
 * through an intercepted libc call such as memcpy.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "hearth/v1/incident.pb-c.h"
#include "models/model.h"

/*
 * Copied from engine/engine.c, where they and invalid_reason() are static.
 * Keep them in step with that file.
 */
#define MAX_EVENT_TIME_MS INT64_C(4102444800000)  /* 2100-01-01T00:00:00Z */
#define MAX_ID_BYTES 128
#define MAX_PARTIES 64
/* Default of engine.max_message_bytes (engine/config.c). */
#define MAX_MESSAGE_BYTES 1048576

/* Copy of invalid_reason() in engine/engine.c. Keep the two in step. */
static const char *invalid_reason(const Hearth__V1__IncidentEvent *ev)
{
        if (!ev->incident_id || !*ev->incident_id)
                return "missing_incident_id";
        if (strlen(ev->incident_id) > MAX_ID_BYTES)
                return "field_too_long";
        if (ev->event_time_ms <= 0 || ev->event_time_ms > MAX_EVENT_TIME_MS)
                return "invalid_event_time";
        if (ev->n_parties > MAX_PARTIES)
                return "too_many_parties";
        if (ev->address_key && strlen(ev->address_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        if (ev->caller_key && strlen(ev->caller_key) > HEARTH_SUBJECT_MAX - 8)
                return "field_too_long";
        for (size_t i = 0; i < ev->n_parties; i++)
                if (ev->parties[i]->person_key &&
                    strlen(ev->parties[i]->person_key) > HEARTH_SUBJECT_MAX - 8)
                        return "field_too_long";
        return NULL;
}

/*
 * The subject key of an accepted event must fit HEARTH_SUBJECT_MAX whole:
 * invalid_reason's length limits exist so that snprintf never truncates it.
 */
static void check_subject(const Hearth__V1__IncidentEvent *ev,
                          const char *subject)
{
        const char *key = NULL;

        if (ev->address_key && *ev->address_key)
                key = ev->address_key;
        else if (ev->caller_key && *ev->caller_key)
                key = ev->caller_key;
        for (size_t i = 0; !key && i < ev->n_parties; i++)
                if (ev->parties[i]->role == HEARTH__V1__PARTY_ROLE__VICTIM &&
                    ev->parties[i]->person_key && *ev->parties[i]->person_key)
                        key = ev->parties[i]->person_key;
        if (!key || strlen(subject) != strlen(key) + 2) {
                fprintf(stderr, "fuzz_incident: household key \"%s\" is "
                                "not the expected prefix and key\n", subject);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Hearth__V1__IncidentEvent *ev;
        char subject[HEARTH_SUBJECT_MAX];
        char id[33], topic[256];

        if (size > MAX_MESSAGE_BYTES)
                return -1;
        ev = hearth__v1__incident_event__unpack(NULL, size, data);
        if (!ev)
                return 0;
        if (invalid_reason(ev)) {
                hearth__v1__incident_event__free_unpacked(ev, NULL);
                return 0;
        }
        if (hearth_household_key(ev, subject, sizeof(subject))) {
                check_subject(ev, subject);
                hearth_alert_id("repeat_calls", subject, 3, ev->incident_id,
                                id);
        }
        if (ev->city_code && *ev->city_code)
                hearth_topic_from_template("hearth.alerts.region.{city}",
                                           "{city}", ev->city_code, topic,
                                           sizeof(topic));
        hearth__v1__incident_event__free_unpacked(ev, NULL);
        return 0;
}
