/*
 * Loading and validation of connector profiles (JSON, through jansson).
 * Every error names the option that is wrong, as "profile NAME: option: …".
 */
#include "connectors/profile.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/timeparse.h"
#include "hearth/v1/incident.pb-c.h"

static const char *flag_names[HEARTH_FLAG_COUNT] = {
        "weapon",           "firearm",         "strangulation",
        "threat_to_kill",   "injury",          "children_present",
        "suicide_threat",   "victim_fears_death", "intoxication",
        "pregnancy",        "separation",      "stalking",
        "escalation"};

uint32_t hearth_flag_from_name(const char *name)
{
        for (int i = 0; i < HEARTH_FLAG_COUNT; i++)
                if (strcmp(name, flag_names[i]) == 0)
                        return 1u << i;
        return 0;
}

/* Loader state: the profile under construction and the error buffer. */
typedef struct loader {
        hearth_profile_t *p;
        char *errstr;
        size_t errstr_size;
        int failed;
} loader_t;

static void fail(loader_t *l, const char *option, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void fail(loader_t *l, const char *option, const char *fmt, ...)
{
        char msg[256];
        va_list ap;

        if (l->failed)
                return;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(l->errstr, l->errstr_size, "profile %s: %s: %s",
                 l->p->name ? l->p->name : "(unnamed)", option, msg);
        l->failed = 1;
}

static char *get_string(loader_t *l, json_t *obj, const char *key,
                        const char *option, const char *def)
{
        json_t *v = json_object_get(obj, key);

        if (!v)
                return def ? strdup(def) : NULL;
        if (!json_is_string(v)) {
                fail(l, option, "must be a string");
                return NULL;
        }
        return strdup(json_string_value(v));
}

/*
 * Rejects a key of obj that is not in known (NULL-terminated), so that a
 * misspelled option such as "withheld_value" fails instead of being
 * ignored. Does nothing when obj is not an object.
 */
static void check_keys_in(loader_t *l, json_t *obj, const char *option,
                          const char *const *known)
{
        const char *key;
        json_t *v;

        if (!json_is_object(obj))
                return;
        json_object_foreach(obj, key, v)
        {
                size_t i = 0;

                while (known[i] && strcmp(known[i], key) != 0)
                        i++;
                if (!known[i]) {
                        fail(l, option, "unknown option \"%s\"; see "
                                        "connectors/profiles/README.md",
                             key);
                        return;
                }
        }
}

static const char *const ref_keys[] = {"column", "index", "value", NULL};

/* A reference is "name", {"column": "name"}, {"index": n} or {"value": "c"}. */
static void parse_ref(loader_t *l, json_t *v, const char *option,
                      hearth_field_ref_t *ref)
{
        json_t *x;

        ref->kind = HEARTH_REF_NONE;
        ref->index = -1;
        if (!v || json_is_null(v))
                return;
        check_keys_in(l, v, option, ref_keys);
        if (json_is_string(v)) {
                ref->kind = HEARTH_REF_COLUMN;
                ref->name = strdup(json_string_value(v));
        } else if (!json_is_object(v)) {
                fail(l, option, "must be a column name or an object with "
                                "\"column\", \"index\" or \"value\"");
        } else if ((x = json_object_get(v, "column")) && json_is_string(x)) {
                ref->kind = HEARTH_REF_COLUMN;
                ref->name = strdup(json_string_value(x));
        } else if ((x = json_object_get(v, "index")) && json_is_integer(x) &&
                   json_integer_value(x) >= 0 &&
                   json_integer_value(x) < HEARTH_CSV_DEFAULT_MAX_FIELDS) {
                ref->kind = HEARTH_REF_INDEX;
                ref->index = (int)json_integer_value(x);
        } else if ((x = json_object_get(v, "value")) && json_is_string(x)) {
                ref->kind = HEARTH_REF_VALUE;
                ref->name = strdup(json_string_value(x));
        } else {
                fail(l, option, "needs \"column\" (string), \"index\" "
                                "(0 to %d) or \"value\" (string)",
                     HEARTH_CSV_DEFAULT_MAX_FIELDS - 1);
        }
}

static char **parse_string_list(loader_t *l, json_t *v, const char *option,
                                size_t *n, int normalize)
{
        char **list;
        size_t i;
        json_t *item;

        *n = 0;
        if (!v)
                return NULL;
        if (!json_is_array(v)) {
                fail(l, option, "must be an array of strings");
                return NULL;
        }
        list = calloc(json_array_size(v) + 1, sizeof(*list));
        json_array_foreach(v, i, item)
        {
                if (!json_is_string(item)) {
                        fail(l, option, "item %zu must be a string", i);
                        break;
                }
                list[(*n)++] = strdup(json_string_value(item));
                if (normalize)
                        for (char *c = list[*n - 1]; *c; c++)
                                *c = (char)toupper((unsigned char)*c);
        }
        return list;
}

/* Returns true when re was compiled, and so must be freed with regfree. */
/*
 * Rejects patterns that make glibc's regcomp use memory exponentially:
 * stacked quantifiers such as "a++++" (undefined in POSIX extended
 * syntax anyway) and very long patterns.
 */
static bool regex_acceptable(loader_t *l, const char *pattern,
                             const char *option)
{
        const char *quantifiers = "*+?{";

        if (strlen(pattern) > 512) {
                fail(l, option, "regular expression is longer than 512 "
                                "bytes");
                return false;
        }
        for (const char *c = pattern; *c && c[1]; c++) {
                if (*c == '\\') {
                        c++;    /* an escaped character is a literal */
                        continue;
                }
                if ((strchr(quantifiers, *c) || *c == '}') &&
                    strchr(quantifiers, c[1])) {
                        fail(l, option, "regular expression has a quantifier "
                                        "right after another");
                        return false;
                }
        }
        return true;
}

static bool compile_regex_flags(loader_t *l, regex_t *re, const char *pattern,
                                const char *option, int cflags)
{
        char msg[128];
        int rc;

        if (!regex_acceptable(l, pattern, option))
                return false;
        rc = regcomp(re, pattern, REG_EXTENDED | cflags);

        if (rc != 0) {
                regerror(rc, re, msg, sizeof(msg));
                fail(l, option, "invalid regular expression: %s", msg);
        }
        return rc == 0;
}

static bool compile_regex(loader_t *l, regex_t *re, const char *pattern,
                          const char *option)
{
        return compile_regex_flags(l, re, pattern, option, REG_NOSUB);
}

static uint32_t parse_flag_list(loader_t *l, json_t *v, const char *option)
{
        uint32_t flags = 0;
        size_t i;
        json_t *item;

        if (!json_is_array(v)) {
                fail(l, option, "must be an array of risk flag names");
                return 0;
        }
        json_array_foreach(v, i, item)
        {
                uint32_t bit = json_is_string(item)
                                       ? hearth_flag_from_name(
                                                 json_string_value(item))
                                       : 0;

                if (!bit) {
                        fail(l, option, "unknown risk flag at item %zu; "
                                        "known flags: weapon, firearm, "
                                        "strangulation, threat_to_kill, "
                                        "injury, children_present, "
                                        "suicide_threat, victim_fears_death, "
                                        "intoxication, pregnancy, separation, "
                                        "stalking, escalation",
                             i);
                        return 0;
                }
                flags |= bit;
        }
        return flags;
}

static void parse_time_spec(loader_t *l, json_t *v, const char *option,
                            hearth_time_spec_t *t)
{
        char opt[96];

        if (!json_is_object(v)) {
                fail(l, option, "must be an object with \"column\" and "
                                "\"format\"");
                return;
        }
        check_keys_in(l, v, option,
                      (const char *const[]){"column", "index", "format",
                                            "time_column", "time_format",
                                            NULL});
        snprintf(opt, sizeof(opt), "%s.column", option);
        parse_ref(l, json_object_get(v, "column"), opt, &t->column);
        if (!l->failed && t->column.kind == HEARTH_REF_NONE)
                parse_ref(l, json_object_get(v, "index"), opt, &t->column);
        if (!l->failed && t->column.kind == HEARTH_REF_NONE)
                fail(l, opt, "is required");
        snprintf(opt, sizeof(opt), "%s.format", option);
        t->format = get_string(l, v, "format", opt, "iso8601");
        snprintf(opt, sizeof(opt), "%s.time_column", option);
        parse_ref(l, json_object_get(v, "time_column"), opt, &t->time_column);
        snprintf(opt, sizeof(opt), "%s.time_format", option);
        t->time_format = get_string(l, v, "time_format", opt, "%H:%M");
}

static int event_type_from_name(const char *name)
{
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
                &hearth__v1__event_type__descriptor, name);

        return v && v->value != 0 ? v->value : -1;
}

static void parse_events(loader_t *l, json_t *v)
{
        size_t i;
        json_t *item;
        char opt[64];

        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > 16) {
                fail(l, "events", "must be an array of 1 to 16 event specs");
                return;
        }
        l->p->events = calloc(json_array_size(v), sizeof(*l->p->events));
        json_array_foreach(v, i, item)
        {
                hearth_event_spec_t *e = &l->p->events[i];
                json_t *when;
                char *type;

                l->p->n_events = i + 1;
                snprintf(opt, sizeof(opt), "events[%zu]", i);
                check_keys_in(l, item, opt,
                              (const char *const[]){"type", "time",
                                                    "optional", "when", NULL});
                snprintf(opt, sizeof(opt), "events[%zu].type", i);
                type = get_string(l, item, "type", opt, NULL);
                e->type = type ? event_type_from_name(type) : -1;
                free(type);
                if (e->type < 0) {
                        fail(l, opt, "must be an EventType name such as "
                                     "CALL_RECEIVED or DISPATCHED");
                        return;
                }
                snprintf(opt, sizeof(opt), "events[%zu].time", i);
                parse_time_spec(l, json_object_get(item, "time"), opt,
                                &e->time);
                e->optional = json_is_true(json_object_get(item, "optional"));
                when = json_object_get(item, "when");
                if (!when)
                        continue;
                snprintf(opt, sizeof(opt), "events[%zu].when", i);
                check_keys_in(l, when, opt,
                              (const char *const[]){"column", "values",
                                                    "nonempty", NULL});
                parse_ref(l, json_object_get(when, "column"), opt,
                          &e->when_column);
                e->when_values = parse_string_list(
                        l, json_object_get(when, "values"), opt,
                        &e->n_when_values, 0);
                e->when_nonempty = json_is_true(json_object_get(when, "nonempty"));
        }
}

static void parse_domestic(loader_t *l, json_t *v)
{
        hearth_profile_t *p = l->p;
        char *pattern;

        if (json_is_true(v)) {
                p->domestic_all = true;
                return;
        }
        if (!json_is_object(v)) {
                fail(l, "domestic", "must be true or an object with "
                                    "\"column\" and \"values\" or \"regex\"");
                return;
        }
        check_keys_in(l, v, "domestic",
                      (const char *const[]){"column", "values", "regex",
                                            NULL});
        parse_ref(l, json_object_get(v, "column"), "domestic.column",
                  &p->domestic_column);
        if (!l->failed && p->domestic_column.kind == HEARTH_REF_NONE)
                fail(l, "domestic.column", "is required");
        p->domestic_values = parse_string_list(
                l, json_object_get(v, "values"), "domestic.values",
                &p->n_domestic_values, 0);
        pattern = get_string(l, v, "regex", "domestic.regex", NULL);
        if (pattern) {
                p->has_domestic_regex = compile_regex(
                        l, &p->domestic_regex, pattern, "domestic.regex");
                free(pattern);
        }
}

static void parse_category_flags(loader_t *l, json_t *v)
{
        size_t i;
        json_t *item;
        char opt[64];

        if (!v)
                return;
        if (!json_is_array(v)) {
                fail(l, "category_flags", "must be an array of "
                                          "{\"regex\", \"flags\"}");
                return;
        }
        l->p->category_flags = calloc(json_array_size(v) + 1,
                                      sizeof(*l->p->category_flags));
        json_array_foreach(v, i, item)
        {
                hearth_pattern_rule_t *r = &l->p->category_flags[i];
                char *pattern;

                snprintf(opt, sizeof(opt), "category_flags[%zu]", i);
                check_keys_in(l, item, opt,
                              (const char *const[]){"regex", "flags", NULL});
                snprintf(opt, sizeof(opt), "category_flags[%zu].regex", i);
                pattern = get_string(l, item, "regex", opt, NULL);
                if (!pattern) {
                        fail(l, opt, "is required");
                        return;
                }
                if (compile_regex(l, &r->re, pattern, opt))
                        l->p->n_category_flags = i + 1;
                free(pattern);
                if (l->failed)
                        return;
                snprintf(opt, sizeof(opt), "category_flags[%zu].flags", i);
                r->flags = parse_flag_list(l, json_object_get(item, "flags"),
                                           opt);
        }
}

static void parse_address(loader_t *l, json_t *v)
{
        hearth_profile_t *p = l->p;
        char *pattern;

        if (!v)
                return;
        if (json_is_string(v)) {
                parse_ref(l, v, "address", &p->address);
                return;
        }
        check_keys_in(l, v, "address",
                      (const char *const[]){"column", "strip_regex",
                                            "withheld_values",
                                            "ignored_values", NULL});
        parse_ref(l, json_object_get(v, "column"), "address.column",
                  &p->address);
        pattern = get_string(l, v, "strip_regex", "address.strip_regex", NULL);
        if (pattern) {
                p->has_address_strip = compile_regex_flags(
                        l, &p->address_strip, pattern, "address.strip_regex",
                        0);
                free(pattern);
        }
        p->address_withheld = parse_string_list(
                l, json_object_get(v, "withheld_values"),
                "address.withheld_values", &p->n_address_withheld, 1);
        p->address_ignored = parse_string_list(
                l, json_object_get(v, "ignored_values"),
                "address.ignored_values", &p->n_address_ignored, 1);
}

static void parse_coordinates(loader_t *l, json_t *v)
{
        hearth_profile_t *p = l->p;
        json_t *bbox;

        if (!v)
                return;
        check_keys_in(l, v, "coordinates",
                      (const char *const[]){"lat", "lon", "column", "bbox",
                                            NULL});
        parse_ref(l, json_object_get(v, "lat"), "coordinates.lat", &p->lat);
        parse_ref(l, json_object_get(v, "lon"), "coordinates.lon", &p->lon);
        parse_ref(l, json_object_get(v, "column"), "coordinates.column",
                  &p->coordinates);
        if ((p->lat.kind == HEARTH_REF_NONE) != (p->lon.kind == HEARTH_REF_NONE))
                fail(l, "coordinates", "needs both \"lat\" and \"lon\"");
        bbox = json_object_get(v, "bbox");
        if (!bbox)
                return;
        if (!json_is_array(bbox) || json_array_size(bbox) != 4) {
                fail(l, "coordinates.bbox",
                     "must be [lat_min, lat_max, lon_min, lon_max]");
                return;
        }
        for (int i = 0; i < 4; i++) {
                json_t *x = json_array_get(bbox, (size_t)i);

                if (!json_is_number(x)) {
                        fail(l, "coordinates.bbox", "item %d must be a number",
                             i);
                        return;
                }
                p->bbox[i] = json_number_value(x);
        }
        if (p->bbox[0] >= p->bbox[1] || p->bbox[2] >= p->bbox[3] ||
            p->bbox[0] < -90 || p->bbox[1] > 90 || p->bbox[2] < -180 ||
            p->bbox[3] > 180)
                fail(l, "coordinates.bbox", "minimum must be below maximum, "
                                            "within -90..90 and -180..180");
        p->has_bbox = true;
}

/* Parses {"from": "ENUM_NAME", ...} into a value map using descriptor d. */
static hearth_value_map_t *parse_value_map(loader_t *l, json_t *v,
                                           const char *option,
                                           const ProtobufCEnumDescriptor *d,
                                           size_t *n)
{
        hearth_value_map_t *map;
        const char *from;
        json_t *to;

        *n = 0;
        if (!v)
                return NULL;
        if (!json_is_object(v)) {
                fail(l, option, "must be an object of \"value\": \"NAME\"");
                return NULL;
        }
        map = calloc(json_object_size(v) + 1, sizeof(*map));
        json_object_foreach(v, from, to)
        {
                const ProtobufCEnumValue *ev =
                        json_is_string(to)
                                ? protobuf_c_enum_descriptor_get_value_by_name(
                                          d, json_string_value(to))
                                : NULL;

                if (!ev || ev->value == 0) {
                        fail(l, option, "value for \"%s\" is not a known %s "
                                        "name",
                             from, d->short_name);
                        break;
                }
                map[*n].from = strdup(from);
                map[(*n)++].to = ev->value;
        }
        return map;
}

static void parse_parties(loader_t *l, json_t *v)
{
        hearth_profile_t *p = l->p;

        if (!v)
                return;
        check_keys_in(l, v, "parties",
                      (const char *const[]){"column", "separator",
                                            "role_separator", "roles",
                                            "resident_id_numbers", NULL});
        parse_ref(l, json_object_get(v, "column"), "parties.column",
                  &p->parties);
        p->party_separator = get_string(l, v, "separator",
                                        "parties.separator", ";");
        p->role_separator = get_string(l, v, "role_separator",
                                       "parties.role_separator", ":");
        if (!l->failed && (!*p->party_separator || !*p->role_separator))
                fail(l, "parties", "separators must not be empty");
        p->roles = parse_value_map(l, json_object_get(v, "roles"),
                                   "parties.roles",
                                   &hearth__v1__party_role__descriptor,
                                   &p->n_roles);
        p->parties_are_cn_id = json_is_true(
                json_object_get(v, "resident_id_numbers"));
}

static void parse_narrative(loader_t *l, json_t *v)
{
        hearth_profile_t *p = l->p;
        json_t *keywords, *list;
        const char *flag;
        size_t total = 0, i;
        json_t *item;

        if (!v)
                return;
        check_keys_in(l, v, "narrative",
                      (const char *const[]){"column", "keywords", NULL});
        parse_ref(l, json_object_get(v, "column"), "narrative.column",
                  &p->narrative);
        keywords = json_object_get(v, "keywords");
        if (!json_is_object(keywords)) {
                fail(l, "narrative.keywords",
                     "must be an object of flag name: [keywords]");
                return;
        }
        json_object_foreach(keywords, flag, list) total += json_array_size(list);
        p->keywords = calloc(total + 1, sizeof(*p->keywords));
        json_object_foreach(keywords, flag, list)
        {
                uint32_t bit = hearth_flag_from_name(flag);

                if (!bit || !json_is_array(list)) {
                        fail(l, "narrative.keywords", "\"%s\" is not a risk "
                                                      "flag with a list",
                             flag);
                        return;
                }
                json_array_foreach(list, i, item)
                {
                        hearth_keyword_rule_t *k = &p->keywords[p->n_keywords];

                        if (!json_is_string(item) ||
                            !*json_string_value(item)) {
                                fail(l, "narrative.keywords",
                                     "keywords of \"%s\" must be non-empty "
                                     "strings",
                                     flag);
                                return;
                        }
                        k->keyword = strdup(json_string_value(item));
                        for (char *c = k->keyword; *c; c++)
                                *c = (char)tolower((unsigned char)*c);
                        k->flags = bit;
                        p->n_keywords++;
                }
        }
}

static void parse_region(loader_t *l, json_t *root)
{
        hearth_profile_t *p = l->p;
        json_t *r = json_object_get(root, "region");

        if (!r)
                return;
        if (!json_is_object(r)) {
                fail(l, "region", "must be an object");
                return;
        }
        check_keys_in(l, r, "region",
                      (const char *const[]){"province_code", "city_code",
                                            "district_code", "station_code",
                                            "grid_id", NULL});
        parse_ref(l, json_object_get(r, "province_code"),
                  "region.province_code", &p->province);
        parse_ref(l, json_object_get(r, "city_code"), "region.city_code",
                  &p->city);
        parse_ref(l, json_object_get(r, "district_code"),
                  "region.district_code", &p->district);
        parse_ref(l, json_object_get(r, "station_code"), "region.station_code",
                  &p->station);
        parse_ref(l, json_object_get(r, "grid_id"), "region.grid_id",
                  &p->grid);
}

static size_t get_size(loader_t *l, json_t *obj, const char *key,
                       const char *option, size_t def, size_t max)
{
        json_t *v = json_object_get(obj, key);

        if (!v)
                return def;
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            (size_t)json_integer_value(v) > max) {
                fail(l, option, "must be an integer from 1 to %zu", max);
                return def;
        }
        return (size_t)json_integer_value(v);
}

static void parse_format(loader_t *l, json_t *root)
{
        hearth_profile_t *p = l->p;
        char *format = get_string(l, root, "format", "format", "csv");
        json_t *limits = json_object_get(root, "limits");

        check_keys_in(l, limits, "limits",
                      (const char *const[]){"max_record_bytes",
                                            "max_field_bytes", NULL});

        if (format && strcmp(format, "csv") == 0)
                p->format = HEARTH_FORMAT_CSV;
        else if (format && strcmp(format, "jsonl") == 0)
                p->format = HEARTH_FORMAT_JSONL;
        else
                fail(l, "format", "must be \"csv\" or \"jsonl\"");
        free(format);
        p->encoding = get_string(l, root, "encoding", "encoding", "UTF-8");
        p->header = !json_is_false(json_object_get(root, "header"));
        p->time_zone = get_string(l, root, "time_zone", "time_zone", "UTC");
        if (!l->failed && hearth_time_zone_valid(p->time_zone) != 0)
                fail(l, "time_zone", "unknown zone \"%s\"; use an IANA name "
                                     "such as Asia/Shanghai, UTC or +08:00",
                     p->time_zone);
        p->expected_columns = get_size(l, root, "columns", "columns", 0,
                                       HEARTH_CSV_DEFAULT_MAX_FIELDS);
        p->limits.max_record_bytes = get_size(
                l, limits, "max_record_bytes", "limits.max_record_bytes",
                HEARTH_CSV_DEFAULT_MAX_RECORD_BYTES, 16 * 1024 * 1024);
        p->limits.max_field_bytes = get_size(
                l, limits, "max_field_bytes", "limits.max_field_bytes",
                HEARTH_CSV_DEFAULT_MAX_FIELD_BYTES, 16 * 1024 * 1024);
        p->limits.max_fields = HEARTH_CSV_DEFAULT_MAX_FIELDS;
}

/* Rejects unknown top-level keys, so a misspelled option fails loudly
 * instead of falling back to a default such as the UTC time zone. */
static void check_keys(loader_t *l, json_t *root)
{
        static const char *known[] = {
                "name", "description", "format", "encoding", "header",
                "time_zone", "columns", "limits", "incident_id",
                "incident_prefix", "region", "category", "domestic",
                "category_flags", "address", "coordinates", "caller",
                "parties", "narrative", "disposition", "events", NULL};
        const char *key;
        json_t *v;

        json_object_foreach(root, key, v)
        {
                size_t i = 0;

                while (known[i] && strcmp(known[i], key) != 0)
                        i++;
                if (!known[i]) {
                        fail(l, key, "unknown option; see "
                                     "connectors/profiles/README.md");
                        return;
                }
        }
}

static void parse_root(loader_t *l, json_t *root)
{
        hearth_profile_t *p = l->p;
        json_t *v;

        p->name = get_string(l, root, "name", "name", NULL);
        if (!p->name) {
                fail(l, "name", "is required");
                return;
        }
        check_keys(l, root);
        parse_format(l, root);
        v = json_object_get(root, "incident_id");
        parse_ref(l, v, "incident_id", &p->incident_id);
        if (!l->failed && p->incident_id.kind == HEARTH_REF_NONE)
                fail(l, "incident_id", "is required");
        p->incident_prefix = get_string(l, root, "incident_prefix",
                                        "incident_prefix", "");
        parse_region(l, root);
        v = json_object_get(root, "category");
        check_keys_in(l, v, "category",
                      (const char *const[]){"code", "text", NULL});
        if (v) {
                parse_ref(l, json_object_get(v, "code"), "category.code",
                          &p->category_code);
                parse_ref(l, json_object_get(v, "text"), "category.text",
                          &p->category_text);
        }
        parse_domestic(l, json_object_get(root, "domestic"));
        parse_category_flags(l, json_object_get(root, "category_flags"));
        parse_address(l, json_object_get(root, "address"));
        parse_coordinates(l, json_object_get(root, "coordinates"));
        parse_ref(l, json_object_get(root, "caller"), "caller", &p->caller);
        parse_parties(l, json_object_get(root, "parties"));
        parse_narrative(l, json_object_get(root, "narrative"));
        v = json_object_get(root, "disposition");
        check_keys_in(l, v, "disposition",
                      (const char *const[]){"column", "values", NULL});
        if (v) {
                parse_ref(l, json_object_get(v, "column"),
                          "disposition.column", &p->disposition);
                p->dispositions = parse_value_map(
                        l, json_object_get(v, "values"), "disposition.values",
                        &hearth__v1__disposition__descriptor,
                        &p->n_dispositions);
        }
        parse_events(l, json_object_get(root, "events"));
}

hearth_profile_t *hearth_profile_parse(const char *json, size_t len,
                                       char *errstr, size_t errstr_size)
{
        loader_t l = {.errstr = errstr, .errstr_size = errstr_size};
        json_error_t jerr;
        json_t *root;

        root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
                snprintf(errstr, errstr_size,
                         "profile: invalid JSON at line %d column %d: %s",
                         jerr.line, jerr.column, jerr.text);
                return NULL;
        }
        l.p = calloc(1, sizeof(*l.p));
        if (!json_is_object(root))
                fail(&l, "(top level)", "must be a JSON object");
        else
                parse_root(&l, root);
        json_decref(root);
        if (l.failed) {
                hearth_profile_free(l.p);
                return NULL;
        }
        return l.p;
}

hearth_profile_t *hearth_profile_load(const char *path, char *errstr,
                                      size_t errstr_size)
{
        hearth_profile_t *p;
        char *buf = NULL;
        size_t cap = 0, len = 0;
        FILE *fp = fopen(path, "rb");

        if (!fp) {
                snprintf(errstr, errstr_size, "cannot open profile %s: %m",
                         path);
                return NULL;
        }
        for (;;) {
                if (len + 4096 > cap) {
                        cap = cap ? cap * 2 : 16384;
                        buf = realloc(buf, cap);
                }
                size_t n = fread(buf + len, 1, cap - len, fp);
                len += n;
                if (n == 0 || len > 1024 * 1024)
                        break;
        }
        fclose(fp);
        if (len > 1024 * 1024) {
                snprintf(errstr, errstr_size, "profile %s is over 1 MiB",
                         path);
                free(buf);
                return NULL;
        }
        p = hearth_profile_parse(buf, len, errstr, errstr_size);
        free(buf);
        return p;
}

static int bind_ref(hearth_field_ref_t *ref, char **names,
                    const size_t *lengths, size_t n)
{
        if (ref->kind != HEARTH_REF_COLUMN)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (strlen(ref->name) == lengths[i] &&
                    memcmp(ref->name, names[i], lengths[i]) == 0) {
                        ref->index = (int)i;
                        return 0;
                }
        }
        return -1;
}

int hearth_profile_bind_header(hearth_profile_t *p, char **names,
                               const size_t *lengths, size_t n, char *errstr,
                               size_t errstr_size)
{
        hearth_field_ref_t *refs[64];
        size_t nrefs = 0;

        refs[nrefs++] = &p->incident_id;
        refs[nrefs++] = &p->province;
        refs[nrefs++] = &p->city;
        refs[nrefs++] = &p->district;
        refs[nrefs++] = &p->station;
        refs[nrefs++] = &p->grid;
        refs[nrefs++] = &p->category_code;
        refs[nrefs++] = &p->category_text;
        refs[nrefs++] = &p->domestic_column;
        refs[nrefs++] = &p->address;
        refs[nrefs++] = &p->lat;
        refs[nrefs++] = &p->lon;
        refs[nrefs++] = &p->coordinates;
        refs[nrefs++] = &p->caller;
        refs[nrefs++] = &p->parties;
        refs[nrefs++] = &p->narrative;
        refs[nrefs++] = &p->disposition;
        for (size_t i = 0; i < p->n_events && nrefs + 3 <= 64; i++) {
                hearth_event_spec_t *ev = &p->events[i];

                /* An optional event whose columns an export lacks (an
                 * older layout) is left out instead of failing the file. */
                ev->absent = ev->optional &&
                             (bind_ref(&ev->time.column, names, lengths, n) ||
                              bind_ref(&ev->time.time_column, names, lengths,
                                       n) ||
                              bind_ref(&ev->when_column, names, lengths, n));
                if (ev->absent)
                        continue;
                refs[nrefs++] = &ev->time.column;
                refs[nrefs++] = &ev->time.time_column;
                refs[nrefs++] = &ev->when_column;
        }
        for (size_t i = 0; i < nrefs; i++) {
                if (bind_ref(refs[i], names, lengths, n) != 0) {
                        snprintf(errstr, errstr_size,
                                 "profile %s: column \"%s\" is not in the "
                                 "input's header",
                                 p->name, refs[i]->name);
                        return -1;
                }
        }
        if (p->expected_columns == 0)
                p->expected_columns = n;
        return 0;
}

static void free_list(char **list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(list[i]);
        free(list);
}

static void free_time_spec(hearth_time_spec_t *t)
{
        free(t->column.name);
        free(t->format);
        free(t->time_column.name);
        free(t->time_format);
}

void hearth_profile_free(hearth_profile_t *p)
{
        if (!p)
                return;
        hearth_field_ref_t *refs[] = {
                &p->incident_id, &p->province,      &p->city,
                &p->district,    &p->station,       &p->grid,
                &p->category_code, &p->category_text, &p->domestic_column,
                &p->address,     &p->lat,           &p->lon,
                &p->coordinates, &p->caller,        &p->parties,
                &p->narrative,   &p->disposition};

        for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
                free(refs[i]->name);
        for (size_t i = 0; i < p->n_events; i++) {
                free_time_spec(&p->events[i].time);
                free(p->events[i].when_column.name);
                free_list(p->events[i].when_values, p->events[i].n_when_values);
        }
        free(p->events);
        if (p->has_domestic_regex)
                regfree(&p->domestic_regex);
        free_list(p->domestic_values, p->n_domestic_values);
        for (size_t i = 0; i < p->n_category_flags; i++)
                regfree(&p->category_flags[i].re);
        free(p->category_flags);
        if (p->has_address_strip)
                regfree(&p->address_strip);
        free_list(p->address_withheld, p->n_address_withheld);
        free_list(p->address_ignored, p->n_address_ignored);
        free(p->party_separator);
        free(p->role_separator);
        for (size_t i = 0; i < p->n_roles; i++)
                free(p->roles[i].from);
        free(p->roles);
        for (size_t i = 0; i < p->n_keywords; i++)
                free(p->keywords[i].keyword);
        free(p->keywords);
        for (size_t i = 0; i < p->n_dispositions; i++)
                free(p->dispositions[i].from);
        free(p->dispositions);
        free(p->name);
        free(p->encoding);
        free(p->time_zone);
        free(p->incident_prefix);
        free(p);
}
