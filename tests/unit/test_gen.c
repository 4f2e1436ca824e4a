/*
 * Tests of the hearth-gen generator (bench/gen.c): determinism, ID
 * numbers, truth keys against the connector's own mapping, and surges.
 */
#include <check.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "bench/gen.h"
#include "connectors/mapper.h"
#include "connectors/source.h"
#include "hearth/v1/incident.pb-c.h"

#define DAY_MS INT64_C(86400000)

static const unsigned char test_key[32] = "hearth-gen unit test key 0123456";

typedef struct output {
        char *csv, *truth;
        size_t csv_len, truth_len;
} output_t;

static void generate(const hearth_gen_options_t *o, output_t *out)
{
        hearth_pseudo_t *p = hearth_pseudo_new(test_key, sizeof(test_key),
                                               "k1");
        FILE *csv = open_memstream(&out->csv, &out->csv_len);
        FILE *truth = open_memstream(&out->truth, &out->truth_len);
        hearth_gen_summary_t sum;
        char err[256] = "";

        ck_assert_int_eq(hearth_gen_write(o, p, csv, truth, &sum, err,
                                          sizeof(err)), 0);
        fclose(csv);
        fclose(truth);
        hearth_pseudo_free(p);
}

static void output_free(output_t *out)
{
        free(out->csv);
        free(out->truth);
}

static void small_options(hearth_gen_options_t *o, uint64_t seed)
{
        hearth_gen_options_init(o);
        o->seed = seed;
        o->days = 90;
        o->calls_per_day = 80;
        o->pattern_scale = 2;
}

static void sha256(const char *data, size_t len, unsigned char out[32])
{
        EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL);
}

START_TEST(gen_same_seed_same_bytes)
{
        hearth_gen_options_t o;
        output_t a = {0}, b = {0}, c = {0};
        unsigned char ha[32], hb[32], hc[32];

        small_options(&o, 11);
        generate(&o, &a);
        generate(&o, &b);
        o.seed = 12;
        generate(&o, &c);
        sha256(a.csv, a.csv_len, ha);
        sha256(b.csv, b.csv_len, hb);
        sha256(c.csv, c.csv_len, hc);
        ck_assert_mem_eq(ha, hb, 32);
        ck_assert_uint_eq(a.truth_len, b.truth_len);
        ck_assert_mem_eq(a.truth, b.truth, a.truth_len);
        ck_assert(memcmp(ha, hc, 32) != 0);
        output_free(&a);
        output_free(&b);
        output_free(&c);
}
END_TEST

START_TEST(gen_id_check_char)
{
        /* Check characters X and a digit, from ISO 7064 MOD 11-2. */
        ck_assert_int_eq(hearth_gen_id_check_char("11010519491231002"),
                         'X');
        ck_assert_int_eq(hearth_gen_id_check_char("33015119920418024"),
                         '6');
}
END_TEST

/* Keys the connector gives each incident, from mapping the CSV. */
typedef struct mapped {
        json_t *household;      /* incident id -> address key */
        json_t *suspect;        /* incident id -> suspect's person key */
        json_t *dispatched;     /* incident id -> true if DISPATCHED */
        json_t *calls;          /* address key -> [call times, ms] */
        int records, flagged_background;
} mapped_t;

static void add_call(json_t *calls, const char *household, int64_t ms)
{
        json_t *list = json_object_get(calls, household);

        if (!list) {
                list = json_array();
                json_object_set_new(calls, household, list);
        }
        json_array_append_new(list, json_integer(ms));
}

static void mapped_free(mapped_t *m)
{
        json_decref(m->household);
        json_decref(m->suspect);
        json_decref(m->dispatched);
        json_decref(m->calls);
}

static void map_output(const output_t *out, mapped_t *m)
{
        char err[256] = "";
        hearth_profile_t *profile = hearth_profile_load(
                "connectors/profiles/cn_110.json", err, sizeof(err));
        hearth_pseudo_t *p = hearth_pseudo_new(test_key, sizeof(test_key),
                                               "k1");
        FILE *fp = fmemopen(out->csv, out->csv_len, "rb");
        hearth_source_t *src;
        hearth_mapper_t *mapper;
        hearth_source_record_t rec;
        hearth_mapped_event_t ev[HEARTH_MAPPER_MAX_EVENTS];
        hearth_map_error_t merr;

        ck_assert_msg(profile != NULL, "%s", err);
        src = hearth_source_open(fp, profile, err, sizeof(err));
        ck_assert_msg(src != NULL, "%s", err);
        mapper = hearth_mapper_new(profile, p, "gen.csv", err, sizeof(err));
        m->household = json_object();
        m->suspect = json_object();
        m->dispatched = json_object();
        m->calls = json_object();
        while (hearth_source_next(src, &rec) == HEARTH_SOURCE_OK) {
                int n = hearth_mapper_map(mapper, &rec.row,
                                          rec.record_number, 0, ev, &merr);

                ck_assert_msg(n > 0, "record %llu rejected: %s",
                              (unsigned long long)rec.record_number,
                              merr.reason ? merr.reason : "?");
                m->records++;
                for (int i = 0; i < n; i++) {
                        Hearth__V1__IncidentEvent *e =
                                hearth__v1__incident_event__unpack(
                                        NULL, ev[i].payload_len,
                                        ev[i].payload);
                        const Hearth__V1__RiskFlags *r = e->risk;

                        json_object_set_new(m->household, e->incident_id,
                                            json_string(e->address_key));
                        for (size_t k = 0; k < e->n_parties; k++)
                                if (e->parties[k]->role ==
                                    HEARTH__V1__PARTY_ROLE__SUSPECT)
                                        json_object_set_new(
                                                m->suspect, e->incident_id,
                                                json_string(e->parties[k]
                                                                    ->person_key));
                        if (e->event_type ==
                            HEARTH__V1__EVENT_TYPE__CALL_RECEIVED)
                                add_call(m->calls, e->address_key,
                                         e->event_time_ms);
                        if (e->event_type ==
                            HEARTH__V1__EVENT_TYPE__DISPATCHED)
                                json_object_set_new(m->dispatched,
                                                    e->incident_id,
                                                    json_true());
                        /* Background ids have a serial below 500000. */
                        if (i == 0 && e->incident_id[16] < '5' &&
                            (r->weapon || r->injury || r->threat_to_kill ||
                             r->strangulation || r->firearm ||
                             r->victim_fears_death || r->stalking ||
                             r->intoxication || r->separation))
                                m->flagged_background++;
                        hearth__v1__incident_event__free_unpacked(e, NULL);
                        hearth_mapped_event_clear(&ev[i]);
                }
        }
        hearth_mapper_free(mapper);
        hearth_source_close(src);
        fclose(fp);
        hearth_pseudo_free(p);
        hearth_profile_free(profile);
}

static json_t *truth_lines(const output_t *out)
{
        json_t *list = json_array();
        char *copy = strndup(out->truth, out->truth_len), *save = NULL;

        for (char *line = strtok_r(copy, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save))
                json_array_append_new(list, json_loads(line, 0, NULL));
        free(copy);
        return list;
}

/* Every record maps, and every truth key is the connector's key. */
START_TEST(gen_truth_keys_match_connector)
{
        hearth_gen_options_t o;
        output_t out = {0};
        mapped_t m = {0};
        json_t *lines, *line;
        size_t i;
        int alerts = 0;

        small_options(&o, 21);
        generate(&o, &out);
        map_output(&out, &m);
        ck_assert_int_gt(m.records, 1000);
        ck_assert_int_eq(m.flagged_background, 0);
        lines = truth_lines(&out);
        json_array_foreach(lines, i, line) {
                const char *kind = json_string_value(
                        json_object_get(line, "subject_kind"));
                const char *key = json_string_value(
                        json_object_get(line, "subject_key"));
                const char *trigger = json_string_value(
                        json_object_get(line, "trigger_incident_id"));
                json_t *want = NULL;

                if (strcmp(json_string_value(json_object_get(line, "kind")),
                           "alert") != 0)
                        continue;
                alerts++;
                if (strcmp(kind, "HOUSEHOLD") == 0)
                        want = json_object_get(m.household, trigger);
                else if (strcmp(kind, "PERSON") == 0)
                        want = json_object_get(m.suspect, trigger);
                else if (strcmp(kind, "INCIDENT") == 0)
                        ck_assert_str_eq(key, trigger);
                if (strcmp(kind, "HOUSEHOLD") == 0 ||
                    strcmp(kind, "PERSON") == 0) {
                        ck_assert_ptr_nonnull(want);
                        ck_assert_str_eq(key, json_string_value(want));
                }
        }
        ck_assert_int_eq(alerts, 36);
        json_decref(lines);
        mapped_free(&m);
        output_free(&out);
}
END_TEST

/* The short repeat-calls pattern's two calls are 0 to 72 h apart, and a
 * surge day's count is above its baseline. */
START_TEST(gen_pattern_timing)
{
        hearth_gen_options_t o;
        output_t out = {0};
        mapped_t m = {0};
        json_t *lines, *line;
        size_t i;
        int checked_72h = 0, surges = 0;

        small_options(&o, 31);
        generate(&o, &out);
        map_output(&out, &m);
        lines = truth_lines(&out);
        json_array_foreach(lines, i, line) {
                const char *pattern = json_string_value(
                        json_object_get(line, "pattern"));

                if (!pattern)
                        continue;
                if (strcmp(pattern, "repeat_calls_72h") == 0) {
                        json_t *calls = json_object_get(
                                m.calls, json_string_value(json_object_get(
                                                 line, "subject_key")));
                        int64_t gap;

                        ck_assert_ptr_nonnull(calls);
                        ck_assert_uint_eq(json_array_size(calls), 2);
                        gap = json_integer_value(json_array_get(calls, 1)) -
                              json_integer_value(json_array_get(calls, 0));
                        ck_assert_int_gt(gap, 0);
                        ck_assert_int_lt(gap, 3 * DAY_MS);
                        checked_72h++;
                }
                if (strcmp(pattern, "hotspot_surge") == 0) {
                        double mean = json_real_value(
                                json_object_get(line, "baseline_mean"));
                        int count = (int)json_integer_value(
                                json_object_get(line, "day_count"));

                        ck_assert(json_is_true(
                                json_object_get(line, "alarmed")));
                        ck_assert_int_gt(count, mean + 3);
                        surges++;
                }
        }
        ck_assert_int_eq(checked_72h, 2);
        ck_assert_int_eq(surges, 4);
        json_decref(lines);
        mapped_free(&m);
        output_free(&out);
}
END_TEST

Suite *hearth_test_gen_suite(void)
{
        Suite *s = suite_create("gen");
        TCase *tc = tcase_create("core");

        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, gen_same_seed_same_bytes);
        tcase_add_test(tc, gen_id_check_char);
        tcase_add_test(tc, gen_truth_keys_match_connector);
        tcase_add_test(tc, gen_pattern_timing);
        suite_add_tcase(s, tc);
        return s;
}
