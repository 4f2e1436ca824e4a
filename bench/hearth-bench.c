/*
 * hearth-bench: the Kafka side of bench/run.sh, with four commands.
 *
 *   create-topics  creates topics with the Kafka Admin API.
 *   produce        writes N synthetic IncidentEvent messages as fast as an
 *                  idempotent producer can, or at a fixed rate. A seed
 *                  gives the same N events.
 *   consume        reads a topic from the beginning with plain librdkafka
 *                  and decodes nothing. The engine is compared with it.
 *   alert-times    writes the arrival time, Kafka timestamp, emitted_at_ms
 *                  and trigger_ingest_time_ms of every alert it reads, for
 *                  the latency figures.
 *
 * The synthetic events are invented: ids, pseudonyms and coordinates come
 * from a seeded generator (splitmix64), not from any real record. Each
 * household has a fixed district, address key and caller key, and the
 * household of each call is drawn with a skew (index = H * u^3, u uniform
 * in [0, 1)) so that about 46% of calls go to the first 10% of households
 * and the repeat-calls model has repeats to find. Domestic events carry a
 * victim and a suspect whose person keys are fixed per household, so the
 * persons stage reads two persons per household.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "connectors/delimited.h"
#include "connectors/pacing.h"
#include "engine/common/kafka.h"
#include "engine/common/log.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

#define PROGRAM "hearth-bench"
#define COMPONENT "bench"
#define N_DISTRICTS 16
#define START_TIME_MS INT64_C(1735689600000)    /* 2025-01-01T00:00:00Z */
#define MAX_GAP_MS 4000         /* gaps uniform in [0, 4000) ms, mean 2 s */
#define KEY_CHARS 22            /* base64url of 16 bytes, unpadded */
#define ADMIN_TIMEOUT_MS 30000
#define FLUSH_TIMEOUT_MS 120000
#define POLL_SLICE_NS INT64_C(10000000) /* max sleep between two polls */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
        (void)sig;
        stop_requested = 1;
}

static double now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t mono_ns(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall clock in UTC ms, the clock of ingest_time_ms and emitted_at_ms. */
static int64_t wall_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* User plus system CPU seconds of this process, every thread included. */
static double cpu_s(void)
{
        struct rusage ru;

        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
               (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void usage(FILE *out)
{
        fprintf(out,
"Usage: hearth-bench COMMAND [options]\n"
"\n"
"  create-topics --brokers B --partitions P TOPIC...\n"
"        create each TOPIC with P partitions and replication factor 1;\n"
"        fails when a topic already exists\n"
"  produce --brokers B --topic T --events N --seed S [--households H]\n"
"          [--domestic-ratio R] [--rate E] [--linger-ms MS] [--json FILE]\n"
"        produce N synthetic IncidentEvent messages keyed by district;\n"
"        H households (default 100000), a share R of domestic incidents\n"
"        (default 0.3); --rate sends E events/s with ingest_time_ms set\n"
"        to the wall clock at send (default: as fast as possible, with\n"
"        ingest_time_ms 1 s after the event time); --linger-ms sets the\n"
"        producer's linger.ms (default 5)\n"
"  consume --brokers B --topic T --expect N [--timeout S] [--json FILE]\n"
"        read every partition of T from the beginning until N messages\n"
"        arrived, without decoding them; fail after S seconds without a\n"
"        message (default 60)\n"
"  alert-times --brokers B [--out FILE] [--idle-exit S] TOPIC...\n"
"        read every partition of each TOPIC of Alert messages from the\n"
"        beginning until SIGINT or SIGTERM, or until S seconds without a\n"
"        message, and write one tab-separated line per alert to FILE\n"
"        (default: standard output): arrival wall clock, Kafka timestamp,\n"
"        emitted_at_ms, trigger_ingest_time_ms (all UTC ms), priority,\n"
"        model\n"
"\n"
"Every command prints its figures on standard output; --json also writes\n"
"them to FILE. B defaults to " HEARTH_KAFKA_DEFAULT_BROKERS ".\n");
}

/* ---- argument parsing ---- */

static int parse_u64(const char *name, const char *text, uint64_t min,
                     uint64_t max, uint64_t *out)
{
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(text, &end, 10);
        if (errno || !*text || *end || *text == '-' || v < min || v > max) {
                hearth_error(COMPONENT, "invalid %s \"%s\": expected an "
                             "integer from %" PRIu64 " to %" PRIu64, name,
                             text, min, max);
                return -1;
        }
        *out = v;
        return 0;
}

static int parse_ratio(const char *name, const char *text, double *out)
{
        char *end;
        double v;

        errno = 0;
        v = strtod(text, &end);
        if (errno || !*text || *end || !(v >= 0.0 && v <= 1.0)) {
                hearth_error(COMPONENT, "invalid %s \"%s\": expected a number "
                             "from 0 to 1", name, text);
                return -1;
        }
        *out = v;
        return 0;
}

/* Writes doc to path (when path is set) and releases doc. */
static int write_json(json_t *doc, const char *path)
{
        int rc = 0;

        if (path && json_dump_file(doc, path, JSON_INDENT(2)) != 0) {
                hearth_error(COMPONENT, "cannot write %s: %s", path,
                             strerror(errno));
                rc = -1;
        }
        json_decref(doc);
        return rc;
}

/* ---- create-topics ---- */

static rd_kafka_t *new_client(rd_kafka_type_t type, const char *brokers,
                              const char **props, size_t n_props)
{
        char errstr[512];
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(brokers, NULL, NULL, 0,
                                                      errstr, sizeof(errstr));
        rd_kafka_t *rk;

        for (size_t i = 0; conf && i + 1 < n_props; i += 2) {
                if (hearth_kafka_conf_set(conf, props[i], props[i + 1],
                                          errstr, sizeof(errstr)) != 0) {
                        rd_kafka_conf_destroy(conf);
                        conf = NULL;
                }
        }
        if (!conf) {
                hearth_error(COMPONENT, "%s", errstr);
                return NULL;
        }
        rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk) {
                hearth_error(COMPONENT, "cannot create a Kafka client: %s",
                             errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

/* Logs each topic's outcome and returns how many failed. */
static int check_create_result(rd_kafka_event_t *ev)
{
        const rd_kafka_CreateTopics_result_t *res =
                rd_kafka_event_CreateTopics_result(ev);
        const rd_kafka_topic_result_t **topics;
        size_t n;
        int failed = 0;

        topics = rd_kafka_CreateTopics_result_topics(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_topic_result_name(topics[i]);

                if (rd_kafka_topic_result_error(topics[i])) {
                        hearth_error(COMPONENT, "creating topic %s failed: "
                                     "%s", name,
                                     rd_kafka_topic_result_error_string(
                                             topics[i]));
                        failed++;
                } else {
                        printf("created topic %s\n", name);
                }
        }
        return failed;
}

static int send_create_topics(rd_kafka_t *rk, rd_kafka_NewTopic_t **topics,
                              size_t n)
{
        rd_kafka_queue_t *queue = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *options =
                rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
        rd_kafka_event_t *ev;
        char errstr[512];
        int rc = -1;

        rd_kafka_AdminOptions_set_operation_timeout(
                options, ADMIN_TIMEOUT_MS, errstr, sizeof(errstr));
        rd_kafka_CreateTopics(rk, topics, n, options, queue);
        ev = rd_kafka_queue_poll(queue, ADMIN_TIMEOUT_MS + 5000);
        if (!ev)
                hearth_error(COMPONENT, "CreateTopics timed out after %d ms",
                             ADMIN_TIMEOUT_MS + 5000);
        else if (rd_kafka_event_error(ev))
                hearth_error(COMPONENT, "CreateTopics failed: %s",
                             rd_kafka_event_error_string(ev));
        else if (check_create_result(ev) == 0)
                rc = 0;
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_AdminOptions_destroy(options);
        rd_kafka_queue_destroy(queue);
        return rc;
}

static int create_topics(const char *brokers, int partitions, char **names,
                         size_t n)
{
        rd_kafka_NewTopic_t **topics = calloc(n, sizeof(*topics));
        rd_kafka_t *rk = new_client(RD_KAFKA_PRODUCER, brokers, NULL, 0);
        char errstr[512];
        size_t n_created = 0;
        int rc = -1;

        if (!rk)
                goto out;
        for (; n_created < n; n_created++) {
                topics[n_created] = rd_kafka_NewTopic_new(
                        names[n_created], partitions, 1, errstr,
                        sizeof(errstr));
                if (!topics[n_created]) {
                        hearth_error(COMPONENT, "invalid topic %s: %s",
                                     names[n_created], errstr);
                        goto out;
                }
        }
        rc = send_create_topics(rk, topics, n);
out:
        for (size_t i = 0; i < n_created; i++)
                rd_kafka_NewTopic_destroy(topics[i]);
        free(topics);
        if (rk)
                rd_kafka_destroy(rk);
        return rc;
}

static int cmd_create_topics(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"partitions", required_argument, NULL, 'p'},
                {NULL, 0, NULL, 0}};
        const char *brokers = HEARTH_KAFKA_DEFAULT_BROKERS;
        uint64_t partitions = 1;
        int c;

        while ((c = getopt_long(argc, argv, "b:p:", longopts, NULL)) != -1) {
                switch (c) {
                case 'b': brokers = optarg; break;
                case 'p':
                        if (parse_u64("--partitions", optarg, 1, 10000,
                                      &partitions) != 0)
                                return 2;
                        break;
                default: return 2;
                }
        }
        if (optind >= argc) {
                hearth_error(COMPONENT, "create-topics: missing TOPIC; see "
                             PROGRAM " --help");
                return 2;
        }
        return create_topics(brokers, (int)partitions, argv + optind,
                             (size_t)(argc - optind)) == 0 ? 0 : 1;
}

/* ---- synthetic events ---- */

typedef struct synth_config {
        uint64_t events;
        uint64_t seed;
        uint64_t households;
        double domestic_ratio;
        double rate;            /* events/s; 0 sends as fast as possible */
        int live_ingest_time;   /* ingest_time_ms = wall clock at send */
} synth_config_t;

/* One generated event and the buffers its strings point into. */
typedef struct synth {
        synth_config_t cfg;
        uint64_t rng;           /* splitmix64 state */
        uint64_t produced;
        int64_t max_behind_ns;  /* latest paced send after its deadline */
        int64_t event_time_ms;
        char incident_id[48];
        char district[8];
        char station[16];
        char grid[16];
        char address_key[32];
        char caller_key[32];
        char victim_key[32];
        char suspect_key[32];
        Hearth__V1__IncidentEvent ev;
        Hearth__V1__Category category;
        Hearth__V1__RiskFlags risk;
        Hearth__V1__Source source;
        Hearth__V1__Party victim;
        Hearth__V1__Party suspect;
        Hearth__V1__Party *parties[2];
} synth_t;

static uint64_t mix64(uint64_t z)
{
        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static uint64_t next_u64(synth_t *s)
{
        s->rng += UINT64_C(0x9e3779b97f4a7c15);
        return mix64(s->rng);
}

/* Uniform in [0, 1) from the top 53 bits. */
static double next_unit(synth_t *s)
{
        return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static int chance(synth_t *s, double p)
{
        return next_unit(s) < p;
}

/* A value that depends only on the seed, the household and a salt. */
static uint64_t household_hash(const synth_t *s, uint64_t household,
                               uint64_t salt)
{
        return mix64(s->cfg.seed ^ mix64(household * 0x100 + salt));
}

/* Writes an invented pseudonym "k1:<22 base64url characters>". */
static void make_key(const synth_t *s, uint64_t household, uint64_t salt,
                     char *out, size_t size)
{
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz"
                                       "0123456789-_";
        char chars[KEY_CHARS + 1];
        uint64_t bits = 0;

        for (int i = 0; i < KEY_CHARS; i++) {
                if (i % 10 == 0)
                        bits = household_hash(s, household, salt * 8 + i);
                chars[i] = alphabet[bits & 63];
                bits >>= 6;
        }
        chars[KEY_CHARS] = '\0';
        snprintf(out, size, "k1:%s", chars);
}

static void synth_init(synth_t *s, const synth_config_t *cfg)
{
        memset(s, 0, sizeof(*s));
        s->cfg = *cfg;
        s->rng = mix64(cfg->seed);
        s->event_time_ms = START_TIME_MS;
        s->parties[0] = &s->victim;
        s->parties[1] = &s->suspect;
}

/* Fills the fields that belong to the household: place and keys. */
static void fill_household(synth_t *s, uint64_t h)
{
        Hearth__V1__IncidentEvent *ev = &s->ev;
        uint64_t place = household_hash(s, h, 1);
        unsigned district = (unsigned)(place % N_DISTRICTS) + 1;

        snprintf(s->district, sizeof(s->district), "D%02u", district);
        snprintf(s->station, sizeof(s->station), "S%02u%02u", district,
                 (unsigned)(place >> 8) % 6 + 1);
        snprintf(s->grid, sizeof(s->grid), "G%02u%04u", district,
                 (unsigned)(place >> 16) % 400);
        make_key(s, h, 2, s->address_key, sizeof(s->address_key));
        make_key(s, h, 3, s->caller_key, sizeof(s->caller_key));
        ev->district_code = s->district;
        ev->station_code = s->station;
        ev->grid_id = s->grid;
        ev->address_key = s->address_key;
        ev->caller_key = s->caller_key;
        /* Around Hangzhou: 30.1-30.4 N, 120.0-120.4 E. */
        ev->lat = 30.1 + (double)((place >> 24) % 30000) / 100000.0;
        ev->lon = 120.0 + (double)((place >> 40) % 40000) / 100000.0;
        ev->has_coordinates = true;
}

static void fill_parties(synth_t *s, uint64_t h)
{
        Hearth__V1__IncidentEvent *ev = &s->ev;

        hearth__v1__party__init(&s->victim);
        hearth__v1__party__init(&s->suspect);
        make_key(s, h, 4, s->victim_key, sizeof(s->victim_key));
        make_key(s, h, 5, s->suspect_key, sizeof(s->suspect_key));
        s->victim.role = HEARTH__V1__PARTY_ROLE__VICTIM;
        s->victim.person_key = s->victim_key;
        s->victim.age_band = HEARTH__V1__AGE_BAND__AGE_30_44;
        s->victim.sex = HEARTH__V1__SEX__FEMALE;
        s->suspect.role = HEARTH__V1__PARTY_ROLE__SUSPECT;
        s->suspect.person_key = s->suspect_key;
        s->suspect.age_band = HEARTH__V1__AGE_BAND__AGE_30_44;
        s->suspect.sex = HEARTH__V1__SEX__MALE;
        ev->parties = s->parties;
        ev->n_parties = 2;
}

/* Sets a few risk flags at rates chosen to look plausible, not measured. */
static void fill_risk(synth_t *s)
{
        hearth__v1__risk_flags__init(&s->risk);
        s->risk.injury = chance(s, 0.20);
        s->risk.threat_to_kill = chance(s, 0.05);
        s->risk.strangulation = chance(s, 0.03);
        s->risk.weapon = chance(s, 0.04);
        s->risk.children_present = chance(s, 0.25);
        s->risk.intoxication = chance(s, 0.30);
        s->ev.risk = &s->risk;
}

static void fill_category(synth_t *s, bool domestic)
{
        static const char *const other[][2] = {
                {"0101", "theft"},
                {"0301", "traffic accident"},
                {"0401", "noise complaint"},
                {"0501", "dispute between neighbours"},
        };

        hearth__v1__category__init(&s->category);
        if (domestic) {
                s->category.code = "0201";
                s->category.text = "domestic dispute";
        } else {
                size_t i = next_u64(s) % (sizeof(other) / sizeof(other[0]));

                s->category.code = (char *)other[i][0];
                s->category.text = (char *)other[i][1];
        }
        s->ev.category = &s->category;
}

/* Builds event number s->produced into s->ev. */
static void synth_next(synth_t *s)
{
        Hearth__V1__IncidentEvent *ev = &s->ev;
        double u = next_unit(s);
        uint64_t h = (uint64_t)((double)s->cfg.households * u * u * u);
        bool domestic = chance(s, s->cfg.domestic_ratio);

        hearth__v1__incident_event__init(ev);
        s->event_time_ms += (int64_t)(next_u64(s) % MAX_GAP_MS);
        snprintf(s->incident_id, sizeof(s->incident_id),
                 "B%" PRIu64 "-%010" PRIu64, s->cfg.seed, s->produced + 1);
        ev->incident_id = s->incident_id;
        ev->event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev->event_time_ms = s->event_time_ms;
        ev->ingest_time_ms = s->cfg.live_ingest_time ? wall_ms()
                                                     : s->event_time_ms + 1000;
        ev->province_code = "330000";
        ev->city_code = "330100";
        fill_household(s, h);
        fill_category(s, domestic);
        ev->is_domestic = domestic;
        if (domestic) {
                fill_parties(s, h);
                fill_risk(s);
        }
        ev->disposition = (Hearth__V1__Disposition)(next_u64(s) % 8 + 1);
        hearth__v1__source__init(&s->source);
        s->source.profile = "bench";
        s->source.record_number = s->produced + 1;
        s->source.file = "-";
        ev->source = &s->source;
}

/* ---- produce ---- */

typedef struct produce_stats {
        uint64_t delivered;
        uint64_t failed;
} produce_stats_t;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque)
{
        produce_stats_t *st = opaque;

        (void)rk;
        if (!msg->err) {
                st->delivered++;
                return;
        }
        if (st->failed++ == 0)
                hearth_error(COMPONENT, "delivery to %s [%d] failed: %s",
                             rd_kafka_topic_name(msg->rkt), msg->partition,
                             rd_kafka_err2str(msg->err));
}

static rd_kafka_t *new_producer(const char *brokers, const char *linger_ms,
                                produce_stats_t *st)
{
        const char *props[] = {
                "enable.idempotence", "true", "acks", "all",
                "linger.ms", linger_ms, "batch.size", "1000000",
                "client.id", PROGRAM,
        };
        char errstr[512];
        rd_kafka_conf_t *conf = hearth_kafka_conf_new(brokers, NULL, NULL, 0,
                                                      errstr, sizeof(errstr));
        rd_kafka_t *rk;

        for (size_t i = 0; conf && i < sizeof(props) / sizeof(*props);
             i += 2) {
                if (hearth_kafka_conf_set(conf, props[i], props[i + 1],
                                          errstr, sizeof(errstr)) != 0) {
                        rd_kafka_conf_destroy(conf);
                        conf = NULL;
                }
        }
        if (!conf) {
                hearth_error(COMPONENT, "%s", errstr);
                return NULL;
        }
        rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
        rd_kafka_conf_set_opaque(conf, st);
        rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                hearth_error(COMPONENT, "cannot create the producer: %s",
                             errstr);
                rd_kafka_conf_destroy(conf);
        }
        return rk;
}

/* Produces one message, waiting while the local queue is full. */
static int produce_one(rd_kafka_t *rk, const char *topic, const char *key,
                       const void *value, size_t len)
{
        rd_kafka_resp_err_t err;

        for (;;) {
                err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic),
                        RD_KAFKA_V_KEY(key, strlen(key)),
                        RD_KAFKA_V_VALUE((void *)value, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_END);
                if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || stop_requested)
                        break;
                rd_kafka_poll(rk, 10);
        }
        if (err) {
                hearth_error(COMPONENT, "produce to %s failed: %s", topic,
                             rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* Sleeps until deadline_ns (CLOCK_MONOTONIC), serving delivery reports at
 * least every POLL_SLICE_NS. Returns early when a stop is requested. */
static void wait_until(rd_kafka_t *rk, int64_t deadline_ns)
{
        struct timespec ts;
        int64_t now, wake;

        while (!stop_requested && (now = mono_ns()) < deadline_ns) {
                wake = deadline_ns - now > POLL_SLICE_NS ? now + POLL_SLICE_NS
                                                         : deadline_ns;
                ts.tv_sec = wake / 1000000000;
                ts.tv_nsec = wake % 1000000000;
                clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
                rd_kafka_poll(rk, 0);
        }
}

/* Packs the current event into *buf, growing it; returns the length. */
static size_t pack_event(synth_t *s, uint8_t **buf, size_t *cap)
{
        size_t len = hearth__v1__incident_event__get_packed_size(&s->ev);

        if (len > *cap) {
                *cap = len * 2;
                *buf = realloc(*buf, *cap);
        }
        hearth__v1__incident_event__pack(&s->ev, *buf);
        return len;
}

/*
 * Generates and produces every event, adding the payload sizes to *bytes.
 * With a rate, event i is sent at i / rate seconds after the first (an
 * absolute deadline, so sleep errors do not add up), and its
 * ingest_time_ms is the wall clock just before the send.
 */
static int produce_all(rd_kafka_t *rk, const char *topic, synth_t *s,
                       uint64_t *bytes)
{
        hearth_pacing_t pacing;
        int64_t started_ns = mono_ns();
        uint8_t *buf = NULL;
        size_t cap = 0;
        int rc = 0;

        hearth_pacing_init(&pacing, s->cfg.rate > 0 ? HEARTH_PACE_RATE
                                                    : HEARTH_PACE_MAX,
                           s->cfg.rate);
        for (; s->produced < s->cfg.events && !stop_requested; s->produced++) {
                size_t len;

                if (s->cfg.rate > 0) {
                        int64_t deadline = started_ns +
                                           hearth_pacing_next(&pacing, 0);

                        wait_until(rk, deadline);
                        if (mono_ns() - deadline > s->max_behind_ns)
                                s->max_behind_ns = mono_ns() - deadline;
                }
                synth_next(s);
                len = pack_event(s, &buf, &cap);
                rc = produce_one(rk, topic, s->ev.district_code, buf, len);
                if (rc != 0)
                        break;
                *bytes += len;
                if (s->cfg.rate > 0 || s->produced % 1024 == 0)
                        rd_kafka_poll(rk, 0);
        }
        free(buf);
        return rc;
}

static int report_produce(const synth_t *s, const produce_stats_t *st,
                          uint64_t bytes, double elapsed, const char *json)
{
        double rate = elapsed > 0 ? (double)st->delivered / elapsed : 0;

        printf("produced %" PRIu64 " events (%" PRIu64 " bytes, %.0f bytes "
               "each) in %.2f s: %.0f events/s\n", st->delivered, bytes,
               st->delivered ? (double)bytes / (double)st->delivered : 0.0,
               elapsed, rate);
        return write_json(json_pack("{s:I, s:I, s:I, s:f, s:f, s:I, s:f, "
                                    "s:f, s:f}",
                                    "events", (json_int_t)st->delivered,
                                    "bytes", (json_int_t)bytes, "seed",
                                    (json_int_t)s->cfg.seed, "elapsed_s",
                                    elapsed, "events_per_s", rate,
                                    "households",
                                    (json_int_t)s->cfg.households,
                                    "domestic_ratio", s->cfg.domestic_ratio,
                                    "offered_rate", s->cfg.rate,
                                    "max_behind_schedule_ms",
                                    (double)s->max_behind_ns / 1e6),
                          json);
}

static int run_produce(const char *brokers, const char *topic,
                       const synth_config_t *cfg, const char *linger_ms,
                       const char *json)
{
        produce_stats_t st = {0};
        rd_kafka_t *rk = new_producer(brokers, linger_ms, &st);
        synth_t *s = malloc(sizeof(*s));
        uint64_t bytes = 0;
        double started;
        int rc;

        if (!rk) {
                free(s);
                return 1;
        }
        synth_init(s, cfg);
        started = now_s();
        rc = produce_all(rk, topic, s, &bytes);
        rd_kafka_flush(rk, FLUSH_TIMEOUT_MS);
        if (rd_kafka_outq_len(rk) > 0) {
                hearth_error(COMPONENT, "%d messages still unacknowledged "
                             "after %d ms", rd_kafka_outq_len(rk),
                             FLUSH_TIMEOUT_MS);
                rc = -1;
        }
        if (st.failed || st.delivered != cfg->events) {
                hearth_error(COMPONENT, "%" PRIu64 " of %" PRIu64 " events "
                             "delivered, %" PRIu64 " failed", st.delivered,
                             cfg->events, st.failed);
                rc = -1;
        }
        if (report_produce(s, &st, bytes, now_s() - started, json) != 0)
                rc = -1;
        rd_kafka_destroy(rk);
        free(s);
        return rc == 0 ? 0 : 1;
}

static int cmd_produce(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"events", required_argument, NULL, 'n'},
                {"seed", required_argument, NULL, 's'},
                {"households", required_argument, NULL, 'H'},
                {"domestic-ratio", required_argument, NULL, 'r'},
                {"rate", required_argument, NULL, 'R'},
                {"linger-ms", required_argument, NULL, 'L'},
                {"json", required_argument, NULL, 'j'},
                {NULL, 0, NULL, 0}};
        synth_config_t cfg = {.households = 100000, .domestic_ratio = 0.3};
        const char *brokers = HEARTH_KAFKA_DEFAULT_BROKERS, *topic = NULL;
        const char *json = NULL, *linger_ms = "5";
        uint64_t rate = 0, linger = 0;
        int c, have_events = 0, have_seed = 0, bad = 0;

        while ((c = getopt_long(argc, argv, "b:t:n:s:H:r:R:L:j:", longopts,
                                NULL)) != -1) {
                switch (c) {
                case 'R':
                        bad |= parse_u64("--rate", optarg, 1,
                                         UINT64_C(10000000), &rate);
                        cfg.rate = (double)rate;
                        cfg.live_ingest_time = 1;
                        break;
                case 'L':
                        bad |= parse_u64("--linger-ms", optarg, 0, 900000,
                                         &linger);
                        linger_ms = optarg;
                        break;
                case 'b': brokers = optarg; break;
                case 't': topic = optarg; break;
                case 'j': json = optarg; break;
                case 'n':
                        have_events = 1;
                        bad |= parse_u64("--events", optarg, 1,
                                         UINT64_C(1000000000), &cfg.events);
                        break;
                case 's':
                        have_seed = 1;
                        bad |= parse_u64("--seed", optarg, 0, UINT64_MAX,
                                         &cfg.seed);
                        break;
                case 'H':
                        bad |= parse_u64("--households", optarg, 1,
                                         UINT64_C(1000000000),
                                         &cfg.households);
                        break;
                case 'r':
                        bad |= parse_ratio("--domestic-ratio", optarg,
                                           &cfg.domestic_ratio);
                        break;
                default: return 2;
                }
        }
        if (bad || !topic || !have_events || !have_seed || optind < argc) {
                if (!bad)
                        hearth_error(COMPONENT, "produce needs --topic, "
                                     "--events and --seed and takes no "
                                     "other arguments");
                return 2;
        }
        return run_produce(brokers, topic, &cfg, linger_ms, json);
}

/* ---- consume ---- */

typedef struct consume_result {
        uint64_t messages;
        uint64_t bytes;
        int partitions;
        double elapsed_s;
        double cpu_s;
} consume_result_t;

/*
 * librdkafka's assign() needs a group.id, but this consumer never
 * subscribes, joins the group or commits, so the group stays empty.
 */
static rd_kafka_t *new_consumer(const char *brokers)
{
        static const char *props[] = {
                "group.id", PROGRAM "-raw", "enable.auto.commit", "false",
                "enable.partition.eof", "false", "client.id", PROGRAM,
        };
        rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, brokers, props,
                                    sizeof(props) / sizeof(*props));

        if (rk)
                rd_kafka_poll_set_consumer(rk);
        return rk;
}

/*
 * Returns the topic's partition count, or -1 after logging why. A topic
 * created just before may be missing from the metadata for a moment, so a
 * missing topic is asked for again for up to 10 s.
 */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
        const struct rd_kafka_metadata *md;
        rd_kafka_resp_err_t err;
        double deadline = now_s() + 10;
        int n = -1;

        for (;;) {
                err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
                if (err) {
                        hearth_error(COMPONENT, "metadata of topic %s "
                                     "failed: %s", topic,
                                     rd_kafka_err2str(err));
                        break;
                }
                if (md->topic_cnt == 1 && !md->topics[0].err &&
                    md->topics[0].partition_cnt > 0)
                        n = md->topics[0].partition_cnt;
                rd_kafka_metadata_destroy(md);
                if (n > 0 || now_s() > deadline || stop_requested)
                        break;
                usleep(200000);
        }
        if (!err && n < 0)
                hearth_error(COMPONENT, "topic %s not found", topic);
        rd_kafka_topic_destroy(rkt);
        return n;
}

static int assign_all(rd_kafka_t *rk, const char *topic, int partitions)
{
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(partitions);
        rd_kafka_resp_err_t err;

        for (int p = 0; p < partitions; p++)
                rd_kafka_topic_partition_list_add(list, topic, p)->offset =
                        RD_KAFKA_OFFSET_BEGINNING;
        err = rd_kafka_assign(rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err)
                hearth_error(COMPONENT, "assign of %s failed: %s", topic,
                             rd_kafka_err2str(err));
        return err ? -1 : 0;
}

/*
 * Polls until expect messages arrive. Fails after timeout_s seconds without
 * a message.
 */
static int count_messages(rd_kafka_t *rk, uint64_t expect, double timeout_s,
                          consume_result_t *res)
{
        double last = now_s();

        while (res->messages < expect && !stop_requested) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

                if (!m) {
                        if (now_s() - last > timeout_s) {
                                hearth_error(COMPONENT, "timed out after %.0f "
                                             "s without a message; %" PRIu64
                                             " of %" PRIu64 " consumed",
                                             timeout_s, res->messages, expect);
                                return -1;
                        }
                        continue;
                }
                if (m->err)
                        hearth_warn(COMPONENT, "consumer error: %s",
                                    rd_kafka_message_errstr(m));
                else {
                        res->messages++;
                        res->bytes += m->len;
                }
                rd_kafka_message_destroy(m);
                last = now_s();
        }
        return res->messages == expect ? 0 : -1;
}

static int report_consume(const consume_result_t *res, const char *json)
{
        double rate = res->elapsed_s > 0
                              ? (double)res->messages / res->elapsed_s
                              : 0;

        printf("consumed %" PRIu64 " events (%" PRIu64 " bytes) from %d "
               "partitions in %.2f s: %.0f events/s, %.2f CPU seconds\n",
               res->messages, res->bytes, res->partitions, res->elapsed_s,
               rate, res->cpu_s);
        return write_json(json_pack("{s:I, s:I, s:i, s:f, s:f, s:f}",
                                    "events", (json_int_t)res->messages,
                                    "bytes", (json_int_t)res->bytes,
                                    "partitions", res->partitions,
                                    "elapsed_s", res->elapsed_s, "cpu_s",
                                    res->cpu_s, "events_per_s", rate),
                          json);
}

/*
 * Times from the assign() call to the last expected message, so the
 * figures include the first fetch but not client start-up or metadata.
 */
static int run_consume(const char *brokers, const char *topic,
                       uint64_t expect, double timeout_s, const char *json)
{
        consume_result_t res = {0};
        rd_kafka_t *rk = new_consumer(brokers);
        double started, cpu_started;
        int rc = -1;

        if (!rk)
                return 1;
        res.partitions = partition_count(rk, topic);
        if (res.partitions > 0) {
                started = now_s();
                cpu_started = cpu_s();
                if (assign_all(rk, topic, res.partitions) == 0)
                        rc = count_messages(rk, expect, timeout_s, &res);
                res.elapsed_s = now_s() - started;
                res.cpu_s = cpu_s() - cpu_started;
        }
        if (rc == 0)
                rc = report_consume(&res, json);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
        return rc == 0 ? 0 : 1;
}

static int cmd_consume(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"topic", required_argument, NULL, 't'},
                {"expect", required_argument, NULL, 'n'},
                {"timeout", required_argument, NULL, 'T'},
                {"json", required_argument, NULL, 'j'},
                {NULL, 0, NULL, 0}};
        const char *brokers = HEARTH_KAFKA_DEFAULT_BROKERS, *topic = NULL;
        const char *json = NULL;
        uint64_t expect = 0, timeout_s = 60;
        int c, bad = 0;

        while ((c = getopt_long(argc, argv, "b:t:n:T:j:", longopts, NULL)) !=
               -1) {
                switch (c) {
                case 'b': brokers = optarg; break;
                case 't': topic = optarg; break;
                case 'j': json = optarg; break;
                case 'n':
                        bad |= parse_u64("--expect", optarg, 1,
                                         UINT64_C(1000000000), &expect);
                        break;
                case 'T':
                        bad |= parse_u64("--timeout", optarg, 1, 86400,
                                         &timeout_s);
                        break;
                default: return 2;
                }
        }
        if (bad || !topic || !expect || optind < argc) {
                if (!bad)
                        hearth_error(COMPONENT, "consume needs --topic and "
                                     "--expect and takes no other "
                                     "arguments");
                return 2;
        }
        return run_consume(brokers, topic, expect, (double)timeout_s, json);
}

/* ---- alert-times ---- */

#define MAX_ALERT_TOPICS 16

/*
 * Writes one line per Alert message: the wall clock when it arrived, its
 * Kafka timestamp (the producer's CreateTime, set when the engine called
 * produce), emitted_at_ms, trigger_ingest_time_ms, priority and model.
 * Returns 0 for an alert, -1 for a message that is not one.
 */
static int write_alert_time(FILE *out, const rd_kafka_message_t *m,
                            int64_t received_ms)
{
        Hearth__V1__Alert *a = hearth__v1__alert__unpack(NULL, m->len,
                                                         m->payload);
        rd_kafka_timestamp_type_t type;
        int64_t ts = rd_kafka_message_timestamp(m, &type);

        if (!a)
                return -1;
        fprintf(out, "%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64
                "\tP%d\t%s\n", received_ms,
                type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? -1 : ts,
                a->emitted_at_ms, a->trigger_ingest_time_ms, (int)a->priority,
                a->model);
        hearth__v1__alert__free_unpacked(a, NULL);
        return 0;
}

/* Assigns every partition of each topic from the beginning. */
static int assign_topics(rd_kafka_t *rk, char **topics, size_t n)
{
        rd_kafka_topic_partition_list_t *list =
                rd_kafka_topic_partition_list_new(16);
        rd_kafka_resp_err_t err;

        for (size_t i = 0; i < n; i++) {
                int partitions = partition_count(rk, topics[i]);

                if (partitions < 0) {
                        rd_kafka_topic_partition_list_destroy(list);
                        return -1;
                }
                for (int p = 0; p < partitions; p++)
                        rd_kafka_topic_partition_list_add(list, topics[i],
                                                          p)->offset =
                                RD_KAFKA_OFFSET_BEGINNING;
        }
        err = rd_kafka_assign(rk, list);
        rd_kafka_topic_partition_list_destroy(list);
        if (err)
                hearth_error(COMPONENT, "assign failed: %s",
                             rd_kafka_err2str(err));
        return err ? -1 : 0;
}

/*
 * Reads alerts until SIGINT or SIGTERM, or until idle_s seconds pass
 * without a message when idle_s is positive.
 */
static int run_alert_times(const char *brokers, char **topics, size_t n,
                           uint64_t idle_s, const char *path)
{
        static const char *props[] = {
                "group.id", PROGRAM "-alerts", "enable.auto.commit", "false",
                "enable.partition.eof", "false", "client.id", PROGRAM,
                "fetch.wait.max.ms", "10",
        };
        rd_kafka_t *rk = new_client(RD_KAFKA_CONSUMER, brokers, props,
                                    sizeof(props) / sizeof(*props));
        FILE *out = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
        uint64_t alerts = 0, invalid = 0;
        double last = now_s();
        int rc = -1;

        if (!out)
                hearth_error(COMPONENT, "cannot write %s: %s", path,
                             strerror(errno));
        if (!rk || !out)
                goto out;
        rd_kafka_poll_set_consumer(rk);
        if (assign_topics(rk, topics, n) != 0)
                goto out;
        while (!stop_requested && (!idle_s || now_s() - last < idle_s)) {
                rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);

                if (!m)
                        continue;
                if (m->err)
                        hearth_warn(COMPONENT, "consumer error: %s",
                                    rd_kafka_message_errstr(m));
                else if (write_alert_time(out, m, wall_ms()) == 0)
                        alerts++;
                else
                        invalid++;
                rd_kafka_message_destroy(m);
                last = now_s();
        }
        fprintf(stderr, PROGRAM ": %" PRIu64 " alerts, %" PRIu64 " messages "
                "that are not alerts\n", alerts, invalid);
        rc = 0;
out:
        if (out && out != stdout && fclose(out) != 0) {
                hearth_error(COMPONENT, "cannot write %s: %s", path,
                             strerror(errno));
                rc = -1;
        }
        if (rk) {
                rd_kafka_consumer_close(rk);
                rd_kafka_destroy(rk);
        }
        return rc == 0 ? 0 : 1;
}

static int cmd_alert_times(int argc, char **argv)
{
        static const struct option longopts[] = {
                {"brokers", required_argument, NULL, 'b'},
                {"out", required_argument, NULL, 'o'},
                {"idle-exit", required_argument, NULL, 'i'},
                {NULL, 0, NULL, 0}};
        const char *brokers = HEARTH_KAFKA_DEFAULT_BROKERS, *path = "-";
        uint64_t idle_s = 0;
        int c, bad = 0;

        while ((c = getopt_long(argc, argv, "b:o:i:", longopts, NULL)) != -1) {
                switch (c) {
                case 'b': brokers = optarg; break;
                case 'o': path = optarg; break;
                case 'i':
                        bad |= parse_u64("--idle-exit", optarg, 1, 86400,
                                         &idle_s);
                        break;
                default: return 2;
                }
        }
        if (bad)
                return 2;
        if (optind >= argc || argc - optind > MAX_ALERT_TOPICS) {
                hearth_error(COMPONENT, "alert-times needs 1 to %d topics; "
                             "see " PROGRAM " --help", MAX_ALERT_TOPICS);
                return 2;
        }
        return run_alert_times(brokers, argv + optind,
                               (size_t)(argc - optind), idle_s, path);
}

int main(int argc, char **argv)
{
        const char *cmd = argc > 1 ? argv[1] : "";

        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
                usage(stdout);
                return 0;
        }
        if (strcmp(cmd, "create-topics") == 0)
                return cmd_create_topics(argc - 1, argv + 1);
        if (strcmp(cmd, "produce") == 0)
                return cmd_produce(argc - 1, argv + 1);
        if (strcmp(cmd, "consume") == 0)
                return cmd_consume(argc - 1, argv + 1);
        if (strcmp(cmd, "alert-times") == 0)
                return cmd_alert_times(argc - 1, argv + 1);
        usage(stderr);
        return 2;
}
