/*
 * The model-test harness (see model_harness.h).
 */
#include "tests/unit/model_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"
#include "tests/unit/redis_server.h"

#define MAX_QUEUED  256
#define MAX_PARTIES 4

hearth_config_t harness_cfg;
hearth_state_t *harness_state;
hearth_engine_t *harness_engine;
hearth_out_list_t harness_out;
char harness_err[512];

static int64_t next_offset[HARNESS_MAX_PARTITIONS];
static hearth_input_msg_t queued[MAX_QUEUED];
static size_t n_queued;

static void server_start(void)
{
        hearth_test_redis_start("models");
}

void harness_set_option(const char *assignment)
{
        ck_assert_msg(hearth_config_set(&harness_cfg, assignment, harness_err,
                                        sizeof(harness_err)) == 0,
                      "%s: %s", assignment, harness_err);
}

const char *harness_redis(int argc, const char **argv)
{
        static char reply[256];

        ck_assert_msg(hearth_state_command(harness_state, argc, argv, NULL,
                                           reply, sizeof(reply), harness_err,
                                           sizeof(harness_err)) == 0,
                      "Redis %s: %s", argv[0], harness_err);
        return reply;
}

static void setup(void)
{
        char option[160];
        const char *flushall[] = {"FLUSHALL"};

        ck_assert_msg(hearth_test_redis_running(),
                      "redis-server is not running");
        hearth_log_set_level(HEARTH_LOG_WARN);
        hearth_config_defaults(&harness_cfg);
        snprintf(option, sizeof(option), "redis.unix_socket=%s",
                 hearth_test_redis_socket());
        harness_set_option(option);
        harness_set_option("topics.region_template=");
        harness_state = hearth_state_connect(&harness_cfg, harness_err,
                                             sizeof(harness_err));
        ck_assert_msg(harness_state != NULL, "%s", harness_err);
        harness_redis(1, flushall);
        harness_engine = NULL;
        memset(next_offset, 0, sizeof(next_offset));
        n_queued = 0;
}

static void teardown(void)
{
        for (size_t i = 0; i < n_queued; i++)
                free((void *)queued[i].payload);
        n_queued = 0;
        hearth_engine_free(harness_engine);
        harness_engine = NULL;
        hearth_out_list_clear(&harness_out);
        free(harness_out.msgs);
        harness_out.msgs = NULL;
        harness_out.cap = 0;
        hearth_state_free(harness_state);
        harness_state = NULL;
        hearth_config_free(&harness_cfg);
}

TCase *harness_tcase(const char *name)
{
        TCase *tc = tcase_create(name);

        tcase_add_unchecked_fixture(tc, server_start, hearth_test_redis_stop);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        return tc;
}

void harness_start_engine(void)
{
        if (!harness_engine)
                harness_engine =
                    hearth_engine_new(&harness_cfg, harness_state, harness_err,
                                      sizeof(harness_err));
        ck_assert_msg(harness_engine != NULL, "%s", harness_err);
}

void harness_restart_engine(void)
{
        hearth_engine_free(harness_engine);
        harness_engine = NULL;
        harness_start_engine();
}

int harness_engine_status(char *msg, size_t size)
{
        hearth_engine_t *e =
            hearth_engine_new(&harness_cfg, harness_state, msg, size);

        if (!e)
                return EXIT_FAILURE;
        hearth_engine_free(e);
        msg[0] = '\0';
        return 0;
}

static void set_flag(Hearth__V1__RiskFlags *risk, const char *name)
{
        static const struct {
                const char *name;
                size_t offset;
        } fields[] = {
            {"weapon", offsetof(Hearth__V1__RiskFlags, weapon)},
            {"firearm", offsetof(Hearth__V1__RiskFlags, firearm)},
            {"strangulation", offsetof(Hearth__V1__RiskFlags, strangulation)},
            {"threat_to_kill", offsetof(Hearth__V1__RiskFlags, threat_to_kill)},
            {"injury", offsetof(Hearth__V1__RiskFlags, injury)},
            {"children_present",
             offsetof(Hearth__V1__RiskFlags, children_present)},
            {"suicide_threat", offsetof(Hearth__V1__RiskFlags, suicide_threat)},
            {"victim_fears_death",
             offsetof(Hearth__V1__RiskFlags, victim_fears_death)},
            {"intoxication", offsetof(Hearth__V1__RiskFlags, intoxication)},
            {"pregnancy", offsetof(Hearth__V1__RiskFlags, pregnancy)},
            {"separation", offsetof(Hearth__V1__RiskFlags, separation)},
            {"stalking", offsetof(Hearth__V1__RiskFlags, stalking)},
            {"escalation", offsetof(Hearth__V1__RiskFlags, escalation)},
        };

        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
                if (strcmp(fields[i].name, name) == 0) {
                        *(protobuf_c_boolean *)((char *)risk +
                                                fields[i].offset) = 1;
                        return;
                }
        }
        ck_abort_msg("test bug: no risk flag %s", name);
}

void harness_set_flags(Hearth__V1__RiskFlags *risk, const char *list)
{
        char copy[256], *save = NULL;

        snprintf(copy, sizeof(copy), "%s", list);
        for (char *name = strtok_r(copy, ",", &save); name;
             name = strtok_r(NULL, ",", &save))
                set_flag(risk, name);
}

/* Appends a party with person key key, unless key is NULL. */
static void add_party(Hearth__V1__Party *parties, size_t *n,
                      Hearth__V1__PartyRole role, const char *key)
{
        if (!key)
                return;
        ck_assert_uint_lt(*n, MAX_PARTIES);
        parties[*n] = (Hearth__V1__Party)HEARTH__V1__PARTY__INIT;
        parties[*n].role = role;
        parties[*n].person_key = (char *)key;
        (*n)++;
}

/* Packs ev as the next offset of partition and queues it. */
static int64_t queue_packed(int32_t partition,
                            const Hearth__V1__IncidentEvent *ev)
{
        hearth_input_msg_t *msg;
        unsigned char *buf;

        ck_assert_uint_lt(n_queued, MAX_QUEUED);
        msg = &queued[n_queued++];
        buf = malloc(hearth__v1__incident_event__get_packed_size(ev) + 1);
        msg->partition = partition;
        msg->offset = next_offset[partition]++;
        msg->len = hearth__v1__incident_event__pack(ev, buf);
        msg->payload = buf;
        return msg->offset;
}

int64_t harness_queue(harness_event_t spec)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;
        Hearth__V1__RiskFlags risk = HEARTH__V1__RISK_FLAGS__INIT;
        Hearth__V1__Source source = HEARTH__V1__SOURCE__INIT;
        Hearth__V1__Party parties[MAX_PARTIES];
        Hearth__V1__Party *party_ptrs[MAX_PARTIES];
        size_t n_parties = 0;

        ck_assert_int_ge(spec.partition, 0);
        ck_assert_int_lt(spec.partition, HARNESS_MAX_PARTITIONS);
        ev.incident_id = (char *)spec.id;
        ev.event_type =
            spec.type ? spec.type : HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev.event_time_ms = spec.time_ms;
        ev.province_code = "990000";
        ev.city_code = (char *)(spec.city ? spec.city : "");
        ev.district_code = (char *)(spec.district ? spec.district : "990101");
        ev.address_key = (char *)(spec.address ? spec.address : "");
        ev.is_domestic = !spec.not_domestic;
        ev.disposition = spec.disposition;
        ev.route_key = (char *)(spec.route ? spec.route : "");
        if (spec.flags) {
                harness_set_flags(&risk, spec.flags);
                ev.risk = &risk;
        }
        if (spec.profile) {
                source.profile = (char *)spec.profile;
                ev.source = &source;
        }
        add_party(parties, &n_parties, HEARTH__V1__PARTY_ROLE__SUSPECT,
                  spec.suspect);
        add_party(parties, &n_parties, HEARTH__V1__PARTY_ROLE__VICTIM,
                  spec.victim);
        add_party(parties, &n_parties, HEARTH__V1__PARTY_ROLE__WITNESS,
                  spec.witness);
        add_party(parties, &n_parties, HEARTH__V1__PARTY_ROLE__CALLER,
                  spec.caller);
        for (size_t i = 0; i < n_parties; i++)
                party_ptrs[i] = &parties[i];
        ev.parties = party_ptrs;
        ev.n_parties = n_parties;

        ev.route_source_partition = spec.source_partition;
        ev.route_source_time_ms = spec.source_time_ms;
        ev.route_late = spec.late;
        return queue_packed(spec.partition, &ev);
}

int64_t harness_queue_heartbeat(int32_t partition, int32_t source,
                                int64_t time_ms)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;

        ck_assert_int_ge(partition, 0);
        ck_assert_int_lt(partition, HARNESS_MAX_PARTITIONS);
        ev.route_source_partition = source;
        ev.route_source_time_ms = time_ms;
        ev.event_time_ms = time_ms;
        return queue_packed(partition, &ev);
}

void harness_set_offset(int32_t partition, int64_t offset)
{
        ck_assert_int_ge(partition, 0);
        ck_assert_int_lt(partition, HARNESS_MAX_PARTITIONS);
        next_offset[partition] = offset;
}

void harness_process(void)
{
        int rc;

        harness_start_engine();
        hearth_out_list_clear(&harness_out);
        rc = hearth_engine_process(harness_engine, queued, n_queued,
                                   &harness_out, harness_err,
                                   sizeof(harness_err));
        for (size_t i = 0; i < n_queued; i++)
                free((void *)queued[i].payload);
        n_queued = 0;
        ck_assert_msg(rc == 0, "hearth_engine_process returned %d: %s", rc,
                      harness_err);
}

size_t harness_collect_alerts(const char *model, Hearth__V1__Alert **alerts,
                              char (*topics)[64], size_t max)
{
        size_t n = 0;

        for (size_t i = 0; i < harness_out.n; i++) {
                const hearth_out_msg_t *m = &harness_out.msgs[i];
                Hearth__V1__Alert *a;

                if (strncmp(m->topic, "hearth.alerts.p", 15) != 0)
                        continue;
                a = hearth__v1__alert__unpack(NULL, m->len, m->payload);
                ck_assert_msg(a != NULL, "undecodable alert on %s", m->topic);
                if ((model && strcmp(a->model, model) != 0) || n == max) {
                        hearth__v1__alert__free_unpacked(a, NULL);
                        continue;
                }
                if (topics)
                        snprintf(topics[n], 64, "%s", m->topic);
                alerts[n++] = a;
        }
        return n;
}

void harness_free_alerts(Hearth__V1__Alert **alerts, size_t n)
{
        for (size_t i = 0; i < n; i++)
                hearth__v1__alert__free_unpacked(alerts[i], NULL);
}

const char *harness_decimal(int64_t v)
{
        static char text[4][32];
        static int next;

        next = (next + 1) % 4;
        snprintf(text[next], sizeof(text[next]), "%lld", (long long)v);
        return text[next];
}
