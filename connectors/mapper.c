/*
 * Record to IncidentEvent mapping.
 *
 * Every field of a record is converted to UTF-8 (when the profile names
 * another encoding) or checked to be valid UTF-8, then trimmed. The values
 * are kept in a per-record scratch list that is wiped and freed before the
 * next record, so raw identifiers live only as long as one call.
 */
#include "connectors/mapper.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connectors/text.h"
#include "connectors/timeparse.h"
#include "hearth/v1/incident.pb-c.h"

#define MAX_ID_BYTES 128
#define MAX_CODE_BYTES 64
#define MAX_CATEGORY_BYTES 256

struct hearth_mapper {
        const hearth_profile_t *profile;
        const hearth_pseudo_t *pseudo;
        hearth_text_converter_t *converter;
        char *source_file;
        char **scratch;         /* strings owned for the current record */
        size_t n_scratch, cap_scratch;
        const char **values;    /* trimmed UTF-8 per CSV column */
        size_t cap_values;
};

hearth_mapper_t *hearth_mapper_new(const hearth_profile_t *profile,
                                   const hearth_pseudo_t *pseudo,
                                   const char *source_file, char *errstr,
                                   size_t errstr_size)
{
        hearth_mapper_t *m = calloc(1, sizeof(*m));

        m->profile = profile;
        m->pseudo = pseudo;
        m->source_file = strdup(source_file ? source_file : "-");
        if (profile->encoding && strcasecmp(profile->encoding, "UTF-8") != 0 &&
            strcasecmp(profile->encoding, "UTF8") != 0) {
                m->converter = hearth_text_converter_new(
                        profile->encoding, errstr, errstr_size);
                if (!m->converter) {
                        hearth_mapper_free(m);
                        return NULL;
                }
        }
        return m;
}

static char *scratch_add(hearth_mapper_t *m, char *s)
{
        if (m->n_scratch == m->cap_scratch) {
                m->cap_scratch = m->cap_scratch ? m->cap_scratch * 2 : 64;
                m->scratch = realloc(m->scratch,
                                     m->cap_scratch * sizeof(*m->scratch));
        }
        m->scratch[m->n_scratch++] = s;
        return s;
}

static void scratch_clear(hearth_mapper_t *m)
{
        for (size_t i = 0; i < m->n_scratch; i++) {
                /* Raw identifiers pass through here: wipe before free. */
                memset(m->scratch[i], 0, strlen(m->scratch[i]));
                free(m->scratch[i]);
        }
        m->n_scratch = 0;
}

/* Copies len bytes at s without surrounding white space. */
static char *trimmed_copy(const char *s, size_t len)
{
        char *out;

        while (len > 0 && isspace((unsigned char)*s)) {
                s++;
                len--;
        }
        while (len > 0 && isspace((unsigned char)s[len - 1]))
                len--;
        out = malloc(len + 1);
        memcpy(out, s, len);
        out[len] = '\0';
        return out;
}

/* Converts and checks one raw value; returns NULL and sets err if bad. */
static const char *clean_value(hearth_mapper_t *m, const char *raw,
                               size_t len, hearth_map_error_t *err)
{
        char *utf8 = NULL;
        size_t utf8_len = 0;
        char *out;

        if (m->converter) {
                if (hearth_text_convert(m->converter, raw, len, &utf8,
                                        &utf8_len) != 0) {
                        err->reason = "invalid_encoding";
                        snprintf(err->detail, sizeof(err->detail),
                                 "a field is not valid %s",
                                 m->profile->encoding);
                        return NULL;
                }
                raw = utf8;
                len = utf8_len;
        }
        if (!hearth_utf8_valid(raw, len)) {
                free(utf8);
                err->reason = "invalid_utf8";
                snprintf(err->detail, sizeof(err->detail),
                         "a field is not valid UTF-8");
                return NULL;
        }
        out = scratch_add(m, trimmed_copy(raw, len));
        free(utf8);
        return out;
}

static int load_csv_values(hearth_mapper_t *m, const hearth_row_t *row,
                           hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;

        if (p->expected_columns && row->nfields != p->expected_columns) {
                err->reason = "wrong_column_count";
                snprintf(err->detail, sizeof(err->detail),
                         "record has %zu columns, expected %zu",
                         row->nfields, p->expected_columns);
                return -1;
        }
        if (row->nfields > m->cap_values) {
                m->cap_values = row->nfields;
                m->values = realloc(m->values,
                                    m->cap_values * sizeof(*m->values));
        }
        for (size_t i = 0; i < row->nfields; i++) {
                m->values[i] = clean_value(m, row->fields[i], row->lengths[i],
                                           err);
                if (!m->values[i])
                        return -1;
        }
        return 0;
}

/* Returns the trimmed value a reference points at; "" when absent. */
static const char *get(hearth_mapper_t *m, const hearth_row_t *row,
                       const hearth_field_ref_t *ref, hearth_map_error_t *err)
{
        json_t *v;
        char num[64];

        switch (ref->kind) {
        case HEARTH_REF_NONE:
                return "";
        case HEARTH_REF_VALUE:
                return ref->name;
        default:
                break;
        }
        if (!row->object) {
                if (ref->index < 0 || (size_t)ref->index >= row->nfields)
                        return "";
                return m->values[ref->index];
        }
        v = json_object_get(row->object, ref->name);
        if (!v || json_is_null(v))
                return "";
        if (json_is_string(v))
                return clean_value(m, json_string_value(v),
                                   json_string_length(v), err);
        if (json_is_integer(v))
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
        else if (json_is_real(v))
                snprintf(num, sizeof(num), "%.10g", json_real_value(v));
        else if (json_is_boolean(v))
                snprintf(num, sizeof(num), "%s",
                         json_is_true(v) ? "true" : "false");
        else {
                err->reason = "invalid_field_type";
                snprintf(err->detail, sizeof(err->detail),
                         "field \"%.64s\" is an object or array", ref->name);
                return NULL;
        }
        return scratch_add(m, strdup(num));
}

static bool in_list(char **list, size_t n, const char *s)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(list[i], s) == 0)
                        return true;
        return false;
}

/*
 * Normalizes an address for the household key: ASCII letters upper-cased,
 * runs of white space collapsed to one space, then the profile's
 * strip_regex match removed (e.g. a ",MKE" city suffix).
 */
static char *normalize_address(const hearth_profile_t *p, const char *in)
{
        size_t len = strlen(in);
        char *out = malloc(len + 1);
        size_t n = 0;
        regmatch_t match;

        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)in[i];

                if (isspace(c)) {
                        if (n > 0 && out[n - 1] != ' ')
                                out[n++] = ' ';
                        continue;
                }
                out[n++] = (char)toupper(c);
        }
        while (n > 0 && out[n - 1] == ' ')
                n--;
        out[n] = '\0';
        if (p->has_address_strip &&
            regexec(&p->address_strip, out, 1, &match, 0) == 0 &&
            match.rm_so >= 0) {
                size_t so = (size_t)match.rm_so, eo = (size_t)match.rm_eo;

                memmove(out + so, out + eo, n - eo + 1);
                n -= eo - so;
                while (n > 0 && out[n - 1] == ' ')
                        out[--n] = '\0';
        }
        return out;
}

/* Builds the record's location: address key or withheld flag, coordinates. */
static void map_location(hearth_mapper_t *m, const hearth_row_t *row,
                         Hearth__V1__IncidentEvent *ev,
                         hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        const char *address = get(m, row, &p->address, err);
        double lat = NAN, lon = NAN;
        char key[HEARTH_PSEUDO_MAX_LEN];

        if (address && *address) {
                char *norm = scratch_add(m, normalize_address(p, address));

                if (in_list(p->address_withheld, p->n_address_withheld, norm))
                        ev->location_withheld = true;
                else if (*norm && !in_list(p->address_ignored,
                                           p->n_address_ignored, norm)) {
                        hearth_pseudo_key(m->pseudo, "addr", norm,
                                          strlen(norm), key);
                        ev->address_key = scratch_add(m, strdup(key));
                }
        }
        if (p->lat.kind != HEARTH_REF_NONE) {
                const char *a = get(m, row, &p->lat, err);
                const char *b = get(m, row, &p->lon, err);
                char *end_a, *end_b;

                if (a && b && *a && *b) {
                        lat = strtod(a, &end_a);
                        lon = strtod(b, &end_b);
                        if (*end_a || *end_b)
                                lat = lon = NAN;
                }
        } else if (p->coordinates.kind != HEARTH_REF_NONE) {
                const char *c = get(m, row, &p->coordinates, err);
                const char *open = c ? strrchr(c, '(') : NULL;

                if (!open || sscanf(open, "(%lf ,%lf )", &lat, &lon) != 2)
                        lat = lon = NAN;
        }
        if (isnan(lat) || isnan(lon) || lat < -90 || lat > 90 || lon < -180 ||
            lon > 180)
                return;
        if (p->has_bbox && (lat < p->bbox[0] || lat > p->bbox[1] ||
                            lon < p->bbox[2] || lon > p->bbox[3]))
                return;
        ev->lat = lat;
        ev->lon = lon;
        ev->has_coordinates = true;
}

/*
 * Keeps the digits of a phone number, so "+86 138-0000" and "861380000"
 * pseudonymize alike. NOTE: a country code is kept, so "+86 13800000021"
 * and "13800000021" get different caller keys and are not linked.
 */
static size_t phone_digits(const char *in, char *out, size_t size)
{
        size_t n = 0;

        for (; *in && n + 1 < size; in++)
                if (isdigit((unsigned char)*in))
                        out[n++] = *in;
        out[n] = '\0';
        return n;
}

/* Age on the local calendar date of the event, as birthdays are local. */
static int age_band(int birth_year, int birth_month, int birth_day,
                    int64_t event_time_ms, const char *zone)
{
        int year, month, day, age;

        if (event_time_ms == INT64_MAX ||
            hearth_time_local_date(event_time_ms, zone, &year, &month,
                                   &day) != 0)
                return HEARTH__V1__AGE_BAND__AGE_BAND_UNSPECIFIED;
        age = year - birth_year;
        if (month < birth_month || (month == birth_month && day < birth_day))
                age--;
        if (age < 0 || age > 130)
                return HEARTH__V1__AGE_BAND__AGE_BAND_UNSPECIFIED;
        if (age < 18)
                return HEARTH__V1__AGE_BAND__AGE_UNDER_18;
        if (age < 30)
                return HEARTH__V1__AGE_BAND__AGE_18_29;
        if (age < 45)
                return HEARTH__V1__AGE_BAND__AGE_30_44;
        if (age < 60)
                return HEARTH__V1__AGE_BAND__AGE_45_59;
        return HEARTH__V1__AGE_BAND__AGE_60_PLUS;
}

/*
 * Derives age band and sex from an 18-character resident ID number
 * (GB 11643-1999): characters 7-14 are the birth date, and character 17 is
 * odd for men and even for women.
 */
static void describe_from_id(Hearth__V1__Party *party, const char *id,
                             int64_t event_time_ms, const char *zone)
{
        int y, mo, d;

        if (strlen(id) != 18 || sscanf(id + 6, "%4d%2d%2d", &y, &mo, &d) != 3)
                return;
        for (int i = 0; i < 17; i++)
                if (!isdigit((unsigned char)id[i]))
                        return;
        party->age_band = age_band(y, mo, d, event_time_ms, zone);
        party->minor = party->age_band == HEARTH__V1__AGE_BAND__AGE_UNDER_18;
        party->sex = (id[16] - '0') % 2 ? HEARTH__V1__SEX__MALE
                                        : HEARTH__V1__SEX__FEMALE;
}

static int role_of(const hearth_profile_t *p, const char *name)
{
        for (size_t i = 0; i < p->n_roles; i++)
                if (strcmp(p->roles[i].from, name) == 0)
                        return p->roles[i].to;
        return HEARTH__V1__PARTY_ROLE__PARTY_ROLE_UNSPECIFIED;
}

/* Per-record message storage, so building an event allocates little. */
typedef struct record_msg {
        Hearth__V1__IncidentEvent ev;
        Hearth__V1__Category category;
        Hearth__V1__RiskFlags risk;
        Hearth__V1__Source source;
        Hearth__V1__Party parties[HEARTH_MAPPER_MAX_PARTIES];
        Hearth__V1__Party *party_ptrs[HEARTH_MAPPER_MAX_PARTIES];
} record_msg_t;

static void map_parties(hearth_mapper_t *m, const hearth_row_t *row,
                        record_msg_t *msg, int64_t first_time_ms,
                        hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        const char *list = get(m, row, &p->parties, err);
        char *copy, *save = NULL, *item;
        char key[HEARTH_PSEUDO_MAX_LEN];
        size_t n = 0;

        if (!list || !*list)
                return;
        copy = scratch_add(m, strdup(list));
        for (item = strtok_r(copy, p->party_separator, &save);
             item && n < HEARTH_MAPPER_MAX_PARTIES;
             item = strtok_r(NULL, p->party_separator, &save)) {
                Hearth__V1__Party *party = &msg->parties[n];
                char *sep = strstr(item, p->role_separator);
                char *id = item, *end;

                hearth__v1__party__init(party);
                if (sep) {
                        *sep = '\0';
                        id = sep + strlen(p->role_separator);
                        while (*item == ' ')
                                item++;
                        party->role = role_of(p, item);
                }
                while (isspace((unsigned char)*id))
                        id++;
                end = id + strlen(id);
                while (end > id && isspace((unsigned char)end[-1]))
                        *--end = '\0';
                if (!*id)
                        continue;
                for (char *c = id; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                hearth_pseudo_key(m->pseudo, "person", id, strlen(id), key);
                party->person_key = scratch_add(m, strdup(key));
                if (p->parties_are_cn_id)
                        describe_from_id(party, id, first_time_ms,
                                         p->time_zone);
                msg->party_ptrs[n] = party;
                n++;
        }
        msg->ev.parties = msg->party_ptrs;
        msg->ev.n_parties = n;
}

static bool contains_folded(const char *haystack_lower, const char *keyword)
{
        return strstr(haystack_lower, keyword) != NULL;
}

/*
 * Scans the narrative for risk keywords; the text itself is dropped.
 * NOTE: this is a plain substring search without negation, so "无人受伤"
 * (no one hurt) still sets injury when "受伤" is a keyword.
 */
static uint32_t narrative_flags(hearth_mapper_t *m, const hearth_row_t *row,
                                hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        const char *text = get(m, row, &p->narrative, err);
        uint32_t flags = 0;
        char *lower;

        if (!text || !*text || p->n_keywords == 0)
                return 0;
        lower = scratch_add(m, strdup(text));
        for (char *c = lower; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        for (size_t i = 0; i < p->n_keywords; i++)
                if (contains_folded(lower, p->keywords[i].keyword))
                        flags |= p->keywords[i].flags;
        return flags;
}

static void set_risk(Hearth__V1__RiskFlags *r, uint32_t f)
{
        r->weapon = (f & HEARTH_FLAG_WEAPON) != 0;
        r->firearm = (f & HEARTH_FLAG_FIREARM) != 0;
        r->strangulation = (f & HEARTH_FLAG_STRANGULATION) != 0;
        r->threat_to_kill = (f & HEARTH_FLAG_THREAT_TO_KILL) != 0;
        r->injury = (f & HEARTH_FLAG_INJURY) != 0;
        r->children_present = (f & HEARTH_FLAG_CHILDREN_PRESENT) != 0;
        r->suicide_threat = (f & HEARTH_FLAG_SUICIDE_THREAT) != 0;
        r->victim_fears_death = (f & HEARTH_FLAG_VICTIM_FEARS_DEATH) != 0;
        r->intoxication = (f & HEARTH_FLAG_INTOXICATION) != 0;
        r->pregnancy = (f & HEARTH_FLAG_PREGNANCY) != 0;
        r->separation = (f & HEARTH_FLAG_SEPARATION) != 0;
        r->stalking = (f & HEARTH_FLAG_STALKING) != 0;
        r->escalation = (f & HEARTH_FLAG_ESCALATION) != 0;
}

static bool category_is_domestic(const hearth_profile_t *p, const char *value)
{
        if (p->domestic_all)
                return true;
        if (in_list(p->domestic_values, p->n_domestic_values, value))
                return true;
        return p->has_domestic_regex &&
               regexec(&p->domestic_regex, value, 0, NULL, 0) == 0;
}

static uint32_t category_flags(const hearth_profile_t *p, const char *value)
{
        uint32_t flags = 0;

        for (size_t i = 0; i < p->n_category_flags; i++)
                if (regexec(&p->category_flags[i].re, value, 0, NULL, 0) == 0)
                        flags |= p->category_flags[i].flags;
        return flags;
}

static int disposition_of(const hearth_profile_t *p, const char *value)
{
        if (!*value)
                return HEARTH__V1__DISPOSITION__DISPOSITION_UNSPECIFIED;
        for (size_t i = 0; i < p->n_dispositions; i++)
                if (strcmp(p->dispositions[i].from, value) == 0)
                        return p->dispositions[i].to;
        return HEARTH__V1__DISPOSITION__OTHER_DISPOSITION;
}

static const char *checked(hearth_mapper_t *m, const hearth_row_t *row,
                           const hearth_field_ref_t *ref, size_t max,
                           const char *option, hearth_map_error_t *err)
{
        const char *v = get(m, row, ref, err);

        if (v && strlen(v) > max) {
                err->reason = "field_too_long";
                snprintf(err->detail, sizeof(err->detail),
                         "%s is longer than %zu bytes", option, max);
                return NULL;
        }
        return v;
}

/* Fills the fields every event of the record shares. */
static int map_common(hearth_mapper_t *m, const hearth_row_t *row,
                      record_msg_t *msg, hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        Hearth__V1__IncidentEvent *ev = &msg->ev;
        const char *v[8];
        char key[HEARTH_PSEUDO_MAX_LEN];
        uint32_t flags;

        v[0] = checked(m, row, &p->province, MAX_CODE_BYTES, "province_code",
                       err);
        v[1] = v[0] ? checked(m, row, &p->city, MAX_CODE_BYTES, "city_code",
                              err) : NULL;
        v[2] = v[1] ? checked(m, row, &p->district, MAX_CODE_BYTES,
                              "district_code", err) : NULL;
        v[3] = v[2] ? checked(m, row, &p->station, MAX_CODE_BYTES,
                              "station_code", err) : NULL;
        v[4] = v[3] ? checked(m, row, &p->grid, MAX_CODE_BYTES, "grid_id",
                              err) : NULL;
        v[5] = v[4] ? checked(m, row, &p->category_code, MAX_CATEGORY_BYTES,
                              "category.code", err) : NULL;
        v[6] = v[5] ? checked(m, row, &p->category_text, MAX_CATEGORY_BYTES,
                              "category.text", err) : NULL;
        v[7] = v[6] ? get(m, row, &p->domestic_column, err) : NULL;
        if (!v[7])
                return -1;
        ev->province_code = (char *)v[0];
        ev->city_code = (char *)v[1];
        ev->district_code = (char *)v[2];
        ev->station_code = (char *)v[3];
        ev->grid_id = (char *)v[4];
        msg->category.code = (char *)v[5];
        msg->category.text = (char *)v[6];
        ev->category = &msg->category;
        ev->is_domestic = category_is_domestic(p, v[7]);
        flags = category_flags(p, v[7]);

        map_location(m, row, ev, err);
        v[0] = get(m, row, &p->caller, err);
        if (v[0] && phone_digits(v[0], key, sizeof(key)) > 0) {
                char digits[HEARTH_PSEUDO_MAX_LEN];

                memcpy(digits, key, sizeof(digits));
                hearth_pseudo_key(m->pseudo, "phone", digits, strlen(digits),
                                  key);
                ev->caller_key = scratch_add(m, strdup(key));
        }
        flags |= narrative_flags(m, row, err);
        set_risk(&msg->risk, flags);
        ev->risk = &msg->risk;
        v[0] = get(m, row, &p->disposition, err);
        ev->disposition = v[0] ? disposition_of(p, v[0]) : 0;
        return err->reason ? -1 : 0;
}

static bool event_wanted(hearth_mapper_t *m, const hearth_row_t *row,
                         const hearth_event_spec_t *spec,
                         hearth_map_error_t *err)
{
        const char *v;

        if (spec->when_column.kind == HEARTH_REF_NONE)
                return true;
        v = get(m, row, &spec->when_column, err);
        if (!v)
                return false;
        if (spec->when_nonempty && *v)
                return true;
        return in_list(spec->when_values, spec->n_when_values, v);
}

/* Returns 1 with *ms set, 0 when empty, -1 when it does not parse. */
static int event_time(hearth_mapper_t *m, const hearth_row_t *row,
                      const hearth_time_spec_t *t, int64_t *ms,
                      hearth_map_error_t *err)
{
        const char *zone = m->profile->time_zone;
        const char *date = get(m, row, &t->column, err);
        const char *tod;

        if (!date)
                return -1;
        if (!*date)
                return 0;
        if (t->time_column.kind == HEARTH_REF_NONE)
                return hearth_time_parse(date, t->format, zone, ms) == 0 ? 1
                                                                        : -1;
        tod = get(m, row, &t->time_column, err);
        if (!tod || !*tod)
                return -1;
        return hearth_time_parse_parts(date, t->format, tod, t->time_format,
                                       zone, ms) == 0 ? 1 : -1;
}

static void time_error(const hearth_event_spec_t *spec,
                       hearth_map_error_t *err, int missing)
{
        err->reason = missing ? "missing_time" : "invalid_time";
        snprintf(err->detail, sizeof(err->detail),
                 "%s time in column \"%.40s\" %s \"%.40s\"",
                 protobuf_c_enum_descriptor_get_value(
                         &hearth__v1__event_type__descriptor, spec->type)
                         ->name,
                 spec->time.column.name ? spec->time.column.name : "?",
                 missing ? "is empty; format" : "does not match format",
                 spec->time.format);
}

static int pack_event(record_msg_t *msg, hearth_mapped_event_t *out)
{
        out->payload_len = hearth__v1__incident_event__get_packed_size(&msg->ev);
        out->payload = malloc(out->payload_len ? out->payload_len : 1);
        hearth__v1__incident_event__pack(&msg->ev, out->payload);
        out->key = strdup(msg->ev.district_code);
        out->event_time_ms = msg->ev.event_time_ms;
        out->event_type = msg->ev.event_type;
        out->domestic = msg->ev.is_domestic;
        return 0;
}

static int map_events(hearth_mapper_t *m, const hearth_row_t *row,
                      record_msg_t *msg, hearth_mapped_event_t *out,
                      hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        int64_t times[HEARTH_MAPPER_MAX_EVENTS];
        bool wanted[HEARTH_MAPPER_MAX_EVENTS];
        int64_t first = INT64_MAX;
        int n = 0;

        for (size_t i = 0; i < p->n_events; i++) {
                const hearth_event_spec_t *spec = &p->events[i];
                int rc;

                wanted[i] = !spec->absent && event_wanted(m, row, spec, err);
                if (err->reason)
                        return -1;
                if (!wanted[i])
                        continue;
                rc = event_time(m, row, &spec->time, &times[i], err);
                if (err->reason)
                        return -1;
                if (rc < 0 || (rc == 0 && !spec->optional)) {
                        time_error(spec, err, rc == 0);
                        return -1;
                }
                wanted[i] = rc == 1;
                if (wanted[i] && times[i] < first)
                        first = times[i];
        }
        map_parties(m, row, msg, first, err);
        for (size_t i = 0; i < p->n_events; i++) {
                if (!wanted[i])
                        continue;
                msg->ev.event_type = p->events[i].type;
                msg->ev.event_time_ms = times[i];
                pack_event(msg, &out[n]);
                out[n].record_number = msg->source.record_number;
                n++;
        }
        return n;
}

int hearth_mapper_map(hearth_mapper_t *m, const hearth_row_t *row,
                      uint64_t record_number, int64_t ingest_time_ms,
                      hearth_mapped_event_t *out, hearth_map_error_t *err)
{
        const hearth_profile_t *p = m->profile;
        record_msg_t msg;
        const char *id;
        char *full_id;
        int n = -1;

        memset(err, 0, sizeof(*err));
        hearth__v1__incident_event__init(&msg.ev);
        hearth__v1__category__init(&msg.category);
        hearth__v1__risk_flags__init(&msg.risk);
        hearth__v1__source__init(&msg.source);

        if (!row->object && load_csv_values(m, row, err) != 0)
                goto out;
        id = checked(m, row, &p->incident_id, MAX_ID_BYTES, "incident_id",
                     err);
        if (!id)
                goto out;
        if (!*id) {
                err->reason = "missing_incident_id";
                snprintf(err->detail, sizeof(err->detail),
                         "incident id is empty");
                goto out;
        }
        full_id = scratch_add(m, malloc(strlen(p->incident_prefix) +
                                        strlen(id) + 1));
        strcpy(full_id, p->incident_prefix);
        strcat(full_id, id);
        msg.ev.incident_id = full_id;
        msg.ev.ingest_time_ms = ingest_time_ms;
        msg.source.profile = p->name;
        msg.source.record_number = record_number;
        msg.source.file = m->source_file;
        msg.ev.source = &msg.source;
        if (map_common(m, row, &msg, err) != 0)
                goto out;
        n = map_events(m, row, &msg, out, err);
out:
        if (n < 0 && !err->reason)
                err->reason = "invalid_record";
        scratch_clear(m);
        return n;
}

void hearth_mapped_event_clear(hearth_mapped_event_t *e)
{
        free(e->key);
        free(e->payload);
        memset(e, 0, sizeof(*e));
}

void hearth_mapper_free(hearth_mapper_t *m)
{
        if (!m)
                return;
        scratch_clear(m);
        free(m->scratch);
        free(m->values);
        if (m->converter)
                hearth_text_converter_free(m->converter);
        free(m->source_file);
        free(m);
}
