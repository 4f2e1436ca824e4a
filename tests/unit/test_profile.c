/*
 * Tests for connectors/profile.c: the shipped profiles load, defaults apply,
 * every kind of mistake is rejected with a message naming the option, and
 * header binding maps column names to positions.
 */
#include "connectors/profile.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/v1/incident.pb-c.h"

/*
 * The smallest valid profile, without its closing brace so tests can add
 * members. NO_DOMESTIC lacks the required "domestic" member.
 */
#define MINIMAL_EVENTS \
        "\"events\": [{\"type\": \"CALL_RECEIVED\", " \
        "\"time\": {\"column\": \"time\"}}]"
#define NO_DOMESTIC \
        "{\"name\": \"t\", \"incident_id\": \"id\", " MINIMAL_EVENTS
#define MINIMAL NO_DOMESTIC ", \"domestic\": true"

static char err[512];

static hearth_profile_t *load_shipped(const char *name)
{
        char path[128];
        hearth_profile_t *p;

        snprintf(path, sizeof(path), "connectors/profiles/%s.json", name);
        err[0] = '\0';
        p = hearth_profile_load(path, err, sizeof(err));
        ck_assert_msg(p != NULL, "%s: %s", path, err);
        return p;
}

static hearth_profile_t *parse(const char *json)
{
        err[0] = '\0';
        return hearth_profile_parse(json, strlen(json), err, sizeof(err));
}

/* Asserts that json is rejected with an error containing text. */
static void assert_rejected(const char *json, const char *text)
{
        hearth_profile_t *p = parse(json);

        ck_assert_msg(p == NULL, "accepted: %s", json);
        ck_assert_msg(strstr(err, text) != NULL, "error \"%s\" lacks \"%s\"",
                      err, text);
}

START_TEST(milwaukee_loads)
{
        hearth_profile_t *p = load_shipped("milwaukee_mpd");

        ck_assert_str_eq(p->name, "milwaukee_mpd");
        ck_assert_int_eq(p->format, HEARTH_FORMAT_CSV);
        ck_assert(p->header);
        ck_assert_str_eq(p->time_zone, "America/Chicago");
        ck_assert_int_eq(p->incident_id.kind, HEARTH_REF_COLUMN);
        ck_assert_str_eq(p->incident_id.name, "id");
        ck_assert_int_eq(p->province.kind, HEARTH_REF_VALUE);
        ck_assert_str_eq(p->province.name, "55");
        ck_assert(p->has_domestic_regex);
        ck_assert(p->has_address_strip);
        ck_assert_uint_eq(p->n_address_ignored, 5);
        ck_assert_str_eq(p->address_ignored[0], "2920 N 4TH ST");
        ck_assert_uint_eq(p->n_category_flags, 5);
        ck_assert(p->has_bbox);
        ck_assert_double_eq(p->bbox[0], 42.8);
        ck_assert_double_eq(p->bbox[3], -87.8);
        ck_assert_uint_eq(p->n_events, 1);
        ck_assert_int_eq(p->events[0].type,
                         HEARTH__V1__EVENT_TYPE__CALL_RECEIVED);
        ck_assert_str_eq(p->events[0].time.format, "%Y-%m-%d %H:%M:%S");
        hearth_profile_free(p);
}
END_TEST

START_TEST(berkeley_loads)
{
        hearth_profile_t *p = load_shipped("berkeley_pd");

        ck_assert_str_eq(p->name, "berkeley_pd");
        ck_assert_str_eq(p->time_zone, "America/Los_Angeles");
        ck_assert_int_eq(p->coordinates.kind, HEARTH_REF_COLUMN);
        ck_assert_str_eq(p->coordinates.name, "Block_Location");
        ck_assert_int_eq(p->lat.kind, HEARTH_REF_NONE);
        ck_assert_uint_eq(p->n_domestic_values, 1);
        ck_assert_str_eq(p->domestic_values[0], "DOMESTIC VIOLENCE");
        ck_assert_str_eq(p->events[0].time.time_column.name, "EVENTTM");
        ck_assert_str_eq(p->events[0].time.time_format, "%H:%M");
        hearth_profile_free(p);
}
END_TEST

START_TEST(orlando_loads)
{
        hearth_profile_t *p = load_shipped("orlando_pd");

        ck_assert_str_eq(p->name, "orlando_pd");
        ck_assert_str_eq(p->time_zone, "America/New_York");
        ck_assert_int_eq(p->incident_id.kind, HEARTH_REF_INDEX);
        ck_assert_int_eq(p->incident_id.index, 0);
        /* Withheld and ignored values are stored upper-cased. */
        ck_assert_uint_eq(p->n_address_withheld, 1);
        ck_assert_str_eq(p->address_withheld[0], "RESTRICTED ADDRESS");
        ck_assert_uint_eq(p->n_address_ignored, 2);
        ck_assert_str_eq(p->address_ignored[0], "NOT AVAILABLE");
        ck_assert(!p->has_bbox);
        hearth_profile_free(p);
}
END_TEST

START_TEST(cn_110_loads)
{
        hearth_profile_t *p = load_shipped("cn_110");

        ck_assert_str_eq(p->name, "cn_110");
        ck_assert_str_eq(p->encoding, "UTF-8");
        ck_assert_str_eq(p->time_zone, "Asia/Shanghai");
        ck_assert_str_eq(p->incident_id.name, "警情编号");
        ck_assert_str_eq(p->city.name, "330100");
        ck_assert_int_eq(p->district.kind, HEARTH_REF_COLUMN);
        ck_assert_str_eq(p->district.name, "行政区划代码");
        ck_assert(p->parties_are_cn_id);
        ck_assert_uint_eq(p->n_roles, 4);
        ck_assert_uint_eq(p->n_dispositions, 6);
        ck_assert_str_eq(p->caller.name, "报警电话");
        hearth_profile_free(p);
}
END_TEST

START_TEST(cn_110_events)
{
        hearth_profile_t *p = load_shipped("cn_110");
        const hearth_event_spec_t *e = p->events;

        ck_assert_uint_eq(p->n_events, 8);
        ck_assert_int_eq(e[0].type, HEARTH__V1__EVENT_TYPE__CALL_RECEIVED);
        ck_assert(!e[0].optional);
        ck_assert_int_eq(e[1].type, HEARTH__V1__EVENT_TYPE__DISPATCHED);
        ck_assert(e[1].optional);
        ck_assert_int_eq(e[2].type, HEARTH__V1__EVENT_TYPE__ARRIVED);
        ck_assert_int_eq(e[3].type, HEARTH__V1__EVENT_TYPE__DISPOSED);
        ck_assert(e[3].when_nonempty);
        ck_assert_str_eq(e[3].when_column.name, "处警结果");
        ck_assert_int_eq(e[4].type, HEARTH__V1__EVENT_TYPE__WARNING_ISSUED);
        ck_assert_uint_eq(e[4].n_when_values, 1);
        ck_assert_str_eq(e[4].when_values[0], "是");
        ck_assert_int_eq(e[5].type, HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT);
        ck_assert_int_eq(e[6].type,
                         HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_ISSUED);
        ck_assert(e[6].optional);
        ck_assert_int_eq(e[7].type,
                         HEARTH__V1__EVENT_TYPE__PROTECTION_ORDER_VIOLATED);
        ck_assert_str_eq(e[7].when_column.name, "是否违反保护令");
        ck_assert_str_eq(e[7].time.column.name, "报警时间");
        hearth_profile_free(p);
}
END_TEST

START_TEST(cn_110_keywords)
{
        hearth_profile_t *p = load_shipped("cn_110");
        uint32_t all = 0;
        size_t knife = p->n_keywords;

        for (size_t i = 0; i < p->n_keywords; i++) {
                all |= p->keywords[i].flags;
                if (strcmp(p->keywords[i].keyword, "持刀") == 0)
                        knife = i;
        }
        /* Every one of the 13 risk flags has at least one keyword. */
        ck_assert_uint_eq(all, (1u << HEARTH_FLAG_COUNT) - 1);
        ck_assert_uint_lt(knife, p->n_keywords);
        ck_assert_uint_eq(p->keywords[knife].flags, HEARTH_FLAG_WEAPON);
        hearth_profile_free(p);
}
END_TEST

START_TEST(minimal_defaults)
{
        hearth_profile_t *p = parse(MINIMAL "}");

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(p->format, HEARTH_FORMAT_CSV);
        ck_assert_str_eq(p->encoding, "UTF-8");
        ck_assert(p->header);
        ck_assert_str_eq(p->time_zone, "UTC");
        ck_assert_str_eq(p->incident_prefix, "");
        ck_assert_uint_eq(p->expected_columns, 0);
        ck_assert_uint_eq(p->limits.max_record_bytes,
                          HEARTH_CSV_DEFAULT_MAX_RECORD_BYTES);
        ck_assert_uint_eq(p->limits.max_field_bytes,
                          HEARTH_CSV_DEFAULT_MAX_FIELD_BYTES);
        ck_assert_str_eq(p->events[0].time.format, "iso8601");
        ck_assert_int_eq(p->incident_id.index, -1);
        ck_assert_int_eq(p->address.kind, HEARTH_REF_NONE);
        hearth_profile_free(p);
}
END_TEST

START_TEST(limits_and_columns_read)
{
        hearth_profile_t *p = parse(MINIMAL ", \"columns\": 20, \"limits\": "
                                    "{\"max_record_bytes\": 4096, "
                                    "\"max_field_bytes\": 512}}");

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_uint_eq(p->expected_columns, 20);
        ck_assert_uint_eq(p->limits.max_record_bytes, 4096);
        ck_assert_uint_eq(p->limits.max_field_bytes, 512);
        hearth_profile_free(p);
}
END_TEST

START_TEST(jsonl_format_read)
{
        hearth_profile_t *p = parse(MINIMAL ", \"format\": \"jsonl\", "
                                    "\"header\": false}");

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(p->format, HEARTH_FORMAT_JSONL);
        ck_assert(!p->header);
        hearth_profile_free(p);
}
END_TEST

START_TEST(fixed_offset_zone_accepted)
{
        hearth_profile_t *p = parse(MINIMAL ", \"time_zone\": \"+08:00\"}");

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_str_eq(p->time_zone, "+08:00");
        hearth_profile_free(p);
}
END_TEST

START_TEST(keywords_lower_cased)
{
        hearth_profile_t *p = parse(MINIMAL ", \"narrative\": {\"column\": "
                                    "\"n\", \"keywords\": {\"weapon\": "
                                    "[\"KNIFE\"], \"firearm\": [\"Gun\"]}}}");

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_uint_eq(p->n_keywords, 2);
        ck_assert_str_eq(p->keywords[0].keyword, "knife");
        ck_assert_uint_eq(p->keywords[0].flags, HEARTH_FLAG_WEAPON);
        ck_assert_str_eq(p->keywords[1].keyword, "gun");
        ck_assert_uint_eq(p->keywords[1].flags, HEARTH_FLAG_FIREARM);
        hearth_profile_free(p);
}
END_TEST

START_TEST(flag_names)
{
        ck_assert_uint_eq(hearth_flag_from_name("weapon"), HEARTH_FLAG_WEAPON);
        ck_assert_uint_eq(hearth_flag_from_name("threat_to_kill"),
                          HEARTH_FLAG_THREAT_TO_KILL);
        ck_assert_uint_eq(hearth_flag_from_name("escalation"),
                          HEARTH_FLAG_ESCALATION);
        ck_assert_uint_eq(hearth_flag_from_name("Weapon"), 0);
        ck_assert_uint_eq(hearth_flag_from_name(""), 0);
}
END_TEST

START_TEST(unknown_zone_rejected)
{
        assert_rejected(MINIMAL ", \"time_zone\": \"Mars/Olympus\"}",
                        "profile t: time_zone: unknown zone \"Mars/Olympus\"");
}
END_TEST

START_TEST(missing_name_rejected)
{
        assert_rejected("{\"incident_id\": \"id\", \"domestic\": true, "
                        MINIMAL_EVENTS "}",
                        "profile (unnamed): name: is required");
}
END_TEST

START_TEST(missing_incident_id_rejected)
{
        assert_rejected("{\"name\": \"t\", " MINIMAL_EVENTS "}",
                        "profile t: incident_id: is required");
}
END_TEST

START_TEST(bad_format_rejected)
{
        assert_rejected(MINIMAL ", \"format\": \"xml\"}",
                        "profile t: format: must be \"csv\" or \"jsonl\"");
}
END_TEST

START_TEST(name_not_string_rejected)
{
        assert_rejected("{\"name\": 7, \"incident_id\": \"id\", "
                        MINIMAL_EVENTS "}",
                        "name: must be a string");
}
END_TEST

START_TEST(invalid_json_rejected)
{
        assert_rejected("{\"name\": \"t\",", "profile: invalid JSON at line 1");
}
END_TEST

START_TEST(duplicate_key_rejected)
{
        assert_rejected(MINIMAL ", \"name\": \"u\"}", "invalid JSON");
}
END_TEST

START_TEST(top_level_array_rejected)
{
        assert_rejected("[]", "(top level): must be a JSON object");
}
END_TEST

START_TEST(events_missing_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true}",
                        "profile t: events: must be an array of 1 to 16");
}
END_TEST

START_TEST(events_empty_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true, \"events\": []}",
                        "profile t: events: must be an array of 1 to 16");
}
END_TEST

START_TEST(event_type_unknown_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true, "
                        "\"events\": [{\"type\": \"CALLED\", "
                        "\"time\": {\"column\": \"t\"}}]}",
                        "profile t: events[0].type: must be an EventType");
}
END_TEST

/* 0 is EVENT_TYPE_UNSPECIFIED, which no record may produce. */
START_TEST(event_type_unspecified_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true, "
                        "\"events\": [{\"type\": \"EVENT_TYPE_UNSPECIFIED\", "
                        "\"time\": {\"column\": \"t\"}}]}",
                        "events[0].type");
}
END_TEST

START_TEST(event_time_column_required)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true, "
                        "\"events\": [{\"type\": \"CALL_RECEIVED\", "
                        "\"time\": {\"format\": \"iso8601\"}}]}",
                        "profile t: events[0].time.column: is required");
}
END_TEST

START_TEST(event_time_not_object_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": \"id\", "
                        "\"domestic\": true, "
                        "\"events\": [{\"type\": \"CALL_RECEIVED\"}, "
                        "{\"type\": \"ARRIVED\", \"time\": \"t\"}]}",
                        "profile t: events[0].time: must be an object");
}
END_TEST

START_TEST(index_out_of_range_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": {\"index\": 256}, "
                        MINIMAL_EVENTS "}",
                        "profile t: incident_id: needs \"column\"");
}
END_TEST

START_TEST(negative_index_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": {\"index\": -1}, "
                        MINIMAL_EVENTS "}",
                        "incident_id: needs");
}
END_TEST

START_TEST(reference_wrong_type_rejected)
{
        assert_rejected("{\"name\": \"t\", \"incident_id\": 5, "
                        MINIMAL_EVENTS "}",
                        "incident_id: must be a column name or an object");
}
END_TEST

START_TEST(domestic_required)
{
        assert_rejected(NO_DOMESTIC "}",
                        "profile t: domestic: must be true or an object");
}
END_TEST

START_TEST(domestic_column_required)
{
        assert_rejected(NO_DOMESTIC ", \"domestic\": {\"regex\": \"DV\"}}",
                        "profile t: domestic.column: is required");
}
END_TEST

START_TEST(domestic_bad_regex_rejected)
{
        assert_rejected(NO_DOMESTIC ", \"domestic\": {\"column\": \"c\", "
                        "\"regex\": \"(DV\"}}",
                        "profile t: domestic.regex: invalid regular "
                        "expression");
}
END_TEST

START_TEST(domestic_wrong_type_rejected)
{
        assert_rejected(NO_DOMESTIC ", \"domestic\": \"DV\"}",
                        "profile t: domestic: must be true or an object");
}
END_TEST

START_TEST(domestic_values_not_strings_rejected)
{
        assert_rejected(NO_DOMESTIC ", \"domestic\": {\"column\": \"c\", "
                        "\"values\": [\"DV\", 3]}}",
                        "profile t: domestic.values: item 1 must be a string");
}
END_TEST

START_TEST(category_flag_unknown_rejected)
{
        assert_rejected(MINIMAL ", \"category_flags\": [{\"regex\": \"GUN\", "
                        "\"flags\": [\"weapon\", \"gunz\"]}]}",
                        "profile t: category_flags[0].flags: unknown risk "
                        "flag at item 1");
}
END_TEST

START_TEST(category_flag_regex_required)
{
        assert_rejected(MINIMAL ", \"category_flags\": [{\"flags\": "
                        "[\"weapon\"]}]}",
                        "profile t: category_flags[0].regex: is required");
}
END_TEST

START_TEST(category_flag_bad_regex_rejected)
{
        assert_rejected(MINIMAL ", \"category_flags\": [{\"regex\": \"A\", "
                        "\"flags\": [\"weapon\"]}, {\"regex\": \"[\", "
                        "\"flags\": [\"weapon\"]}]}",
                        "category_flags[1].regex: invalid regular expression");
}
END_TEST

START_TEST(address_bad_strip_regex_rejected)
{
        assert_rejected(MINIMAL ", \"address\": {\"column\": \"a\", "
                        "\"strip_regex\": \"(\"}}",
                        "profile t: address.strip_regex: invalid regular");
}
END_TEST

START_TEST(bbox_wrong_size_rejected)
{
        assert_rejected(MINIMAL ", \"coordinates\": {\"lat\": \"y\", "
                        "\"lon\": \"x\", \"bbox\": [1, 2, 3]}}",
                        "profile t: coordinates.bbox: must be [lat_min");
}
END_TEST

START_TEST(bbox_inverted_rejected)
{
        assert_rejected(MINIMAL ", \"coordinates\": {\"lat\": \"y\", "
                        "\"lon\": \"x\", \"bbox\": [43, 42, -88, -87]}}",
                        "profile t: coordinates.bbox: minimum must be below");
}
END_TEST

START_TEST(bbox_out_of_world_rejected)
{
        assert_rejected(MINIMAL ", \"coordinates\": {\"lat\": \"y\", "
                        "\"lon\": \"x\", \"bbox\": [-91, 10, 0, 10]}}",
                        "coordinates.bbox");
}
END_TEST

START_TEST(bbox_item_not_number_rejected)
{
        assert_rejected(MINIMAL ", \"coordinates\": {\"lat\": \"y\", "
                        "\"lon\": \"x\", \"bbox\": [1, \"2\", 3, 4]}}",
                        "coordinates.bbox: item 1 must be a number");
}
END_TEST

START_TEST(lat_without_lon_rejected)
{
        assert_rejected(MINIMAL ", \"coordinates\": {\"lat\": \"y\"}}",
                        "profile t: coordinates: needs both \"lat\" and "
                        "\"lon\"");
}
END_TEST

START_TEST(parties_empty_separator_rejected)
{
        assert_rejected(MINIMAL ", \"parties\": {\"column\": \"p\", "
                        "\"separator\": \"\"}}",
                        "profile t: parties: separators must not be empty");
}
END_TEST

START_TEST(parties_unknown_role_rejected)
{
        assert_rejected(MINIMAL ", \"parties\": {\"column\": \"p\", "
                        "\"roles\": {\"v\": \"VICTIM\", "
                        "\"x\": \"BYSTANDER\"}}}",
                        "profile t: parties.roles: value for \"x\" is not a "
                        "known PartyRole name");
}
END_TEST

START_TEST(disposition_unknown_rejected)
{
        assert_rejected(MINIMAL ", \"disposition\": {\"column\": \"d\", "
                        "\"values\": {\"a\": \"ARRESTED\"}}}",
                        "profile t: disposition.values: value for \"a\"");
}
END_TEST

START_TEST(narrative_unknown_flag_rejected)
{
        assert_rejected(MINIMAL ", \"narrative\": {\"column\": \"n\", "
                        "\"keywords\": {\"knives\": [\"knife\"]}}}",
                        "profile t: narrative.keywords: \"knives\" is not a "
                        "risk flag");
}
END_TEST

START_TEST(narrative_empty_keyword_rejected)
{
        assert_rejected(MINIMAL ", \"narrative\": {\"column\": \"n\", "
                        "\"keywords\": {\"weapon\": [\"knife\", \"\"]}}}",
                        "narrative.keywords: keywords of \"weapon\" must be "
                        "non-empty strings");
}
END_TEST

START_TEST(narrative_keywords_required)
{
        assert_rejected(MINIMAL ", \"narrative\": {\"column\": \"n\"}}",
                        "profile t: narrative.keywords: must be an object");
}
END_TEST

START_TEST(region_not_object_rejected)
{
        assert_rejected(MINIMAL ", \"region\": [\"330000\"]}",
                        "profile t: region: must be an object");
}
END_TEST

START_TEST(limit_zero_rejected)
{
        assert_rejected(MINIMAL ", \"limits\": {\"max_field_bytes\": 0}}",
                        "profile t: limits.max_field_bytes: must be an "
                        "integer from 1 to");
}
END_TEST

START_TEST(columns_too_many_rejected)
{
        assert_rejected(MINIMAL ", \"columns\": 257}",
                        "profile t: columns: must be an integer from 1 to "
                        "256");
}
END_TEST

/* A later mistake must not replace the message of the first one. */
START_TEST(first_error_reported)
{
        assert_rejected(MINIMAL ", \"time_zone\": \"Nowhere/Zone\", "
                        "\"region\": [\"330000\"]}",
                        "time_zone: unknown zone");
        ck_assert_ptr_null(strstr(err, "region"));
}
END_TEST

/*
 * A failure before a valid regex is compiled must still free the regex.
 * The asserts check the message, and LeakSanitizer (make asan) checks that
 * nothing leaks.
 */
START_TEST(error_frees_domestic_regex)
{
        assert_rejected(NO_DOMESTIC ", \"time_zone\": \"Nowhere/Zone\", "
                        "\"domestic\": {\"column\": \"c\", \"regex\": \"DV\"}}",
                        "time_zone: unknown zone");
}
END_TEST

START_TEST(error_frees_strip_regex)
{
        assert_rejected(MINIMAL ", \"address\": {\"column\": 5, "
                        "\"strip_regex\": \",MKE$\"}}",
                        "address.column");
}
END_TEST

START_TEST(error_frees_category_regex)
{
        assert_rejected(MINIMAL ", \"time_zone\": \"Nowhere/Zone\", "
                        "\"category_flags\": [{\"regex\": \"GUN\", "
                        "\"flags\": [\"firearm\"]}]}",
                        "time_zone: unknown zone");
}
END_TEST

START_TEST(load_missing_file)
{
        ck_assert_ptr_null(hearth_profile_load("/nonexistent/p.json", err,
                                               sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "cannot open profile "
                                          "/nonexistent/p.json"));
}
END_TEST

START_TEST(bind_header_sets_indexes)
{
        hearth_profile_t *p = load_shipped("milwaukee_mpd");
        char *names[] = {"id",       "time",     "location", "latitude",
                         "longitude", "district", "nature",   "status"};
        size_t lengths[8];

        for (size_t i = 0; i < 8; i++)
                lengths[i] = strlen(names[i]);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 8, err,
                                                    sizeof(err)),
                         0);
        ck_assert_int_eq(p->incident_id.index, 0);
        ck_assert_int_eq(p->address.index, 2);
        ck_assert_int_eq(p->lat.index, 3);
        ck_assert_int_eq(p->lon.index, 4);
        ck_assert_int_eq(p->district.index, 5);
        ck_assert_int_eq(p->domestic_column.index, 6);
        ck_assert_int_eq(p->events[0].time.column.index, 1);
        ck_assert_uint_eq(p->expected_columns, 8);
        hearth_profile_free(p);
}
END_TEST

START_TEST(bind_header_missing_column)
{
        hearth_profile_t *p = load_shipped("milwaukee_mpd");
        char *names[] = {"id", "time", "location", "latitude", "longitude",
                         "district", "status"};
        size_t lengths[7];

        for (size_t i = 0; i < 7; i++)
                lengths[i] = strlen(names[i]);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 7, err,
                                                    sizeof(err)),
                         -1);
        ck_assert_ptr_nonnull(strstr(err, "profile milwaukee_mpd: column "
                                          "\"nature\" is not in the input's "
                                          "header"));
        hearth_profile_free(p);
}
END_TEST

/* An export without the columns of an optional event still binds, and
 * the event is never produced; a required event's column stays required. */
START_TEST(bind_header_optional_event_absent)
{
        hearth_profile_t *p = parse(
                "{\"name\": \"t\", \"incident_id\": \"id\", "
                "\"domestic\": true, \"events\": ["
                "{\"type\": \"CALL_RECEIVED\", "
                "\"time\": {\"column\": \"time\"}}, "
                "{\"type\": \"DISPATCHED\", \"optional\": true, "
                "\"time\": {\"column\": \"sent\"}}, "
                "{\"type\": \"PROTECTION_ORDER_VIOLATED\", "
                "\"optional\": true, \"time\": {\"column\": \"time\"}, "
                "\"when\": {\"column\": \"breach\", "
                "\"values\": [\"yes\"]}}]}");
        char *names[] = {"id", "time"};
        size_t lengths[] = {2, 4};

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 2, err,
                                                    sizeof(err)),
                         0);
        ck_assert(!p->events[0].absent);
        ck_assert_int_eq(p->events[0].time.column.index, 1);
        ck_assert(p->events[1].absent);
        ck_assert(p->events[2].absent);
        hearth_profile_free(p);
}
END_TEST

START_TEST(bind_header_required_event_missing)
{
        hearth_profile_t *p = parse(MINIMAL "}");
        char *names[] = {"id", "sent"};
        size_t lengths[] = {2, 4};

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 2, err,
                                                    sizeof(err)),
                         -1);
        ck_assert_ptr_nonnull(strstr(err, "column \"time\""));
        hearth_profile_free(p);
}
END_TEST

/* A header name that only starts with the column name must not match. */
START_TEST(bind_header_exact_names)
{
        hearth_profile_t *p = parse(MINIMAL "}");
        char *names[] = {"identifier", "time"};
        size_t lengths[] = {10, 4};

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 2, err,
                                                    sizeof(err)),
                         -1);
        ck_assert_ptr_nonnull(strstr(err, "column \"id\""));
        hearth_profile_free(p);
}
END_TEST

START_TEST(bind_header_keeps_columns_option)
{
        hearth_profile_t *p = parse(MINIMAL ", \"columns\": 5}");
        char *names[] = {"id", "time"};
        size_t lengths[] = {2, 4};

        ck_assert_msg(p != NULL, "%s", err);
        ck_assert_int_eq(hearth_profile_bind_header(p, names, lengths, 2, err,
                                                    sizeof(err)),
                         0);
        ck_assert_uint_eq(p->expected_columns, 5);
        hearth_profile_free(p);
}
END_TEST

START_TEST(free_accepts_null)
{
        hearth_profile_free(NULL);
        ck_assert_ptr_null(parse("{"));
}
END_TEST

Suite *hearth_test_profile_suite(void)
{
        Suite *s = suite_create("profile");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, milwaukee_loads);
        tcase_add_test(tc, berkeley_loads);
        tcase_add_test(tc, orlando_loads);
        tcase_add_test(tc, cn_110_loads);
        tcase_add_test(tc, cn_110_events);
        tcase_add_test(tc, cn_110_keywords);
        tcase_add_test(tc, minimal_defaults);
        tcase_add_test(tc, limits_and_columns_read);
        tcase_add_test(tc, jsonl_format_read);
        tcase_add_test(tc, fixed_offset_zone_accepted);
        tcase_add_test(tc, keywords_lower_cased);
        tcase_add_test(tc, flag_names);
        tcase_add_test(tc, unknown_zone_rejected);
        tcase_add_test(tc, missing_name_rejected);
        tcase_add_test(tc, missing_incident_id_rejected);
        tcase_add_test(tc, bad_format_rejected);
        tcase_add_test(tc, name_not_string_rejected);
        tcase_add_test(tc, invalid_json_rejected);
        tcase_add_test(tc, duplicate_key_rejected);
        tcase_add_test(tc, top_level_array_rejected);
        tcase_add_test(tc, events_missing_rejected);
        tcase_add_test(tc, events_empty_rejected);
        tcase_add_test(tc, event_type_unknown_rejected);
        tcase_add_test(tc, event_type_unspecified_rejected);
        tcase_add_test(tc, event_time_column_required);
        tcase_add_test(tc, event_time_not_object_rejected);
        tcase_add_test(tc, index_out_of_range_rejected);
        tcase_add_test(tc, negative_index_rejected);
        tcase_add_test(tc, reference_wrong_type_rejected);
        tcase_add_test(tc, domestic_required);
        tcase_add_test(tc, domestic_column_required);
        tcase_add_test(tc, domestic_bad_regex_rejected);
        tcase_add_test(tc, domestic_wrong_type_rejected);
        tcase_add_test(tc, domestic_values_not_strings_rejected);
        tcase_add_test(tc, category_flag_unknown_rejected);
        tcase_add_test(tc, category_flag_regex_required);
        tcase_add_test(tc, category_flag_bad_regex_rejected);
        tcase_add_test(tc, address_bad_strip_regex_rejected);
        tcase_add_test(tc, bbox_wrong_size_rejected);
        tcase_add_test(tc, bbox_inverted_rejected);
        tcase_add_test(tc, bbox_out_of_world_rejected);
        tcase_add_test(tc, bbox_item_not_number_rejected);
        tcase_add_test(tc, lat_without_lon_rejected);
        tcase_add_test(tc, parties_empty_separator_rejected);
        tcase_add_test(tc, parties_unknown_role_rejected);
        tcase_add_test(tc, disposition_unknown_rejected);
        tcase_add_test(tc, narrative_unknown_flag_rejected);
        tcase_add_test(tc, narrative_empty_keyword_rejected);
        tcase_add_test(tc, narrative_keywords_required);
        tcase_add_test(tc, region_not_object_rejected);
        tcase_add_test(tc, limit_zero_rejected);
        tcase_add_test(tc, columns_too_many_rejected);
        tcase_add_test(tc, first_error_reported);
        tcase_add_test(tc, error_frees_domestic_regex);
        tcase_add_test(tc, error_frees_strip_regex);
        tcase_add_test(tc, error_frees_category_regex);
        tcase_add_test(tc, load_missing_file);
        tcase_add_test(tc, bind_header_sets_indexes);
        tcase_add_test(tc, bind_header_missing_column);
        tcase_add_test(tc, bind_header_optional_event_absent);
        tcase_add_test(tc, bind_header_required_event_missing);
        tcase_add_test(tc, bind_header_exact_names);
        tcase_add_test(tc, bind_header_keeps_columns_option);
        tcase_add_test(tc, free_accepts_null);
        suite_add_tcase(s, tc);
        return s;
}
