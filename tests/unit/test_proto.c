/*
 * Round trip of every field of IncidentEvent and Alert, driven by the
 * protobuf-c descriptors: a field added to the schema is covered without
 * changing this file. Each field gets a value that differs from its
 * default and from every other field's value, so a field lost or swapped
 * in packing is caught.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

/* Storage for nested messages and strings made while filling. */
static void *allocations[256];
static size_t n_allocations;

static void *keep(void *p)
{
        ck_assert_uint_lt(n_allocations, 256);
        allocations[n_allocations++] = p;
        return p;
}

static void free_kept(void)
{
        while (n_allocations > 0)
                free(allocations[--n_allocations]);
}

static void fill(ProtobufCMessage *msg, int seed);

/* Sets one value of field f at address at; seed makes it unique. */
static void fill_value(const ProtobufCFieldDescriptor *f, void *at, int seed)
{
        char *text;

        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
                text = keep(malloc(32));
                snprintf(text, 32, "%s-%d", f->name, seed);
                *(char **)at = text;
                break;
        case PROTOBUF_C_TYPE_BOOL:
                *(protobuf_c_boolean *)at = 1;
                break;
        case PROTOBUF_C_TYPE_ENUM: {
                const ProtobufCEnumDescriptor *e = f->descriptor;

                *(int *)at = e->values[e->n_values - 1].value;
                break;
        }
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                *(int64_t *)at = 1700000000000LL + seed;
                break;
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                *(uint64_t *)at = 9000000000ULL + (uint64_t)seed;
                break;
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                *(uint32_t *)at = 1000u + (uint32_t)seed;
                break;
        case PROTOBUF_C_TYPE_DOUBLE:
                *(double *)at = 0.5 + seed;
                break;
        case PROTOBUF_C_TYPE_FLOAT:
                *(float *)at = 0.25f + (float)seed;
                break;
        case PROTOBUF_C_TYPE_MESSAGE: {
                const ProtobufCMessageDescriptor *d = f->descriptor;
                ProtobufCMessage *sub = keep(calloc(1, d->sizeof_message));

                d->message_init(sub);
                fill(sub, seed * 100);
                *(ProtobufCMessage **)at = sub;
                break;
        }
        default:
                ck_abort_msg("field %s has a type this test does not fill",
                             f->name);
        }
}

/* Size of one element of a repeated field, as protobuf-c stores it. */
static size_t element_size(const ProtobufCFieldDescriptor *f)
{
        switch (f->type) {
        case PROTOBUF_C_TYPE_STRING:
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(void *);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        default:
                return 4;
        }
}

static void fill(ProtobufCMessage *msg, int seed)
{
        const ProtobufCMessageDescriptor *d = msg->descriptor;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                char *base = (char *)msg;

                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        size_t size = element_size(f);
                        char *items = keep(calloc(2, size));

                        fill_value(f, items, seed + (int)i * 10 + 1);
                        fill_value(f, items + size, seed + (int)i * 10 + 2);
                        *(size_t *)(base + f->quantifier_offset) = 2;
                        *(void **)(base + f->offset) = items;
                } else {
                        fill_value(f, base + f->offset, seed + (int)i + 1);
                }
        }
}

/* Checks that every field of msg, recursively, still has a value. */
static void check_all_set(const ProtobufCMessage *msg)
{
        const ProtobufCMessageDescriptor *d = msg->descriptor;

        for (unsigned i = 0; i < d->n_fields; i++) {
                const ProtobufCFieldDescriptor *f = &d->fields[i];
                const char *base = (const char *)msg;

                if (f->label == PROTOBUF_C_LABEL_REPEATED) {
                        ck_assert_msg(*(const size_t *)(base +
                                                        f->quantifier_offset) ==
                                              2,
                                      "repeated field %s lost items", f->name);
                        continue;
                }
                if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
                        const ProtobufCMessage *sub =
                                *(ProtobufCMessage *const *)(base + f->offset);

                        ck_assert_msg(sub != NULL, "message %s lost", f->name);
                        check_all_set(sub);
                } else if (f->type == PROTOBUF_C_TYPE_STRING) {
                        const char *s = *(char *const *)(base + f->offset);

                        ck_assert_msg(s && strstr(s, f->name) == s,
                                      "string %s lost or swapped", f->name);
                }
        }
}

static void round_trip(const ProtobufCMessageDescriptor *d)
{
        ProtobufCMessage *msg = keep(calloc(1, d->sizeof_message));
        ProtobufCMessage *back;
        uint8_t *first, *second;
        size_t len, len2;

        d->message_init(msg);
        fill(msg, 0);
        len = protobuf_c_message_get_packed_size(msg);
        first = keep(malloc(len));
        protobuf_c_message_pack(msg, first);

        back = protobuf_c_message_unpack(d, NULL, len, first);
        ck_assert_ptr_nonnull(back);
        check_all_set(back);
        len2 = protobuf_c_message_get_packed_size(back);
        ck_assert_uint_eq(len2, len);
        second = keep(malloc(len2));
        protobuf_c_message_pack(back, second);
        ck_assert_mem_eq(first, second, len);
        protobuf_c_message_free_unpacked(back, NULL);
        free_kept();
}

START_TEST(incident_event_round_trip)
{
        round_trip(&hearth__v1__incident_event__descriptor);
}
END_TEST

START_TEST(alert_round_trip)
{
        round_trip(&hearth__v1__alert__descriptor);
}
END_TEST

START_TEST(incident_event_field_values)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;
        Hearth__V1__IncidentEvent *back;
        uint8_t buf[256];
        size_t len;

        ev.incident_id = "JQ-0001";
        ev.event_type = HEARTH__V1__EVENT_TYPE__WARNING_ISSUED;
        ev.event_time_ms = 1525150814000;
        ev.lat = 43.05;
        ev.location_withheld = 1;
        len = hearth__v1__incident_event__pack(&ev, buf);
        back = hearth__v1__incident_event__unpack(NULL, len, buf);
        ck_assert_ptr_nonnull(back);
        ck_assert_str_eq(back->incident_id, "JQ-0001");
        ck_assert_int_eq(back->event_type,
                         HEARTH__V1__EVENT_TYPE__WARNING_ISSUED);
        ck_assert_int_eq(back->event_time_ms, 1525150814000);
        ck_assert_double_eq(back->lat, 43.05);
        ck_assert(back->location_withheld);
        ck_assert_str_eq(back->district_code, "");
        hearth__v1__incident_event__free_unpacked(back, NULL);
}
END_TEST

Suite *hearth_test_proto_suite(void)
{
        Suite *s = suite_create("proto");
        TCase *tc = tcase_create("round_trip");

        tcase_add_test(tc, incident_event_round_trip);
        tcase_add_test(tc, alert_round_trip);
        tcase_add_test(tc, incident_event_field_values);
        suite_add_tcase(s, tc);
        return s;
}
