/*
 * JSON and text forms of Alert and IncidentEvent messages.
 *
 * The JSON conversion walks the protobuf-c descriptors, so a field added to
 * the .proto files shows up here without a code change.
 */
#include "engine/alertfmt.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLOR_RESET "\033[0m"

/* Fields whose ISO 8601 twin ("window_start" for "window_start_ms") is
 * added next to them. */
static const char *const alert_time_fields[] = {
        "window_start_ms", "window_end_ms", "event_time_ms", NULL};
static const char *const incident_time_fields[] = {
        "event_time_ms", "ingest_time_ms", NULL};
static const char *const tag_time_fields[] = {
        "expires_at_ms", "event_time_ms", NULL};

static json_t *message_to_json(const ProtobufCMessage *m,
                               const char *const *time_fields);

int hearth_format_utc_ms(int64_t ms, char *buf, size_t size)
{
        int64_t seconds = ms / 1000, millis = ms % 1000;
        time_t t;
        struct tm tm;

        if (size > 0)
                buf[0] = '\0';
        if (size < HEARTH_UTC_TIME_SIZE)
                return -1;
        if (millis < 0) {               /* floor division for times < 1970 */
                millis += 1000;
                seconds--;
        }
        t = (time_t)seconds;
        if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 8099)
                return -1;
        if (millis == 0)
                snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec);
        else
                snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                         tm.tm_hour, tm.tm_min, tm.tm_sec, (int)millis);
        return 0;
}

const char *hearth_enum_name(const ProtobufCEnumDescriptor *desc, int value)
{
        const ProtobufCEnumValue *v =
                protobuf_c_enum_descriptor_get_value(desc, value);

        return v ? v->name : NULL;
}

/*
 * Returns a JSON string for s. jansson accepts only UTF-8, so a string
 * with an invalid sequence is written with every non-ASCII byte as '?'.
 */
static json_t *json_text(const char *s)
{
        json_t *value;
        char *copy;

        if (!s)
                return json_string("");
        value = json_string(s);
        if (value)
                return value;
        copy = strdup(s);
        if (!copy)
                return NULL;
        for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80)
                        *p = '?';
        value = json_string(copy);
        free(copy);
        return value;
}

/* JSON has no NaN or infinity, so those become null. */
static json_t *json_number(double v)
{
        return isfinite(v) ? json_real(v) : json_null();
}

static json_t *json_enum(const ProtobufCEnumDescriptor *desc, int value)
{
        const char *name = hearth_enum_name(desc, value);

        return name ? json_string(name) : json_integer(value);
}

static json_t *json_unsigned(uint64_t v)
{
        if (v > (uint64_t)INT64_MAX)
                return json_real((double)v);
        return json_integer((json_int_t)v);
}

/* Encodes bytes as standard base64, as the proto3 JSON mapping does. */
static json_t *json_bytes(const ProtobufCBinaryData *b)
{
        char *text = malloc(4 * ((b->len + 2) / 3) + 1);
        json_t *value;

        if (!text)
                return NULL;
        EVP_EncodeBlock((unsigned char *)text, b->data, (int)b->len);
        value = json_string(text);
        free(text);
        return value;
}

static json_t *json_time(int64_t ms)
{
        char iso[HEARTH_UTC_TIME_SIZE];

        if (hearth_format_utc_ms(ms, iso, sizeof(iso)) != 0)
                return json_null();
        return json_string(iso);
}

/* Converts one value of field stored at ptr. */
static json_t *value_to_json(const ProtobufCFieldDescriptor *field,
                             const void *ptr)
{
        const ProtobufCMessage *sub;

        switch (field->type) {
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_SINT32:
        case PROTOBUF_C_TYPE_SFIXED32:
                return json_integer(*(const int32_t *)ptr);
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_FIXED32:
                return json_integer(*(const uint32_t *)ptr);
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
                return json_integer(*(const int64_t *)ptr);
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
                return json_unsigned(*(const uint64_t *)ptr);
        case PROTOBUF_C_TYPE_FLOAT:
                return json_number(*(const float *)ptr);
        case PROTOBUF_C_TYPE_DOUBLE:
                return json_number(*(const double *)ptr);
        case PROTOBUF_C_TYPE_BOOL:
                return json_boolean(*(const protobuf_c_boolean *)ptr);
        case PROTOBUF_C_TYPE_ENUM:
                return json_enum(field->descriptor, *(const int *)ptr);
        case PROTOBUF_C_TYPE_STRING:
                return json_text(*(char *const *)ptr);
        case PROTOBUF_C_TYPE_BYTES:
                return json_bytes(ptr);
        case PROTOBUF_C_TYPE_MESSAGE:
                sub = *(const ProtobufCMessage *const *)ptr;
                return sub ? message_to_json(sub, NULL) : json_null();
        }
        return json_null();
}

/* Size of one element of a repeated field of this type. */
static size_t element_size(ProtobufCType type)
{
        switch (type) {
        case PROTOBUF_C_TYPE_INT64:
        case PROTOBUF_C_TYPE_SINT64:
        case PROTOBUF_C_TYPE_SFIXED64:
        case PROTOBUF_C_TYPE_UINT64:
        case PROTOBUF_C_TYPE_FIXED64:
        case PROTOBUF_C_TYPE_DOUBLE:
                return 8;
        case PROTOBUF_C_TYPE_BOOL:
                return sizeof(protobuf_c_boolean);
        case PROTOBUF_C_TYPE_STRING:
                return sizeof(char *);
        case PROTOBUF_C_TYPE_BYTES:
                return sizeof(ProtobufCBinaryData);
        case PROTOBUF_C_TYPE_MESSAGE:
                return sizeof(ProtobufCMessage *);
        default:
                return 4;
        }
}

static json_t *repeated_to_json(const ProtobufCMessage *m,
                                const ProtobufCFieldDescriptor *field)
{
        const char *base = (const char *)m;
        size_t n = *(const size_t *)(base + field->quantifier_offset);
        const char *items = *(const char *const *)(base + field->offset);
        size_t step = element_size(field->type);
        json_t *array = json_array();
        int rc = array ? 0 : -1;

        for (size_t i = 0; rc == 0 && i < n; i++)
                rc = json_array_append_new(array,
                                           value_to_json(field,
                                                         items + i * step));
        if (rc != 0) {
                json_decref(array);
                return NULL;
        }
        return array;
}

/* Returns 0 for an unset oneof member or proto3 optional field. */
static int field_present(const ProtobufCMessage *m,
                         const ProtobufCFieldDescriptor *field)
{
        const char *base = (const char *)m;

        if (field->label != PROTOBUF_C_LABEL_OPTIONAL)
                return 1;
        if (field->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                return *(const uint32_t *)(base + field->quantifier_offset) ==
                       field->id;
        if (field->type == PROTOBUF_C_TYPE_STRING ||
            field->type == PROTOBUF_C_TYPE_MESSAGE)
                return *(void *const *)(base + field->offset) != NULL;
        return *(const protobuf_c_boolean *)(base + field->quantifier_offset);
}

static int is_time_field(const char *name, const char *const *time_fields)
{
        for (size_t i = 0; time_fields && time_fields[i]; i++)
                if (strcmp(name, time_fields[i]) == 0)
                        return 1;
        return 0;
}

/* Sets the field's value, and its ISO 8601 twin for a time field. */
static int add_field(json_t *obj, const ProtobufCMessage *m,
                     const ProtobufCFieldDescriptor *field,
                     const char *const *time_fields)
{
        const char *base = (const char *)m;
        char iso_key[128];
        json_t *value;

        if (field->label == PROTOBUF_C_LABEL_REPEATED)
                value = repeated_to_json(m, field);
        else if (!field_present(m, field))
                value = json_null();
        else
                value = value_to_json(field, base + field->offset);
        if (json_object_set_new(obj, field->name, value) != 0)
                return -1;
        if (!is_time_field(field->name, time_fields))
                return 0;
        /* The twin's name is the field name without "_ms". */
        snprintf(iso_key, sizeof(iso_key), "%.*s",
                 (int)strlen(field->name) - 3, field->name);
        return json_object_set_new(
                obj, iso_key, json_time(*(const int64_t *)(base +
                                                           field->offset)));
}

/* Converts every field of m in declaration order. */
static json_t *message_to_json(const ProtobufCMessage *m,
                               const char *const *time_fields)
{
        const ProtobufCMessageDescriptor *desc = m->descriptor;
        json_t *obj = json_object();

        if (!obj)
                return NULL;
        for (unsigned i = 0; i < desc->n_fields; i++) {
                if (add_field(obj, m, &desc->fields[i], time_fields) != 0) {
                        json_decref(obj);
                        return NULL;
                }
        }
        return obj;
}

json_t *hearth_alert_to_json(const Hearth__V1__Alert *a)
{
        return a ? message_to_json(&a->base, alert_time_fields) : NULL;
}

json_t *hearth_incident_to_json(const Hearth__V1__IncidentEvent *e)
{
        return e ? message_to_json(&e->base, incident_time_fields) : NULL;
}

json_t *hearth_tag_to_json(const Hearth__V1__Tag *t)
{
        return t ? message_to_json(&t->base, tag_time_fields) : NULL;
}

/* Output buffer that, like snprintf, counts what does not fit. */
typedef struct line {
        char *buf;
        size_t size;
        size_t len;
} line_t;

static void line_printf(line_t *l, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void line_printf(line_t *l, const char *fmt, ...)
{
        size_t room = l->len < l->size ? l->size - l->len : 0;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(room ? l->buf + l->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n > 0)
                l->len += (size_t)n;
}

/* Appends s with control characters as spaces, so that text from the
 * message can neither break the line nor send terminal escapes. */
static void line_text(line_t *l, const char *s)
{
        for (; s && *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (l->len + 1 < l->size)
                        l->buf[l->len] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
                l->len++;
        }
        if (l->size > 0)
                l->buf[l->len < l->size ? l->len : l->size - 1] = '\0';
}

/* Appends s, or "-" when s is empty. */
static void line_code(line_t *l, const char *s)
{
        line_text(l, s && *s ? s : "-");
}

static const char *priority_color(Hearth__V1__Priority p)
{
        switch (p) {
        case HEARTH__V1__PRIORITY__P1: return "\033[1;31m";
        case HEARTH__V1__PRIORITY__P2: return "\033[31m";
        case HEARTH__V1__PRIORITY__P3: return "\033[33m";
        case HEARTH__V1__PRIORITY__P4: return "\033[36m";
        default: return NULL;
        }
}

static void line_window(line_t *l, const Hearth__V1__Alert *a)
{
        char start[HEARTH_UTC_TIME_SIZE], end[HEARTH_UTC_TIME_SIZE];

        if (hearth_format_utc_ms(a->window_start_ms, start, sizeof(start)))
                strcpy(start, "?");
        if (hearth_format_utc_ms(a->window_end_ms, end, sizeof(end)))
                strcpy(end, "?");
        line_printf(l, " window=%s/%s", start, end);
}

static void line_incidents(line_t *l, const Hearth__V1__Alert *a)
{
        size_t listed = a->n_incident_ids;

        if (listed == 0)
                return;
        if (listed > HEARTH_ALERT_LINE_MAX_IDS)
                listed = HEARTH_ALERT_LINE_MAX_IDS;
        line_printf(l, " incidents=");
        for (size_t i = 0; i < listed; i++) {
                if (i > 0)
                        line_printf(l, ",");
                line_text(l, a->incident_ids[i]);
        }
        if (a->n_incident_ids > listed)
                line_printf(l, " +%zu more", a->n_incident_ids - listed);
}

int hearth_alert_format_line(const Hearth__V1__Alert *a, int color, char *buf,
                             size_t size)
{
        line_t l = {buf, size, 0};
        const char *ansi = color ? priority_color(a->priority) : NULL;
        const char *priority =
                hearth_enum_name(&hearth__v1__priority__descriptor,
                                 (int)a->priority);

        if (size > 0)
                buf[0] = '\0';
        if (ansi)
                line_printf(&l, "%s", ansi);
        if (priority)
                line_printf(&l, "%s ", priority);
        else
                line_printf(&l, "priority=%d ", (int)a->priority);
        line_code(&l, a->model);
        line_printf(&l, " region=");
        line_code(&l, a->city_code);
        line_printf(&l, "/");
        line_code(&l, a->district_code);
        line_printf(&l, " count=%u", (unsigned)a->count);
        line_window(&l, a);
        if (a->n_reasons > 0 && a->reasons[0] && a->reasons[0]->text) {
                line_printf(&l, " \"");
                line_text(&l, a->reasons[0]->text);
                line_printf(&l, "\"");
        }
        line_incidents(&l, a);
        if (ansi)
                line_printf(&l, "%s", COLOR_RESET);
        return (int)l.len;
}
