/*
 * Tests for connectors/mapper.c through connectors/source.c: records are
 * read with hearth_source_next from an in-memory file, mapped with a shipped
 * or inline profile, and the packed IncidentEvent messages are unpacked and
 * checked field by field.
 *
 * Every person, phone number, address and narrative here and in
 * tests/data/cn_110/sample.csv is invented. Expected pseudonyms were
 * computed outside this code with Python's hmac module (see test_pseudo.c),
 * and expected times with Python's zoneinfo.
 */
#include "connectors/mapper.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/source.h"
#include "hearth/v1/incident.pb-c.h"

#define KEY "hearth-unit-test-key-0123456789ab"
#define INGEST_MS INT64_C(1700000000000)
#define CN_SAMPLE "tests/data/cn_110/sample.csv"

/* HMAC pseudonyms of "1234 N 35TH ST" (addr) and "13800000001" (phone). */
#define ADDR_1234_N_35TH "k1:84xDoerYaVzDldPO0efWpA"
#define PHONE_13800000001 "k1:0Uq18blBmZ8f9Tb1dws7FQ"

#define MKE_HEADER \
        "id,time,location,latitude,longitude,district,nature,status\n"
/* One Milwaukee row. The location is quoted as it contains ",MKE". */
#define MKE_ROW(id, time, location, lat, lon, nature) \
        id "," time ",\"" location "\"," lat "," lon ",3," nature ",Open\n"
#define MKE_CALL(location, nature) \
        MKE_ROW("9100001", "2018-05-01 00:10:28", location, "43.05", \
                "-87.95", nature)

#define ORLANDO_HEADER ",Date,Description,Location\n"
#define BERKELEY_HEADER \
        "CASENO,OFFENSE,EVENTDT,EVENTTM,CVLEGEND,CVDOW,InDbDate," \
        "Block_Location,BLKADDR,City,State\n"

#define CN_HEADER \
        "警情编号,报警时间,派警时间,到达时间,报警电话,事发地址,标准地址编码," \
        "行政区划代码,派出所,网格,经度,纬度,警情类别,警情细类,简要案情," \
        "处警结果,当事人身份证号,是否告诫,告诫时间,回访时间,保护令签发时间," \
        "是否违反保护令\n"

/* Everything one test opens; teardown closes what is set. */
static struct {
        hearth_profile_t *profile;
        hearth_pseudo_t *pseudo;
        hearth_mapper_t *mapper;
        hearth_source_t *source;
        FILE *fp;
        char *text;
} in;

/* The last mapped record: n events, or n == -1 and err when rejected. */
static struct {
        int n;
        hearth_mapped_event_t out[HEARTH_MAPPER_MAX_EVENTS];
        Hearth__V1__IncidentEvent *ev[HEARTH_MAPPER_MAX_EVENTS];
        hearth_map_error_t err;
        hearth_source_record_t rec;
} res;

static void clear_result(void)
{
        for (int i = 0; i < res.n; i++) {
                hearth__v1__incident_event__free_unpacked(res.ev[i], NULL);
                hearth_mapped_event_clear(&res.out[i]);
        }
        memset(&res, 0, sizeof(res));
}

static void setup(void)
{
        in.pseudo = hearth_pseudo_new((const unsigned char *)KEY,
                                      sizeof(KEY) - 1, "k1");
        ck_assert_ptr_nonnull(in.pseudo);
}

static void teardown(void)
{
        clear_result();
        hearth_mapper_free(in.mapper);
        hearth_source_close(in.source);
        if (in.fp)
                fclose(in.fp);
        free(in.text);
        hearth_profile_free(in.profile);
        hearth_pseudo_free(in.pseudo);
        memset(&in, 0, sizeof(in));
}

/* Closes everything, so the next test step opens its input afresh. */
static void restart(void)
{
        teardown();
        setup();
}

/* Opens the source and mapper on in.fp with in.profile. */
static void open_source(void)
{
        char err[256] = "";

        in.source = hearth_source_open(in.fp, in.profile, err, sizeof(err));
        ck_assert_msg(in.source != NULL, "source: %s", err);
        in.mapper = hearth_mapper_new(in.profile, in.pseudo, "calls.csv", err,
                                      sizeof(err));
        ck_assert_msg(in.mapper != NULL, "mapper: %s", err);
}

static void open_memory(const char *text)
{
        in.text = strdup(text);
        in.fp = fmemopen(in.text, strlen(in.text), "r");
        ck_assert_ptr_nonnull(in.fp);
}

/* Opens text with the shipped profile connectors/profiles/<name>.json. */
static void open_shipped(const char *name, const char *text)
{
        char path[128], err[256] = "";

        snprintf(path, sizeof(path), "connectors/profiles/%s.json", name);
        in.profile = hearth_profile_load(path, err, sizeof(err));
        ck_assert_msg(in.profile != NULL, "%s: %s", path, err);
        open_memory(text);
        open_source();
}

/* Opens text with a profile given as JSON. */
static void open_inline(const char *profile_json, const char *text)
{
        char err[256] = "";

        in.profile = hearth_profile_parse(profile_json, strlen(profile_json),
                                          err, sizeof(err));
        ck_assert_msg(in.profile != NULL, "profile: %s", err);
        open_memory(text);
        open_source();
}

static void open_cn_sample(void)
{
        char err[256] = "";

        in.profile = hearth_profile_load("connectors/profiles/cn_110.json",
                                         err, sizeof(err));
        ck_assert_msg(in.profile != NULL, "cn_110: %s", err);
        in.fp = fopen(CN_SAMPLE, "rb");
        ck_assert_msg(in.fp != NULL, "cannot open %s", CN_SAMPLE);
        open_source();
}

/* Maps the current source record into res and unpacks its events. */
static void map_current(void)
{
        res.n = hearth_mapper_map(in.mapper, &res.rec.row,
                                  res.rec.record_number, INGEST_MS, res.out,
                                  &res.err);
        for (int i = 0; i < res.n; i++) {
                res.ev[i] = hearth__v1__incident_event__unpack(
                        NULL, res.out[i].payload_len, res.out[i].payload);
                ck_assert_ptr_nonnull(res.ev[i]);
        }
}

/* Reads the next record, which the source must accept, and maps it. */
static void map_next(void)
{
        hearth_source_status_t st;

        clear_result();
        st = hearth_source_next(in.source, &res.rec);
        ck_assert_msg(st == HEARTH_SOURCE_OK, "record %llu: status %d (%s)",
                      (unsigned long long)res.rec.record_number, (int)st,
                      res.rec.reason ? res.rec.reason : "no reason");
        map_current();
}

/* Maps the next record and returns its only event. */
static const Hearth__V1__IncidentEvent *map_one(void)
{
        map_next();
        ck_assert_msg(res.n == 1, "record %llu: %d events, reason %s",
                      (unsigned long long)res.rec.record_number, res.n,
                      res.err.reason ? res.err.reason : "none");
        return res.ev[0];
}

/* Maps the next record, which the mapper must reject, and returns why. */
static const char *map_rejected(void)
{
        map_next();
        ck_assert_int_eq(res.n, -1);
        ck_assert_ptr_nonnull(res.err.reason);
        return res.err.reason;
}

/* Reads the next record, which the source must reject, and returns why. */
static const char *source_rejected(void)
{
        clear_result();
        ck_assert_int_eq(hearth_source_next(in.source, &res.rec),
                         HEARTH_SOURCE_BAD);
        ck_assert_ptr_nonnull(res.rec.reason);
        return res.rec.reason;
}

static void expect_eof(void)
{
        clear_result();
        ck_assert_int_eq(hearth_source_next(in.source, &res.rec),
                         HEARTH_SOURCE_EOF);
}

/* Returns the pseudonym of id under KEY and key id "k1". */
static const char *pseudonym(const char *kind, const char *id)
{
        static char out[HEARTH_PSEUDO_MAX_LEN];

        hearth_pseudo_key(in.pseudo, kind, id, strlen(id), out);
        return out;
}

/* Reads the cn_110 sample up to the record whose 警情编号 is id, maps it. */
static void map_cn_record(const char *id)
{
        open_cn_sample();
        for (;;) {
                clear_result();
                ck_assert_msg(hearth_source_next(in.source, &res.rec) ==
                                      HEARTH_SOURCE_OK,
                              "%s not found in %s", id, CN_SAMPLE);
                if (strcmp(res.rec.row.fields[0], id) == 0)
                        break;
        }
        map_current();
        ck_assert_msg(res.n > 0, "%s: reason %s", id,
                      res.err.reason ? res.err.reason : "none");
}

/* Returns the event of a type in res, or NULL. */
static const Hearth__V1__IncidentEvent *event_of_type(int type)
{
        for (int i = 0; i < res.n; i++)
                if ((int)res.ev[i]->event_type == type)
                        return res.ev[i];
        return NULL;
}

static bool contains(const void *hay, size_t len, const char *needle)
{
        if (!*needle)
                return false;
        return memmem(hay, len, needle, strlen(needle)) != NULL;
}

/* ---- Milwaukee: the fields of one event ---- */

START_TEST(mke_event_fields)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1234 N 35TH ST,MKE", "BATTERY DV"));
        ev = map_one();
        ck_assert_str_eq(ev->incident_id, "9100001");
        ck_assert_int_eq(ev->event_type, HEARTH__V1__EVENT_TYPE__CALL_RECEIVED);
        ck_assert_int_eq(ev->ingest_time_ms, INGEST_MS);
        ck_assert_str_eq(ev->province_code, "55");
        ck_assert_str_eq(ev->city_code, "5553000");
        ck_assert_str_eq(ev->district_code, "3");
        ck_assert_str_eq(ev->station_code, "");
        ck_assert_ptr_nonnull(ev->category);
        ck_assert_str_eq(ev->category->code, "BATTERY DV");
        ck_assert_str_eq(ev->category->text, "BATTERY DV");
        ck_assert(ev->is_domestic);
        ck_assert_str_eq(ev->caller_key, "");
        ck_assert_uint_eq(ev->n_parties, 0);
        ck_assert_ptr_nonnull(ev->source);
        ck_assert_str_eq(ev->source->profile, "milwaukee_mpd");
        ck_assert_uint_eq(ev->source->record_number, 1);
        ck_assert_str_eq(ev->source->file, "calls.csv");
        expect_eof();
}
END_TEST

START_TEST(mke_mapped_event_summary)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1234 N 35TH ST,MKE", "BATTERY DV"));
        map_one();
        ck_assert_str_eq(res.out[0].key, "3");
        ck_assert_int_eq(res.out[0].event_type,
                         HEARTH__V1__EVENT_TYPE__CALL_RECEIVED);
        ck_assert_int_eq(res.out[0].event_time_ms, INT64_C(1525151428000));
        ck_assert(res.out[0].domestic);
        ck_assert_uint_eq(res.out[0].record_number, 1);
}
END_TEST

/* 2018-05-01 00:10:28 CDT is 05:10:28 UTC. */
START_TEST(mke_time_daylight_saving)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1234 N 35TH ST,MKE", "BATTERY DV"));
        ck_assert_int_eq(map_one()->event_time_ms, INT64_C(1525151428000));
}
END_TEST

/* 2018-01-15 23:30:00 CST is 2018-01-16 05:30:00 UTC. */
START_TEST(mke_time_standard)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_ROW("9100002", "2018-01-15 23:30:00",
                                        "1234 N 35TH ST,MKE", "43.05",
                                        "-87.95", "BATTERY"));
        ck_assert_int_eq(map_one()->event_time_ms, INT64_C(1516080600000));
}
END_TEST

/* ---- Milwaukee: domestic detection and category flags ---- */

START_TEST(mke_domestic_by_regex)
{
        static const struct {
                const char *nature;
                bool domestic;
        } cases[] = {
                {"BATTERY DV", true},       {"TRBL W/SUBJ-DV", true},
                {"FAMILY TROUBLE", true},   {"SUBJ WITH WEAPON/DV", true},
                {"TRAFFIC STOP", false},    {"VIOL REST ORDER", false},
                {"BATTERY", false},         {"DV", false},
                {"ADVISED", false},
        };
        size_t n = sizeof(cases) / sizeof(cases[0]);
        char text[2048] = MKE_HEADER;

        for (size_t i = 0; i < n; i++) {
                size_t len = strlen(text);

                snprintf(text + len, sizeof(text) - len,
                         "91%05zu,2018-05-01 00:10:28,\"1 W MAIN ST,MKE\","
                         "43.05,-87.95,3,%s,Open\n",
                         i, cases[i].nature);
        }
        open_shipped("milwaukee_mpd", text);
        for (size_t i = 0; i < n; i++) {
                const Hearth__V1__IncidentEvent *ev = map_one();

                ck_assert_msg(ev->is_domestic == cases[i].domestic,
                              "%s: is_domestic %d", cases[i].nature,
                              (int)ev->is_domestic);
                ck_assert_msg(res.out[0].domestic == cases[i].domestic,
                              "%s: summary domestic %d", cases[i].nature,
                              (int)res.out[0].domestic);
        }
        expect_eof();
}
END_TEST

START_TEST(mke_category_flags_gun)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1 W MAIN ST", "SUBJ WITH GUN"));
        ev = map_one();
        ck_assert(ev->risk->weapon);
        ck_assert(ev->risk->firearm);
        ck_assert(!ev->risk->injury);
        ck_assert(!ev->risk->stalking);
        ck_assert(!ev->is_domestic);
}
END_TEST

START_TEST(mke_category_flags_cut)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1 W MAIN ST", "CUTTING-DV"));
        ev = map_one();
        ck_assert(ev->risk->weapon);
        ck_assert(ev->risk->injury);
        ck_assert(!ev->risk->firearm);
        ck_assert(ev->is_domestic);
}
END_TEST

START_TEST(mke_category_flags_restraining_order)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1 W MAIN ST", "VIOL REST ORDER"));
        ev = map_one();
        ck_assert(ev->risk->stalking);
        ck_assert(!ev->risk->weapon);
        ck_assert(!ev->is_domestic);
}
END_TEST

START_TEST(mke_no_flags_for_plain_category)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1 W MAIN ST", "BATTERY DV"));
        ev = map_one();
        ck_assert(!ev->risk->weapon);
        ck_assert(!ev->risk->firearm);
        ck_assert(!ev->risk->injury);
        ck_assert(!ev->risk->stalking);
        ck_assert(!ev->risk->victim_fears_death);
}
END_TEST

/* ---- Milwaukee: addresses ---- */

START_TEST(mke_address_key_known_answer)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1234 N 35TH ST,MKE", "BATTERY DV"));
        ck_assert_str_eq(map_one()->address_key, ADDR_1234_N_35TH);
}
END_TEST

START_TEST(mke_address_case_and_spaces_folded)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1234 n  35th st,MKE", "BATTERY DV")
                     MKE_CALL("1234 N 35TH ST", "BATTERY DV")
                     MKE_CALL(" 1234 N\t35TH ST , mke ", "BATTERY DV")
                     MKE_CALL("1234 N 35TH ST,MKE", "BATTERY DV"));
        ck_assert_str_eq(map_one()->address_key, ADDR_1234_N_35TH);
        ck_assert_str_eq(map_one()->address_key, ADDR_1234_N_35TH);
        ck_assert_str_eq(map_one()->address_key, ADDR_1234_N_35TH);
        ck_assert_str_eq(map_one()->address_key, ADDR_1234_N_35TH);
        expect_eof();
}
END_TEST

START_TEST(mke_other_address_differs)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1236 N 35TH ST,MKE", "BATTERY DV"));
        ev = map_one();
        ck_assert_str_ne(ev->address_key, ADDR_1234_N_35TH);
        ck_assert_str_eq(ev->address_key, pseudonym("addr", "1236 N 35TH ST"));
}
END_TEST

/* Police stations give no household key, but the record is kept. */
START_TEST(mke_ignored_address_no_key)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("2920 N 4TH ST,MKE", "BATTERY DV")
                     MKE_CALL("749 w state st", "FAMILY TROUBLE"));
        ev = map_one();
        ck_assert_str_eq(ev->address_key, "");
        ck_assert(!ev->location_withheld);
        ck_assert(ev->is_domestic);
        ev = map_one();
        ck_assert_str_eq(ev->address_key, "");
        expect_eof();
}
END_TEST

START_TEST(mke_suffix_only_address_no_key)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL(",MKE", "BATTERY DV"));
        ck_assert_str_eq(map_one()->address_key, "");
}
END_TEST

START_TEST(mke_empty_address_no_key)
{
        open_shipped("milwaukee_mpd", MKE_HEADER MKE_CALL("", "BATTERY DV"));
        ck_assert_str_eq(map_one()->address_key, "");
}
END_TEST

/* ---- Milwaukee: coordinates ---- */

START_TEST(mke_coordinates_inside_bbox)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_CALL("1 W MAIN ST", "BATTERY DV"));
        ev = map_one();
        ck_assert(ev->has_coordinates);
        ck_assert_double_eq(ev->lat, 43.05);
        ck_assert_double_eq(ev->lon, -87.95);
}
END_TEST

START_TEST(mke_coordinates_outside_bbox_dropped)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     MKE_ROW("9100001", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "41.50", "-87.95", "BATTERY DV")
                     MKE_ROW("9100002", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "43.05", "-89.00", "BATTERY DV")
                     MKE_ROW("9100003", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "0", "0", "BATTERY DV"));
        for (int i = 0; i < 3; i++) {
                ev = map_one();
                ck_assert(!ev->has_coordinates);
                ck_assert_double_eq(ev->lat, 0);
                ck_assert_double_eq(ev->lon, 0);
                ck_assert(ev->is_domestic);
        }
        expect_eof();
}
END_TEST

START_TEST(mke_coordinates_invalid_dropped)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     MKE_ROW("9100001", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "43.05x", "-87.95", "BATTERY DV")
                     MKE_ROW("9100002", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "", "-87.95", "BATTERY DV")
                     MKE_ROW("9100003", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "nan", "-87.95", "BATTERY DV"));
        ck_assert(!map_one()->has_coordinates);
        ck_assert(!map_one()->has_coordinates);
        ck_assert(!map_one()->has_coordinates);
        expect_eof();
}
END_TEST

/* ---- rejected records ---- */

START_TEST(wrong_column_count_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     "9100001,2018-05-01 00:10:28,1 W MAIN ST,43.05,-87.95,3,"
                     "BATTERY DV\n"
                     "9100002,2018-05-01 00:10:28,1 W MAIN ST,43.05,-87.95,3,"
                     "BATTERY DV,Open,extra\n"
                     MKE_CALL("1 W MAIN ST", "BATTERY DV"));
        ck_assert_str_eq(map_rejected(), "wrong_column_count");
        ck_assert_str_eq(res.err.detail, "record has 7 columns, expected 8");
        ck_assert_str_eq(map_rejected(), "wrong_column_count");
        ck_assert_str_eq(res.err.detail, "record has 9 columns, expected 8");
        /* The next good record still maps. */
        ck_assert_str_eq(map_one()->incident_id, "9100001");
}
END_TEST

START_TEST(empty_incident_id_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     MKE_ROW("", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "43.05", "-87.95", "BATTERY DV")
                     MKE_ROW("   ", "2018-05-01 00:10:28", "1 W MAIN ST",
                             "43.05", "-87.95", "BATTERY DV"));
        ck_assert_str_eq(map_rejected(), "missing_incident_id");
        ck_assert_str_eq(map_rejected(), "missing_incident_id");
}
END_TEST

START_TEST(invalid_time_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     MKE_ROW("9100001", "2018-02-30 10:00:00", "1 W MAIN ST",
                             "43.05", "-87.95", "BATTERY DV")
                     MKE_ROW("9100002", "yesterday", "1 W MAIN ST",
                             "43.05", "-87.95", "BATTERY DV")
                     MKE_ROW("9100003", "05/01/2018 00:10", "1 W MAIN ST",
                             "43.05", "-87.95", "BATTERY DV"));
        ck_assert_str_eq(map_rejected(), "invalid_time");
        ck_assert_str_eq(map_rejected(), "invalid_time");
        ck_assert_ptr_nonnull(strstr(res.err.detail, "\"time\""));
        ck_assert_ptr_nonnull(strstr(res.err.detail, "%Y-%m-%d %H:%M:%S"));
        ck_assert_ptr_null(strstr(res.err.detail, "yesterday"));
        ck_assert_str_eq(map_rejected(), "invalid_time");
}
END_TEST

/* 2:30 on 2018-03-11 does not exist in Chicago (clocks jump to 3:00). */
START_TEST(skipped_local_time_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_ROW("9100001", "2018-03-11 02:30:00",
                                        "1 W MAIN ST", "43.05", "-87.95",
                                        "BATTERY DV"));
        ck_assert_str_eq(map_rejected(), "invalid_time");
}
END_TEST

START_TEST(empty_time_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER MKE_ROW("9100001", "", "1 W MAIN ST",
                                        "43.05", "-87.95", "BATTERY DV"));
        ck_assert_str_eq(map_rejected(), "missing_time");
        ck_assert_ptr_nonnull(strstr(res.err.detail, "CALL_RECEIVED"));
}
END_TEST

START_TEST(invalid_utf8_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER
                     MKE_CALL("1 W MAIN ST", "BATTERY \xff")
                     MKE_CALL("1 W MAIN \xc0\xaf ST", "BATTERY DV")
                     MKE_CALL("1 W MAIN ST", "BATTERY \xe8\xad"));
        ck_assert_str_eq(map_rejected(), "invalid_utf8");
        ck_assert_str_eq(map_rejected(), "invalid_utf8");
        ck_assert_str_eq(map_rejected(), "invalid_utf8");
}
END_TEST

/* An unused column is checked too: status is not mapped. */
START_TEST(invalid_utf8_in_unused_column_rejected)
{
        open_shipped("milwaukee_mpd",
                     MKE_HEADER "9100001,2018-05-01 00:10:28,1 W MAIN ST,"
                                "43.05,-87.95,3,BATTERY DV,Op\xffn\n");
        ck_assert_str_eq(map_rejected(), "invalid_utf8");
}
END_TEST

START_TEST(long_incident_id_rejected)
{
        char text[1024] = MKE_HEADER;
        size_t len = strlen(text);

        memset(text + len, '7', 129);
        snprintf(text + len + 129, sizeof(text) - len - 129,
                 ",2018-05-01 00:10:28,1 W MAIN ST,43.05,-87.95,3,"
                 "BATTERY DV,Open\n");
        open_shipped("milwaukee_mpd", text);
        ck_assert_str_eq(map_rejected(), "field_too_long");
        ck_assert_ptr_nonnull(strstr(res.err.detail, "incident_id"));
}
END_TEST

#define SMALL_PROFILE \
        "{\"name\": \"small\", \"incident_id\": \"id\", " \
        "\"domestic\": {\"column\": \"nature\", \"values\": [\"DV\"]}, " \
        "\"limits\": {\"max_field_bytes\": 16}, " \
        "\"events\": [{\"type\": \"CALL_RECEIVED\", \"time\": " \
        "{\"column\": \"time\", \"format\": \"epoch_s\"}}]}"

START_TEST(field_over_limit_rejected_by_source)
{
        open_inline(SMALL_PROFILE,
                    "id,time,nature\n"
                    "1,1709298605,DV-DV-DV-DV-DV-DV\n"
                    "2,1709298605,DV-DV-DV-DV-DV-D\n");
        ck_assert_str_eq(source_rejected(), "field_too_long");
        ck_assert_uint_eq(res.rec.record_number, 1);
        /* A field of exactly 16 bytes is accepted. */
        ck_assert_str_eq(map_one()->incident_id, "2");
        ck_assert_uint_eq(res.rec.record_number, 2);
        expect_eof();
}
END_TEST

START_TEST(epoch_time_and_value_domestic)
{
        const Hearth__V1__IncidentEvent *ev;

        open_inline(SMALL_PROFILE, "id,time,nature\n1,1709298605,DV\n"
                                   "2,1709298605,dv\n");
        ev = map_one();
        ck_assert_int_eq(ev->event_time_ms, INT64_C(1709298605000));
        ck_assert(ev->is_domestic);
        /* Domestic values match exactly, without case folding. */
        ck_assert(!map_one()->is_domestic);
}
END_TEST

START_TEST(missing_header_column_fails_open)
{
        char err[256] = "";

        in.profile = hearth_profile_load("connectors/profiles/"
                                         "milwaukee_mpd.json",
                                         err, sizeof(err));
        ck_assert_ptr_nonnull(in.profile);
        open_memory("id,time,location,latitude,longitude,district,status\n");
        ck_assert_ptr_null(hearth_source_open(in.fp, in.profile, err,
                                              sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "column \"nature\""));
}
END_TEST

START_TEST(empty_input_fails_open)
{
        char err[256] = "";

        in.profile = hearth_profile_load("connectors/profiles/"
                                         "milwaukee_mpd.json",
                                         err, sizeof(err));
        ck_assert_ptr_nonnull(in.profile);
        in.fp = fopen("/dev/null", "rb");
        ck_assert_ptr_nonnull(in.fp);
        ck_assert_ptr_null(hearth_source_open(in.fp, in.profile, err,
                                              sizeof(err)));
        ck_assert_ptr_nonnull(strstr(err, "no header"));
}
END_TEST

/* ---- Orlando ---- */

START_TEST(orlando_restricted_address_withheld)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("orlando_pd",
                     ORLANDO_HEADER
                     "7,1/25/2022 20:27,Domestic disturbance,"
                     "Restricted Address\n"
                     "8,1/25/2022 20:28,Domestic disturbance,"
                     "restricted  address\n");
        ev = map_one();
        ck_assert(ev->location_withheld);
        ck_assert_str_eq(ev->address_key, "");
        ck_assert(ev->is_domestic);
        ck_assert_str_eq(ev->incident_id, "7");
        ck_assert_str_eq(ev->district_code, "OPD");
        ck_assert_int_eq(ev->event_time_ms, INT64_C(1643160420000));
        ev = map_one();
        ck_assert(ev->location_withheld);
        ck_assert_str_eq(ev->address_key, "");
}
END_TEST

START_TEST(orlando_plain_address_keyed)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("orlando_pd",
                     ORLANDO_HEADER
                     "9,1/25/2022 20:30,Bank alarm,8200 BLOCK EXAMPLE BLVD\n"
                     "10,1/25/2022 20:31,Suspicious incident,1 BLOCK\n");
        ev = map_one();
        ck_assert(!ev->location_withheld);
        ck_assert_str_eq(ev->address_key,
                         pseudonym("addr", "8200 BLOCK EXAMPLE BLVD"));
        ck_assert(!ev->is_domestic);
        ck_assert(!ev->has_coordinates);
        ev = map_one();
        ck_assert(!ev->location_withheld);
        ck_assert_str_eq(ev->address_key, "");
}
END_TEST

/* ---- Berkeley ---- */

START_TEST(berkeley_multiline_coordinates)
{
        const Hearth__V1__IncidentEvent *ev;

        open_shipped("berkeley_pd",
                     BERKELEY_HEADER
                     "19900001,DOMESTIC VIOLENCE,03/13/2019 12:00:00 AM,14:05,"
                     "FAMILY OFFENSE,3,09/11/2019 08:02:59 AM,"
                     "\"2500 EXAMPLE AV\nBerkeley, CA\n(37.86, -122.26)\","
                     "2500 EXAMPLE AV,Berkeley,CA\n");
        ev = map_one();
        ck_assert(ev->has_coordinates);
        ck_assert_double_eq(ev->lat, 37.86);
        ck_assert_double_eq(ev->lon, -122.26);
        ck_assert(ev->is_domestic);
        ck_assert_str_eq(ev->category->code, "DOMESTIC VIOLENCE");
        ck_assert_str_eq(ev->category->text, "FAMILY OFFENSE");
        ck_assert_str_eq(ev->address_key,
                         pseudonym("addr", "2500 EXAMPLE AV"));
}
END_TEST

/* The date column gives the day and EVENTTM the time: 14:05 PDT. */
START_TEST(berkeley_date_and_time_columns)
{
        open_shipped("berkeley_pd",
                     BERKELEY_HEADER
                     "19900001,DOMESTIC VIOLENCE,03/13/2019 12:00:00 AM,14:05,"
                     "FAMILY OFFENSE,3,09/11/2019 08:02:59 AM,"
                     "\"2500 EXAMPLE AV\nBerkeley, CA\n(37.86, -122.26)\","
                     "2500 EXAMPLE AV,Berkeley,CA\n");
        ck_assert_int_eq(map_one()->event_time_ms, INT64_C(1552511100000));
}
END_TEST

START_TEST(berkeley_missing_coordinates)
{
        open_shipped("berkeley_pd",
                     BERKELEY_HEADER
                     "19900002,VANDALISM,03/13/2019 12:00:00 AM,09:00,"
                     "VANDALISM,3,09/11/2019 08:02:59 AM,"
                     "\"2500 EXAMPLE AV\nBerkeley, CA\","
                     "2500 EXAMPLE AV,Berkeley,CA\n"
                     "19900003,VANDALISM,03/13/2019 12:00:00 AM,09:00,"
                     "VANDALISM,3,09/11/2019 08:02:59 AM,"
                     "\"2500 EXAMPLE AV\nBerkeley, CA\n(0.0, 0.0)\","
                     "2500 EXAMPLE AV,Berkeley,CA\n");
        ck_assert(!map_one()->has_coordinates);
        ck_assert(!map_one()->has_coordinates);
        ck_assert(!res.ev[0]->is_domestic);
}
END_TEST

START_TEST(berkeley_missing_time_of_day_rejected)
{
        open_shipped("berkeley_pd",
                     BERKELEY_HEADER
                     "19900004,DOMESTIC VIOLENCE,03/13/2019 12:00:00 AM,,"
                     "FAMILY OFFENSE,3,09/11/2019 08:02:59 AM,"
                     "\"2500 EXAMPLE AV\nBerkeley, CA\n(37.86, -122.26)\","
                     "2500 EXAMPLE AV,Berkeley,CA\n");
        ck_assert_str_eq(map_rejected(), "invalid_time");
}
END_TEST

/* ---- JSON Lines ---- */

#define JSONL_PROFILE \
        "{\"name\": \"jl\", \"format\": \"jsonl\", \"incident_id\": \"id\", " \
        "\"domestic\": {\"column\": \"type\", \"values\": [\"DV\"]}, " \
        "\"address\": \"addr\", \"caller\": \"phone\", " \
        "\"coordinates\": {\"lat\": \"lat\", \"lon\": \"lon\"}, " \
        "\"events\": [{\"type\": \"CALL_RECEIVED\", \"time\": " \
        "{\"column\": \"ts\", \"format\": \"epoch_ms\"}}]}"

START_TEST(jsonl_record_mapped)
{
        const Hearth__V1__IncidentEvent *ev;

        open_inline(JSONL_PROFILE,
                    "{\"id\": 42, \"ts\": 1709298605000, \"type\": \"DV\", "
                    "\"addr\": \"1234 N 35TH ST\", \"lat\": 30.25, "
                    "\"lon\": 120.17, \"phone\": \"13800000001\"}\n");
        ev = map_one();
        ck_assert_str_eq(ev->incident_id, "42");
        ck_assert_int_eq(ev->event_time_ms, INT64_C(1709298605000));
        ck_assert(ev->is_domestic);
        ck_assert_str_eq(ev->address_key, ADDR_1234_N_35TH);
        ck_assert_str_eq(ev->caller_key, PHONE_13800000001);
        ck_assert(ev->has_coordinates);
        ck_assert_double_eq(ev->lat, 30.25);
        ck_assert_double_eq(ev->lon, 120.17);
        expect_eof();
}
END_TEST

START_TEST(jsonl_bad_records_rejected)
{
        open_inline(JSONL_PROFILE,
                    "{\"id\": \"1\", \"ts\": \"bad\n"
                    "[1, 2]\n"
                    "\n"
                    "{\"id\": \"2\", \"ts\": 1709298605000, "
                    "\"type\": {\"a\": 1}}\n"
                    "{\"id\": \"\", \"ts\": 1709298605000}\n"
                    "{\"id\": \"3\", \"ts\": \"x\"}\n"
                    "{\"id\": \"5\", \"ts\": 1709298605000}\n");
        ck_assert_str_eq(source_rejected(), "invalid_json");
        ck_assert_str_eq(source_rejected(), "not_an_object");
        /* The blank line is skipped without a record number. */
        ck_assert_str_eq(map_rejected(), "invalid_field_type");
        ck_assert_uint_eq(res.rec.record_number, 3);
        ck_assert_str_eq(map_rejected(), "missing_incident_id");
        ck_assert_str_eq(map_rejected(), "invalid_time");
        ck_assert_str_eq(map_one()->incident_id, "5");
        expect_eof();
}
END_TEST

START_TEST(jsonl_invalid_utf8_line_rejected)
{
        open_inline(JSONL_PROFILE,
                    "{\"id\": \"1\", \"ts\": 1709298605000, "
                    "\"addr\": \"\xff\"}\n");
        ck_assert_str_eq(source_rejected(), "invalid_utf8");
}
END_TEST

/* ---- cn_110 sample file ---- */

START_TEST(cn_sample_every_record_maps)
{
        int records = 0, domestic = 0, events = 0;
        hearth_source_status_t st;

        open_cn_sample();
        for (;;) {
                clear_result();
                st = hearth_source_next(in.source, &res.rec);
                if (st != HEARTH_SOURCE_OK)
                        break;
                map_current();
                ck_assert_msg(res.n > 0, "record %d: reason %s", records + 1,
                              res.err.reason ? res.err.reason : "none");
                records++;
                domestic += res.ev[0]->is_domestic;
                events += res.n;
        }
        ck_assert_int_eq(st, HEARTH_SOURCE_EOF);
        ck_assert_int_eq(records, 33);
        ck_assert_int_eq(domestic, 18);
        ck_assert_int_eq(events, 145);
}
END_TEST

/* Every lifecycle column is filled: six events in profile order. */
START_TEST(cn_full_lifecycle)
{
        static const struct {
                int type;
                int64_t ms;
        } expected[] = {
                {HEARTH__V1__EVENT_TYPE__CALL_RECEIVED, 1709394011000},
                {HEARTH__V1__EVENT_TYPE__DISPATCHED, 1709394110000},
                {HEARTH__V1__EVENT_TYPE__ARRIVED, 1709395100000},
                {HEARTH__V1__EVENT_TYPE__DISPOSED, 1709395100000},
                {HEARTH__V1__EVENT_TYPE__WARNING_ISSUED, 1709397000000},
                {HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT, 1709604000000},
        };

        map_cn_record("JQ3301022024030200072");
        ck_assert_int_eq(res.n, 6);
        for (int i = 0; i < 6; i++) {
                ck_assert_int_eq(res.ev[i]->event_type, expected[i].type);
                ck_assert_int_eq(res.ev[i]->event_time_ms, expected[i].ms);
                ck_assert_int_eq(res.out[i].event_time_ms, expected[i].ms);
                ck_assert_str_eq(res.ev[i]->incident_id,
                                 "JQ3301022024030200072");
        }
}
END_TEST

START_TEST(cn_call_only)
{
        const Hearth__V1__IncidentEvent *ev;

        map_cn_record("JQ3301052024031300164");
        ck_assert_int_eq(res.n, 1);
        ev = res.ev[0];
        ck_assert_int_eq(ev->event_type, HEARTH__V1__EVENT_TYPE__CALL_RECEIVED);
        ck_assert_int_eq(ev->event_time_ms, INT64_C(1710327600000));
        ck_assert(!ev->has_coordinates);
        ck_assert_int_eq(ev->disposition,
                         HEARTH__V1__DISPOSITION__DISPOSITION_UNSPECIFIED);
        ck_assert(!ev->is_domestic);
}
END_TEST

START_TEST(cn_warning_without_time_skipped)
{
        map_cn_record("JQ3301022024030800031");
        ck_assert_int_eq(res.n, 4);
        ck_assert_ptr_nonnull(
                event_of_type(HEARTH__V1__EVENT_TYPE__DISPOSED));
        ck_assert_ptr_null(
                event_of_type(HEARTH__V1__EVENT_TYPE__WARNING_ISSUED));
        ck_assert_ptr_null(
                event_of_type(HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT));
}
END_TEST

START_TEST(cn_warning_without_follow_up)
{
        const Hearth__V1__IncidentEvent *ev;

        map_cn_record("JQ3301052024031000086");
        ck_assert_int_eq(res.n, 5);
        ev = event_of_type(HEARTH__V1__EVENT_TYPE__WARNING_ISSUED);
        ck_assert_ptr_nonnull(ev);
        /* 2024-03-10 21:40:00 in Shanghai is 13:40:00 UTC. */
        ck_assert_int_eq(ev->event_time_ms, INT64_C(1710078000000));
        ck_assert_ptr_null(
                event_of_type(HEARTH__V1__EVENT_TYPE__FOLLOW_UP_VISIT));
        ck_assert_int_eq(ev->disposition, HEARTH__V1__DISPOSITION__WARNED);
}
END_TEST

/* 是否告诫 is 否, so no WARNING_ISSUED whatever the other columns hold. */
START_TEST(cn_no_warning_when_not_warned)
{
        map_cn_record("JQ3301022024030100011");
        ck_assert_int_eq(res.n, 4);
        ck_assert_ptr_null(
                event_of_type(HEARTH__V1__EVENT_TYPE__WARNING_ISSUED));
        ck_assert_int_eq(res.ev[0]->disposition,
                         HEARTH__V1__DISPOSITION__MEDIATED);
}
END_TEST

START_TEST(cn_region_fields)
{
        const Hearth__V1__IncidentEvent *ev;

        map_cn_record("JQ3301062024030500018");
        ev = res.ev[0];
        ck_assert_str_eq(ev->province_code, "330000");
        ck_assert_str_eq(ev->city_code, "330100");
        ck_assert_str_eq(ev->district_code, "330106");
        ck_assert_str_eq(ev->station_code, "城西派出所");
        ck_assert_str_eq(ev->grid_id, "G330106-05");
        ck_assert_str_eq(ev->category->code, "刑事");
        ck_assert_str_eq(ev->category->text, "家庭暴力");
        ck_assert(ev->is_domestic);
        ck_assert_int_eq(ev->disposition, HEARTH__V1__DISPOSITION__DETAINED);
        ck_assert(ev->has_coordinates);
        ck_assert_double_eq(ev->lat, 30.2735);
        ck_assert_double_eq(ev->lon, 120.1021);
        ck_assert_str_eq(res.out[0].key, "330106");
        ck_assert_str_eq(ev->address_key,
                         pseudonym("addr", "3301060003000305"));
}
END_TEST

START_TEST(cn_parties_from_id_numbers)
{
        Hearth__V1__Party **p;

        map_cn_record("JQ3301062024030500018");
        ck_assert_uint_eq(res.ev[0]->n_parties, 3);
        p = res.ev[0]->parties;
        ck_assert_int_eq(p[0]->role, HEARTH__V1__PARTY_ROLE__VICTIM);
        ck_assert_str_eq(p[0]->person_key,
                         pseudonym("person", "330106197806300460"));
        ck_assert_int_eq(p[0]->sex, HEARTH__V1__SEX__FEMALE);
        ck_assert_int_eq(p[0]->age_band, HEARTH__V1__AGE_BAND__AGE_45_59);
        ck_assert(!p[0]->minor);
        ck_assert_int_eq(p[1]->role, HEARTH__V1__PARTY_ROLE__SUSPECT);
        ck_assert_str_eq(p[1]->person_key,
                         pseudonym("person", "33010619761201057X"));
        ck_assert_int_eq(p[1]->sex, HEARTH__V1__SEX__MALE);
        ck_assert_int_eq(p[1]->age_band, HEARTH__V1__AGE_BAND__AGE_45_59);
        ck_assert_int_eq(p[2]->role, HEARTH__V1__PARTY_ROLE__WITNESS);
        ck_assert_int_eq(p[2]->sex, HEARTH__V1__SEX__MALE);
        ck_assert_int_eq(p[2]->age_band, HEARTH__V1__AGE_BAND__AGE_UNDER_18);
        ck_assert(p[2]->minor);
}
END_TEST

/* Every event of a record carries the same parties. */
START_TEST(cn_parties_on_every_event)
{
        map_cn_record("JQ3301062024030500018");
        ck_assert_int_eq(res.n, 6);
        for (int i = 0; i < res.n; i++) {
                ck_assert_uint_eq(res.ev[i]->n_parties, 3);
                ck_assert_str_eq(res.ev[i]->parties[0]->person_key,
                                 res.ev[0]->parties[0]->person_key);
        }
}
END_TEST

START_TEST(cn_age_bands)
{
        Hearth__V1__Party **p;

        map_cn_record("JQ3301022024032700230");
        p = res.ev[0]->parties;
        /* Born 2001-09-09 and 1999-01-25. */
        ck_assert_int_eq(p[0]->age_band, HEARTH__V1__AGE_BAND__AGE_18_29);
        ck_assert_int_eq(p[0]->sex, HEARTH__V1__SEX__FEMALE);
        ck_assert_int_eq(p[1]->age_band, HEARTH__V1__AGE_BAND__AGE_18_29);
        ck_assert_int_eq(p[1]->sex, HEARTH__V1__SEX__MALE);
        restart();
        map_cn_record("JQ3301052024031200042");
        p = res.ev[0]->parties;
        /* Born 1960-04-04 and 1958-10-10. */
        ck_assert_int_eq(p[0]->age_band, HEARTH__V1__AGE_BAND__AGE_60_PLUS);
        ck_assert_int_eq(p[1]->age_band, HEARTH__V1__AGE_BAND__AGE_60_PLUS);
}
END_TEST

/* A caller party (报警人) keeps its role. */
START_TEST(cn_caller_party_role)
{
        map_cn_record("JQ3301022024030300033");
        ck_assert_uint_eq(res.ev[0]->n_parties, 3);
        ck_assert_int_eq(res.ev[0]->parties[2]->role,
                         HEARTH__V1__PARTY_ROLE__CALLER);
        ck_assert_str_eq(res.ev[0]->parties[2]->person_key,
                         pseudonym("person", "330102198508181044"));
}
END_TEST

/* One ID number ends in 'x' in one sample record and in 'X' in another. */
START_TEST(cn_person_key_ignores_x_case)
{
        char lower_x[HEARTH_PSEUDO_MAX_LEN];

        map_cn_record("JQ3301062024030500018");
        snprintf(lower_x, sizeof(lower_x), "%s",
                 res.ev[0]->parties[1]->person_key);
        restart();
        map_cn_record("JQ3301062024030600029");
        ck_assert_str_eq(res.ev[0]->parties[1]->person_key, lower_x);
}
END_TEST

START_TEST(cn_caller_key)
{
        map_cn_record("JQ3301022024030100011");
        ck_assert_str_eq(res.ev[0]->caller_key, PHONE_13800000001);
}
END_TEST

/* The caller key of "138-0000-0002" is the key of its digits. */
START_TEST(cn_caller_key_digits_only)
{
        map_cn_record("JQ3301022024030300033");
        ck_assert_str_eq(res.ev[0]->caller_key,
                         pseudonym("phone", "13800000002"));
}
END_TEST

START_TEST(cn_unknown_disposition_other)
{
        const Hearth__V1__IncidentEvent *ev;

        map_cn_record("JQ3301022024031600186");
        ev = res.ev[0];
        ck_assert_int_eq(ev->disposition,
                         HEARTH__V1__DISPOSITION__OTHER_DISPOSITION);
        /* The record's coordinates are 0, 0: outside the bbox. */
        ck_assert(!ev->has_coordinates);
}
END_TEST

START_TEST(cn_risk_knife_threat_children)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301062024030500018");
        r = res.ev[0]->risk;
        ck_assert(r->weapon);
        ck_assert(r->threat_to_kill);
        ck_assert(r->children_present);
        ck_assert(!r->strangulation);
        ck_assert(!r->firearm);
        ck_assert(!r->injury);
        ck_assert(!r->intoxication);
}
END_TEST

START_TEST(cn_risk_strangulation_injury)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301022024030200072");
        r = res.ev[0]->risk;
        ck_assert(r->strangulation);
        ck_assert(r->threat_to_kill);
        ck_assert(r->injury);
        ck_assert(!r->weapon);
        ck_assert(!r->children_present);
}
END_TEST

START_TEST(cn_risk_pregnancy)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301022024030800031");
        r = res.ev[0]->risk;
        ck_assert(r->pregnancy);
        ck_assert(r->strangulation);
        ck_assert(!r->threat_to_kill);
}
END_TEST

START_TEST(cn_risk_separation_stalking)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301062024031800075");
        r = res.ev[0]->risk;
        ck_assert(r->separation);
        ck_assert(r->stalking);
        ck_assert(!r->escalation);
}
END_TEST

START_TEST(cn_risk_fear_and_threat)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301062024032000086");
        r = res.ev[0]->risk;
        ck_assert(r->threat_to_kill);
        ck_assert(r->victim_fears_death);
        ck_assert(!r->weapon);
}
END_TEST

/* The keyword sits on the second line of a multi-line narrative. */
START_TEST(cn_risk_multiline_narrative)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301022024030300033");
        r = res.ev[0]->risk;
        ck_assert(r->weapon);
        ck_assert(r->escalation);
        ck_assert(!r->threat_to_kill);
}
END_TEST

START_TEST(cn_no_risk_keywords)
{
        const Hearth__V1__RiskFlags *r;

        map_cn_record("JQ3301022024030400014");
        r = res.ev[0]->risk;
        ck_assert(!r->weapon);
        ck_assert(!r->injury);
        ck_assert(!r->threat_to_kill);
        ck_assert(!r->intoxication);
        ck_assert(!res.ev[0]->is_domestic);
}
END_TEST

/* All calls at one household share an address key, domestic or not. */
START_TEST(cn_household_address_key)
{
        char key[HEARTH_PSEUDO_MAX_LEN];

        map_cn_record("JQ3301022024030100011");
        snprintf(key, sizeof(key), "%s", res.ev[0]->address_key);
        ck_assert_str_eq(key, pseudonym("addr", "3301020001000101"));
        restart();
        map_cn_record("JQ3301022024030400014");
        ck_assert_str_eq(res.ev[0]->address_key, key);
        restart();
        map_cn_record("JQ3301052024030200025");
        ck_assert_str_ne(res.ev[0]->address_key, key);
}
END_TEST

/* Returns true when any event of res contains needle. */
static bool result_contains(const char *needle)
{
        for (int i = 0; i < res.n; i++)
                if (contains(res.out[i].payload, res.out[i].payload_len,
                             needle))
                        return true;
        return false;
}

/* Asserts that no piece of text between separators leaks into res. */
static void assert_pieces_absent(const char *text, const char *column)
{
        static const char *seps[] = {"，", "。", "：", "\n"};
        const char *start = text;

        while (*start) {
                const char *end = start + strlen(start);
                size_t sep_len = 0;
                char *piece;

                for (size_t i = 0; i < sizeof(seps) / sizeof(seps[0]); i++) {
                        const char *at = strstr(start, seps[i]);

                        if (at && at < end) {
                                end = at;
                                sep_len = strlen(seps[i]);
                        }
                }
                /* Skip pieces shorter than two CJK characters. */
                piece = strndup(start, (size_t)(end - start));
                if (strlen(piece) >= 6)
                        ck_assert_msg(!result_contains(piece),
                                      "record %llu leaks %s text \"%s\"",
                                      (unsigned long long)
                                              res.rec.record_number,
                                      column, piece);
                free(piece);
                start = end + sep_len;
        }
}

/*
 * No raw ID number, phone number, address or narrative from the sample
 * appears anywhere in the packed events.
 */
START_TEST(cn_no_raw_identifiers_in_payload)
{
        int records = 0;

        open_cn_sample();
        for (;;) {
                char **f;
                char *parties, *save = NULL;

                clear_result();
                if (hearth_source_next(in.source, &res.rec) !=
                    HEARTH_SOURCE_OK)
                        break;
                f = res.rec.row.fields;
                map_current();
                ck_assert_int_gt(res.n, 0);
                records++;
                /* Columns: 4 phone, 5 address, 6 address code. */
                ck_assert_msg(!result_contains(f[4]), "phone leaked");
                ck_assert_msg(!result_contains(f[5]), "address leaked");
                ck_assert_msg(!result_contains(f[6]), "address code leaked");
                /* 14 narrative, 16 parties as "role:id;role:id". */
                ck_assert_msg(!result_contains(f[14]), "narrative leaked");
                assert_pieces_absent(f[14], "narrative");
                parties = strdup(f[16]);
                for (char *t = strtok_r(parties, ";", &save); t;
                     t = strtok_r(NULL, ";", &save)) {
                        char *id = strchr(t, ':') + 1;

                        ck_assert_msg(!result_contains(id), "ID leaked");
                        for (char *c = id; *c; c++)
                                if (*c == 'x')
                                        *c = 'X';
                        ck_assert_msg(!result_contains(id), "ID leaked");
                        /* Without the check character. */
                        id[17] = '\0';
                        ck_assert_msg(!result_contains(id), "ID leaked");
                }
                free(parties);
        }
        ck_assert_int_eq(records, 33);
}
END_TEST

/* The phone digits alone, as the mapper hashes them, do not leak. */
START_TEST(cn_no_phone_digits_in_payload)
{
        map_cn_record("JQ3301062024030600029");
        ck_assert(!result_contains("13800000021"));
        ck_assert(!result_contains("8613800000021"));
        ck_assert(!result_contains("138-0000-0021"));
}
END_TEST

#define CN_ROW(id, call, parties) \
        id "," call ",,,13800000201,示例市测试路1号,3301020099009901," \
        "330102,城东派出所,G330102-01,120.17,30.25,纠纷,家庭暴力," \
        "女方称被推搡。,调解," parties ",否,,,,\n"

START_TEST(cn_invalid_time_hides_value)
{
        open_shipped("cn_110",
                     CN_HEADER CN_ROW("JQ1", "2024-03-01 25:61:00",
                                      "受害人:330102199001010028"));
        ck_assert_str_eq(map_rejected(), "invalid_time");
        ck_assert_ptr_nonnull(strstr(res.err.detail, "报警时间"));
        ck_assert_ptr_null(strstr(res.err.detail, "25:61"));
}
END_TEST

START_TEST(cn_party_without_role)
{
        Hearth__V1__Party *p;

        open_shipped("cn_110",
                     CN_HEADER CN_ROW("JQ1", "2024-03-01 12:00:00",
                                      "330102199001010028; 邻居:"
                                      "330102199001010036"));
        map_next();
        ck_assert_int_gt(res.n, 0);
        ck_assert_uint_eq(res.ev[0]->n_parties, 2);
        p = res.ev[0]->parties[0];
        ck_assert_int_eq(p->role,
                         HEARTH__V1__PARTY_ROLE__PARTY_ROLE_UNSPECIFIED);
        ck_assert_str_eq(p->person_key,
                         pseudonym("person", "330102199001010028"));
        ck_assert_int_eq(p->sex, HEARTH__V1__SEX__FEMALE);
        /* 邻居 is not in the profile's roles. */
        ck_assert_int_eq(res.ev[0]->parties[1]->role,
                         HEARTH__V1__PARTY_ROLE__PARTY_ROLE_UNSPECIFIED);
        ck_assert_int_eq(res.ev[0]->parties[1]->sex, HEARTH__V1__SEX__MALE);
}
END_TEST

/* A party that is not an 18-character ID number gets no age or sex. */
START_TEST(cn_party_not_id_number)
{
        Hearth__V1__Party *p;

        open_shipped("cn_110",
                     CN_HEADER CN_ROW("JQ1", "2024-03-01 12:00:00",
                                      "受害人:P12345"));
        map_next();
        ck_assert_int_gt(res.n, 0);
        p = res.ev[0]->parties[0];
        ck_assert_int_eq(p->role, HEARTH__V1__PARTY_ROLE__VICTIM);
        ck_assert_str_eq(p->person_key, pseudonym("person", "P12345"));
        ck_assert_int_eq(p->age_band,
                         HEARTH__V1__AGE_BAND__AGE_BAND_UNSPECIFIED);
        ck_assert_int_eq(p->sex, HEARTH__V1__SEX__SEX_UNSPECIFIED);
}
END_TEST

START_TEST(cn_english_keywords_fold_case)
{
        const Hearth__V1__RiskFlags *r;

        open_shipped("cn_110",
                     CN_HEADER
                     "JQ1,2024-03-01 12:00:00,,,13800000201,示例市测试路1号,"
                     "3301020099009901,330102,城东派出所,G330102-01,120.17,"
                     "30.25,纠纷,家庭暴力,\"Caller says he is DRUNK, "
                     "threatened to Kill You\",调解,,否,,,,\n");
        map_next();
        ck_assert_int_gt(res.n, 0);
        r = res.ev[0]->risk;
        ck_assert(r->intoxication);
        ck_assert(r->threat_to_kill);
        ck_assert(!r->weapon);
        ck_assert_uint_eq(res.ev[0]->n_parties, 0);
}
END_TEST

/*
 * The birth date on an ID number is a date in China, so the age at an
 * event is counted on the event's Shanghai date. At 2024-03-01 07:00
 * Shanghai time (2024-02-29 23:00 UTC) someone born 2006-03-01 is 18.
 */
START_TEST(cn_age_on_local_birthday)
{
        Hearth__V1__Party *p;

        open_shipped("cn_110",
                     CN_HEADER CN_ROW("JQ1", "2024-03-01 07:00:00",
                                      "受害人:330102200603010028"));
        map_next();
        ck_assert_int_gt(res.n, 0);
        ck_assert_int_eq(res.ev[0]->event_time_ms, INT64_C(1709247600000));
        p = res.ev[0]->parties[0];
        ck_assert_int_eq(p->age_band, HEARTH__V1__AGE_BAND__AGE_18_29);
        ck_assert(!p->minor);
}
END_TEST

/* The day before the 18th birthday, the party is a minor. */
START_TEST(cn_age_day_before_birthday)
{
        Hearth__V1__Party *p;

        open_shipped("cn_110",
                     CN_HEADER CN_ROW("JQ1", "2024-02-29 20:00:00",
                                      "受害人:330102200603010028"));
        map_next();
        ck_assert_int_gt(res.n, 0);
        p = res.ev[0]->parties[0];
        ck_assert_int_eq(p->age_band, HEARTH__V1__AGE_BAND__AGE_UNDER_18);
        ck_assert(p->minor);
}
END_TEST

Suite *hearth_test_mapper_suite(void)
{
        Suite *s = suite_create("mapper");
        TCase *tc = tcase_create("core");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, mke_event_fields);
        tcase_add_test(tc, mke_mapped_event_summary);
        tcase_add_test(tc, mke_time_daylight_saving);
        tcase_add_test(tc, mke_time_standard);
        tcase_add_test(tc, mke_domestic_by_regex);
        tcase_add_test(tc, mke_category_flags_gun);
        tcase_add_test(tc, mke_category_flags_cut);
        tcase_add_test(tc, mke_category_flags_restraining_order);
        tcase_add_test(tc, mke_no_flags_for_plain_category);
        tcase_add_test(tc, mke_address_key_known_answer);
        tcase_add_test(tc, mke_address_case_and_spaces_folded);
        tcase_add_test(tc, mke_other_address_differs);
        tcase_add_test(tc, mke_ignored_address_no_key);
        tcase_add_test(tc, mke_suffix_only_address_no_key);
        tcase_add_test(tc, mke_empty_address_no_key);
        tcase_add_test(tc, mke_coordinates_inside_bbox);
        tcase_add_test(tc, mke_coordinates_outside_bbox_dropped);
        tcase_add_test(tc, mke_coordinates_invalid_dropped);
        tcase_add_test(tc, wrong_column_count_rejected);
        tcase_add_test(tc, empty_incident_id_rejected);
        tcase_add_test(tc, invalid_time_rejected);
        tcase_add_test(tc, skipped_local_time_rejected);
        tcase_add_test(tc, empty_time_rejected);
        tcase_add_test(tc, invalid_utf8_rejected);
        tcase_add_test(tc, invalid_utf8_in_unused_column_rejected);
        tcase_add_test(tc, long_incident_id_rejected);
        tcase_add_test(tc, field_over_limit_rejected_by_source);
        tcase_add_test(tc, epoch_time_and_value_domestic);
        tcase_add_test(tc, missing_header_column_fails_open);
        tcase_add_test(tc, empty_input_fails_open);
        tcase_add_test(tc, orlando_restricted_address_withheld);
        tcase_add_test(tc, orlando_plain_address_keyed);
        tcase_add_test(tc, berkeley_multiline_coordinates);
        tcase_add_test(tc, berkeley_date_and_time_columns);
        tcase_add_test(tc, berkeley_missing_coordinates);
        tcase_add_test(tc, berkeley_missing_time_of_day_rejected);
        tcase_add_test(tc, jsonl_record_mapped);
        tcase_add_test(tc, jsonl_bad_records_rejected);
        tcase_add_test(tc, jsonl_invalid_utf8_line_rejected);
        tcase_add_test(tc, cn_sample_every_record_maps);
        tcase_add_test(tc, cn_full_lifecycle);
        tcase_add_test(tc, cn_call_only);
        tcase_add_test(tc, cn_warning_without_time_skipped);
        tcase_add_test(tc, cn_warning_without_follow_up);
        tcase_add_test(tc, cn_no_warning_when_not_warned);
        tcase_add_test(tc, cn_region_fields);
        tcase_add_test(tc, cn_parties_from_id_numbers);
        tcase_add_test(tc, cn_parties_on_every_event);
        tcase_add_test(tc, cn_age_bands);
        tcase_add_test(tc, cn_caller_party_role);
        tcase_add_test(tc, cn_person_key_ignores_x_case);
        tcase_add_test(tc, cn_caller_key);
        tcase_add_test(tc, cn_caller_key_digits_only);
        tcase_add_test(tc, cn_unknown_disposition_other);
        tcase_add_test(tc, cn_risk_knife_threat_children);
        tcase_add_test(tc, cn_risk_strangulation_injury);
        tcase_add_test(tc, cn_risk_pregnancy);
        tcase_add_test(tc, cn_risk_separation_stalking);
        tcase_add_test(tc, cn_risk_fear_and_threat);
        tcase_add_test(tc, cn_risk_multiline_narrative);
        tcase_add_test(tc, cn_no_risk_keywords);
        tcase_add_test(tc, cn_household_address_key);
        tcase_add_test(tc, cn_no_raw_identifiers_in_payload);
        tcase_add_test(tc, cn_no_phone_digits_in_payload);
        tcase_add_test(tc, cn_invalid_time_hides_value);
        tcase_add_test(tc, cn_party_without_role);
        tcase_add_test(tc, cn_party_not_id_number);
        tcase_add_test(tc, cn_english_keywords_fold_case);
        tcase_add_test(tc, cn_age_on_local_birthday);
        tcase_add_test(tc, cn_age_day_before_birthday);
        suite_add_tcase(s, tc);
        return s;
}
