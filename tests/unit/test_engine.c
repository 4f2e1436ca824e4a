/*
 * Tests for the batch processor (engine/engine.c) with the repeat-calls
 * model (models/repeat_calls.c), against a real redis-server.
 *
 * The unchecked fixture runs in the runner's own process. It starts one
 * redis-server on a Unix socket (no TCP port) before Check forks the first
 * test and stops it after the last one, so the server outlives every test
 * process and is stopped once. Each test connects anew, flushes every key,
 * feeds packed IncidentEvent messages of partition 3 to
 * hearth_engine_process and decodes the Alert messages it returns.
 */
#include "engine/engine.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/common/log.h"
#include "hearth/v1/alert.pb-c.h"
#include "hearth/v1/incident.pb-c.h"

#define PARTITION 3
#define MINUTE_MS INT64_C(60000)
#define HOUR_MS   (60 * MINUTE_MS)
#define DAY_MS    (24 * HOUR_MS)
#define T0        INT64_C(1714521600000) /* 2024-05-01T00:00:00Z */
/* Documented model state TTL: long window plus the allowed lateness. */
#define STATE_TTL_MS (30 * DAY_MS + 10 * MINUTE_MS)

#define HOUSE_A  "k1:AAAAAAAAAAAAAAAAAAAAAA"
#define HOUSE_B  "k1:BBBBBBBBBBBBBBBBBBBBBB"
#define CALLER   "k1:CCCCCCCCCCCCCCCCCCCCCC"
#define VICTIM   "k1:VVVVVVVVVVVVVVVVVVVVVV"
#define SUSPECT  "k1:SSSSSSSSSSSSSSSSSSSSSS"
#define PROVINCE "330000"
#define CITY     "330100"
#define DISTRICT "330106"

#define P3_TOPIC     "hearth.alerts.p3"
#define REGION_TOPIC "hearth.alerts.region." CITY
#define DLQ_TOPIC    "hearth.incidents.dlq"

#define PROGRESS_KEY "hearth:{p3}:progress"
#define OUTBOX_KEY   "hearth:{p3}:outbox"
#define RC_KEY_A     "hearth:{p3}:rc:a:" HOUSE_A
#define RC_KEY_B     "hearth:{p3}:rc:a:" HOUSE_B
#define SUP_KEY_A    "hearth:{p3}:rc.sup:a:" HOUSE_A

#define MAX_INPUTS     1024
#define MAX_ALERTS     1024
#define SERVER_WAIT_MS 10000
#define SERVER_STOP_MS 5000

/* ---- redis-server, owned by the runner process ---- */

static pid_t server_pid = -1;
static char socket_path[108];

/* Finds an executable on PATH and returns false when there is none. */
static bool find_program(const char *name, char *out, size_t size)
{
        const char *dir = getenv("PATH");

        while (dir && *dir) {
                const char *end = strchr(dir, ':');
                int len = end ? (int)(end - dir) : (int)strlen(dir);

                if (len == 0)
                        snprintf(out, size, "./%s", name);
                else
                        snprintf(out, size, "%.*s/%s", len, dir, name);
                if (access(out, X_OK) == 0)
                        return true;
                dir = end ? end + 1 : NULL;
        }
        return false;
}

/* Runs in the forked child: becomes redis-server or exits with 127. */
static void exec_server(const char *program)
{
        int null_fd = open("/dev/null", O_WRONLY);

        /* The server gets SIGTERM if the runner dies without teardown. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (null_fd >= 0)
                dup2(null_fd, STDOUT_FILENO);
        execl(program, "redis-server", "--port", "0", "--unixsocket",
              socket_path, "--unixsocketperm", "700", "--save", "",
              "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
}

/* Returns true when the server on socket_path replies PONG to PING. */
static bool server_answers(void)
{
        redisContext *c = redisConnectUnix(socket_path);
        redisReply *r = NULL;
        bool ok = false;

        if (c && !c->err) {
                r = redisCommand(c, "PING");
                ok = r && r->type == REDIS_REPLY_STATUS &&
                     strcmp(r->str, "PONG") == 0;
        }
        if (r)
                freeReplyObject(r);
        if (c)
                redisFree(c);
        return ok;
}

static void stop_server(void)
{
        int status;

        if (server_pid <= 0)
                return;
        kill(server_pid, SIGTERM);
        for (int waited = 0; waited < SERVER_STOP_MS; waited += 10) {
                if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
                        server_pid = -1;
                        break;
                }
                usleep(10000);
        }
        if (server_pid > 0) {
                kill(server_pid, SIGKILL);
                waitpid(server_pid, &status, 0);
                server_pid = -1;
        }
        unlink(socket_path);
}

static void start_server(void)
{
        char program[PATH_MAX];
        int status;
        pid_t pid;

        if (!find_program("redis-server", program, sizeof(program)))
                ck_abort_msg("redis-server not found on PATH. "
                             "Run make deps to install it.");
        snprintf(socket_path, sizeof(socket_path), "/tmp/hearth-unit-%d.sock",
                 (int)getpid());
        unlink(socket_path);
        pid = fork();
        if (pid < 0)
                ck_abort_msg("fork for redis-server failed: %s",
                             strerror(errno));
        if (pid == 0)
                exec_server(program);
        server_pid = pid;
        for (int waited = 0; waited < SERVER_WAIT_MS; waited += 10) {
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        server_pid = -1;
                        ck_abort_msg("%s exited with status %d before "
                                     "listening on %s",
                                     program,
                                     WIFEXITED(status) ? WEXITSTATUS(status)
                                                       : -1,
                                     socket_path);
                }
                if (server_answers())
                        return;
                usleep(10000);
        }
        stop_server();
        ck_abort_msg("redis-server did not answer PING on %s within %d ms",
                     socket_path, SERVER_WAIT_MS);
}

/* ---- per-test state ---- */

static hearth_config_t cfg;
static redisContext *admin; /* the test's own client, for checks */
static hearth_state_t *state;
static hearth_engine_t *engine;
static char err[512];

static hearth_input_msg_t inputs[MAX_INPUTS];
static size_t n_inputs;
static bool inputs_processed; /* the next queued message starts a batch */
static int32_t input_partition;
static int64_t next_offset[HEARTH_MAX_PARTITIONS];

static hearth_out_list_t out;
static Hearth__V1__Alert *alerts[MAX_ALERTS]; /* from the priority topics */
static size_t n_alerts;

static void set_option(const char *assignment)
{
        int rc = hearth_config_set(&cfg, assignment, err, sizeof(err));

        ck_assert_msg(rc == 0, "hearth_config_set(\"%s\"): %s", assignment,
                      err);
}

/* Runs a command on the test's client. The caller frees the reply. */
static redisReply *redis(const char *fmt, ...)
{
        redisReply *r;
        va_list ap;

        va_start(ap, fmt);
        r = redisvCommand(admin, fmt, ap);
        va_end(ap);
        ck_assert_msg(r != NULL, "Redis command %s failed: %s", fmt,
                      admin->errstr);
        ck_assert_msg(r->type != REDIS_REPLY_ERROR, "Redis %s: %s", fmt,
                      r->str);
        return r;
}

static long long redis_integer(const char *fmt, ...)
{
        redisReply *r;
        long long v;
        va_list ap;

        va_start(ap, fmt);
        r = redisvCommand(admin, fmt, ap);
        va_end(ap);
        ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER,
                      "Redis %s: no integer reply", fmt);
        v = r->integer;
        freeReplyObject(r);
        return v;
}

/* Returns a bulk reply as text in a static buffer, or "(nil)". */
static const char *redis_text(const char *fmt, ...)
{
        static char text[256];
        redisReply *r;
        va_list ap;

        va_start(ap, fmt);
        r = redisvCommand(admin, fmt, ap);
        va_end(ap);
        ck_assert_msg(r != NULL, "Redis %s failed", fmt);
        if (r->type == REDIS_REPLY_STRING)
                snprintf(text, sizeof(text), "%.*s", (int)r->len, r->str);
        else
                snprintf(text, sizeof(text), "(nil)");
        freeReplyObject(r);
        return text;
}

/* Returns an int64 as decimal text in a rotating static buffer. */
static const char *decimal(int64_t v)
{
        static char text[4][32];
        static int next;

        next = (next + 1) % 4;
        snprintf(text[next], sizeof(text[next]), "%lld", (long long)v);
        return text[next];
}

static void flush_redis(void)
{
        freeReplyObject(redis("FLUSHALL"));
}

static void clear_inputs(void)
{
        for (size_t i = 0; i < n_inputs; i++)
                free((void *)inputs[i].payload);
        n_inputs = 0;
        inputs_processed = false;
}

static void clear_results(void)
{
        for (size_t i = 0; i < n_alerts; i++)
                hearth__v1__alert__free_unpacked(alerts[i], NULL);
        n_alerts = 0;
        hearth_out_list_clear(&out);
}

static void setup(void)
{
        char assignment[160];

        hearth_log_set_level(HEARTH_LOG_OFF);
        hearth_config_defaults(&cfg);
        snprintf(assignment, sizeof(assignment), "redis.unix_socket=%s",
                 socket_path);
        set_option(assignment);
        n_inputs = 0;
        inputs_processed = false;
        input_partition = PARTITION;
        memset(next_offset, 0, sizeof(next_offset));
        n_alerts = 0;
        admin = redisConnectUnix(socket_path);
        ck_assert_msg(admin && !admin->err, "cannot connect to %s: %s",
                      socket_path, admin ? admin->errstr : "out of memory");
        flush_redis();
}

static void teardown(void)
{
        clear_results();
        free(out.msgs);
        out.msgs = NULL;
        out.cap = 0;
        clear_inputs();
        hearth_engine_free(engine);
        engine = NULL;
        hearth_state_free(state);
        state = NULL;
        hearth_config_free(&cfg);
        if (admin)
                redisFree(admin);
        admin = NULL;
}

static void start_engine(void)
{
        state = hearth_state_connect(&cfg, err, sizeof(err));
        ck_assert_msg(state != NULL, "hearth_state_connect: %s", err);
        engine = hearth_engine_new(&cfg, state, err, sizeof(err));
        ck_assert_msg(engine != NULL, "hearth_engine_new: %s", err);
}

/* ---- input messages ---- */

/* Queues raw bytes at the partition's next offset. */
static void queue_bytes(const void *bytes, size_t len)
{
        void *copy = malloc(len ? len : 1);

        if (inputs_processed)
                clear_inputs();
        ck_assert_uint_lt(n_inputs, MAX_INPUTS);
        memcpy(copy, bytes, len);
        inputs[n_inputs++] = (hearth_input_msg_t){
            .partition = input_partition,
            .offset = next_offset[input_partition]++,
            .payload = copy,
            .len = len,
        };
}

/* Returns a domestic CALL_RECEIVED event at an address key ("" for none). */
static Hearth__V1__IncidentEvent
call_event(const char *incident_id, const char *address_key, int64_t time_ms)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;

        ev.incident_id = (char *)incident_id;
        ev.event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev.event_time_ms = time_ms;
        ev.ingest_time_ms = time_ms + MINUTE_MS;
        ev.province_code = PROVINCE;
        ev.city_code = CITY;
        ev.district_code = DISTRICT;
        ev.address_key = (char *)address_key;
        ev.is_domestic = true;
        return ev;
}

static void queue_event(const Hearth__V1__IncidentEvent *ev)
{
        size_t len = hearth__v1__incident_event__get_packed_size(ev);
        unsigned char *buf = malloc(len ? len : 1);

        hearth__v1__incident_event__pack(ev, buf);
        queue_bytes(buf, len);
        free(buf);
}

/* Queues a domestic call at a household address. */
static void queue_call(const char *incident_id, const char *address_key,
                       int64_t time_ms)
{
        Hearth__V1__IncidentEvent ev =
            call_event(incident_id, address_key, time_ms);

        queue_event(&ev);
}

/* ---- processing and results ---- */

static bool is_priority_topic(const char *topic)
{
        return strncmp(topic, "hearth.alerts.p", 15) == 0;
}

static void decode_alerts(void)
{
        for (size_t i = 0; i < out.n; i++) {
                hearth_out_msg_t *m = &out.msgs[i];
                Hearth__V1__Alert *a;

                if (!is_priority_topic(m->topic))
                        continue;
                a = hearth__v1__alert__unpack(NULL, m->len, m->payload);
                ck_assert_msg(a != NULL, "message %zu on %s is not an Alert", i,
                              m->topic);
                ck_assert_uint_lt(n_alerts, MAX_ALERTS);
                alerts[n_alerts++] = a;
        }
}

/*
 * Processes the queued batch and returns hearth_engine_process's result,
 * starting the engine on first use so a test can change cfg before.
 * Afterwards out contains what the call returned and alerts the decoded
 * priority-topic alerts. The batch stays queued until the next message is
 * queued, so processing again redelivers it.
 */
static int try_process(void)
{
        int rc;

        if (!engine)
                start_engine();
        clear_results();
        err[0] = '\0';
        rc = hearth_engine_process(engine, inputs, n_inputs, &out, err,
                                   sizeof(err));
        inputs_processed = true;
        decode_alerts();
        return rc;
}

static void process(void)
{
        int rc = try_process();

        ck_assert_msg(rc == 0, "hearth_engine_process returned %d: %s", rc,
                      err);
}

static size_t count_topic(const char *topic)
{
        size_t n = 0;

        for (size_t i = 0; i < out.n; i++)
                n += strcmp(out.msgs[i].topic, topic) == 0;
        return n;
}

/* Returns the only alert that an incident triggered, or NULL. */
static const Hearth__V1__Alert *alert_for(const char *incident_id)
{
        const Hearth__V1__Alert *found = NULL;

        for (size_t i = 0; i < n_alerts; i++) {
                if (strcmp(alerts[i]->trigger_incident_id, incident_id))
                        continue;
                ck_assert_msg(found == NULL,
                              "incident %s triggered more "
                              "than one alert",
                              incident_id);
                found = alerts[i];
        }
        return found;
}

/* Returns an alert's incident ids joined by commas, in a static buffer. */
static const char *ids_of(const Hearth__V1__Alert *a)
{
        static char text[4096];
        size_t n = 0;

        text[0] = '\0';
        for (size_t i = 0; i < a->n_incident_ids; i++)
                n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s",
                                      i ? "," : "", a->incident_ids[i]);
        return text;
}

static int64_t now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Asserts that the batch produced exactly one dead letter, with reason,
 * the input offset and size, and the reason as its message key.
 */
static void assert_dead_letter(const char *reason, int64_t offset, size_t bytes)
{
        const hearth_out_msg_t *m = NULL;
        json_error_t jerr;
        json_t *doc;

        ck_assert_uint_eq(count_topic(DLQ_TOPIC), 1);
        for (size_t i = 0; i < out.n; i++)
                if (strcmp(out.msgs[i].topic, DLQ_TOPIC) == 0)
                        m = &out.msgs[i];
        ck_assert_str_eq(m->key, reason);
        ck_assert_int_eq(m->source_partition, PARTITION);
        doc = json_loadb(m->payload, m->len, 0, &jerr);
        ck_assert_msg(doc != NULL, "dead letter is not JSON: %s", jerr.text);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "reason")),
                         reason);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "topic")),
                         "hearth.incidents");
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "partition")),
                         PARTITION);
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "offset")),
                         offset);
        ck_assert_int_eq(json_integer_value(json_object_get(doc, "bytes")),
                         (json_int_t)bytes);
        json_decref(doc);
}

/* ---- windows and rules ---- */

START_TEST(pair_within_72h_alerts_p3)
{
        const int64_t t2 = T0 + 71 * HOUR_MS;
        const Hearth__V1__Alert *a;
        int64_t before, after;
        char id[33];

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, t2);
        before = now_ms();
        process();
        after = now_ms();

        ck_assert_uint_eq(n_alerts, 1);
        a = alerts[0];
        ck_assert_str_eq(a->model, "repeat_calls");
        ck_assert_int_eq(a->priority, HEARTH__V1__PRIORITY__P3);
        ck_assert_uint_eq(a->count, 2);
        ck_assert_double_eq(a->score, 1.0);
        ck_assert_int_eq(a->subject_kind, HEARTH__V1__SUBJECT_KIND__HOUSEHOLD);
        ck_assert_str_eq(a->subject_key, "a:" HOUSE_A);
        ck_assert_str_eq(a->trigger_incident_id, "inc-a2");
        ck_assert_str_eq(ids_of(a), "inc-a1,inc-a2");
        ck_assert_int_eq(a->window_end_ms, t2);
        ck_assert_int_eq(a->window_start_ms, t2 - 72 * HOUR_MS + 1);
        ck_assert_int_eq(a->event_time_ms, t2);
        ck_assert_int_ge(a->emitted_at_ms, before);
        ck_assert_int_le(a->emitted_at_ms, after);
        ck_assert_str_eq(a->province_code, PROVINCE);
        ck_assert_str_eq(a->city_code, CITY);
        ck_assert_str_eq(a->district_code, DISTRICT);
        ck_assert_uint_eq(a->n_reasons, 1);
        ck_assert_str_eq(a->reasons[0]->code, "repeat_calls.short");
        ck_assert_str_eq(a->reasons[0]->text,
                         "2 domestic incidents at this household within "
                         "72 h");
        ck_assert_str_eq(a->rule_version, "1");
        ck_assert_str_eq(a->engine_version, HEARTH_ENGINE_VERSION);
        hearth_alert_id("repeat_calls", "a:" HOUSE_A, 3, "inc-a2", id);
        ck_assert_str_eq(a->alert_id, id);
}
END_TEST

START_TEST(pair_alert_on_priority_and_region_topics)
{
        const Hearth__V1__Alert *a;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + 71 * HOUR_MS);
        process();

        ck_assert_uint_eq(out.n, 2);
        ck_assert_str_eq(out.msgs[0].topic, P3_TOPIC);
        ck_assert_str_eq(out.msgs[1].topic, REGION_TOPIC);
        a = alerts[0];
        ck_assert_str_eq(out.msgs[0].key, a->alert_id);
        ck_assert_str_eq(out.msgs[1].key, a->alert_id);
        ck_assert_uint_eq(out.msgs[1].len, out.msgs[0].len);
        ck_assert_mem_eq(out.msgs[1].payload, out.msgs[0].payload,
                         out.msgs[0].len);
        ck_assert_int_eq(out.msgs[0].source_partition, PARTITION);
        ck_assert_int_eq(out.msgs[1].source_partition, PARTITION);
}
END_TEST

START_TEST(pair_72h_apart_no_alert)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + 72 * HOUR_MS);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 2);
}
END_TEST

START_TEST(single_incident_no_alert)
{
        queue_call("inc-a1", HOUSE_A, T0);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 1);
}
END_TEST

START_TEST(three_in_30_days_alerts_p2)
{
        const int64_t t3 = T0 + 10 * DAY_MS;
        const Hearth__V1__Alert *a;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + 5 * DAY_MS);
        queue_call("inc-a3", HOUSE_A, t3);
        process();

        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_uint_eq(count_topic("hearth.alerts.p2"), 1);
        ck_assert_uint_eq(count_topic(REGION_TOPIC), 1);
        a = alerts[0];
        ck_assert_int_eq(a->priority, HEARTH__V1__PRIORITY__P2);
        ck_assert_uint_eq(a->count, 3);
        ck_assert_double_eq(a->score, 1.0);
        ck_assert_str_eq(a->trigger_incident_id, "inc-a3");
        ck_assert_str_eq(ids_of(a), "inc-a1,inc-a2,inc-a3");
        ck_assert_int_eq(a->window_end_ms, t3);
        ck_assert_int_eq(a->window_start_ms, t3 - 30 * DAY_MS + 1);
        ck_assert_str_eq(a->reasons[0]->code, "repeat_calls.long");
        ck_assert_str_eq(a->reasons[0]->text,
                         "3 domestic incidents at this household within "
                         "30 days");
}
END_TEST

START_TEST(three_in_72h_third_alerts_p2_only)
{
        const Hearth__V1__Alert *a;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        queue_call("inc-a3", HOUSE_A, T0 + 2 * HOUR_MS);
        process();

        ck_assert_uint_eq(n_alerts, 2);
        a = alert_for("inc-a2");
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->priority, 3);
        a = alert_for("inc-a3");
        ck_assert_ptr_nonnull(a);
        ck_assert_int_eq(a->priority, 2);
        ck_assert_uint_eq(a->count, 3);
        ck_assert_str_eq(ids_of(a), "inc-a1,inc-a2,inc-a3");
        /* The P3 topic has only the second event's alert. */
        ck_assert_uint_eq(count_topic(P3_TOPIC), 1);
        ck_assert_uint_eq(count_topic("hearth.alerts.p2"), 1);
}
END_TEST

START_TEST(non_domestic_never_alerts)
{
        for (int i = 0; i < 3; i++) {
                char id[16];
                Hearth__V1__IncidentEvent ev;

                snprintf(id, sizeof(id), "inc-n%d", i);
                ev = call_event(id, HOUSE_A, T0 + i * HOUR_MS);
                ev.is_domestic = false;
                queue_event(&ev);
        }
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("EXISTS %s", RC_KEY_A), 0);
        ck_assert_uint_eq(hearth_engine_stats(engine)->events, 3);
        ck_assert_uint_eq(hearth_engine_stats(engine)->domestic, 0);
}
END_TEST

START_TEST(household_falls_back_to_caller)
{
        for (int i = 0; i < 2; i++) {
                char id[16];
                Hearth__V1__IncidentEvent ev;

                snprintf(id, sizeof(id), "inc-c%d", i);
                ev = call_event(id, "", T0 + i * HOUR_MS);
                ev.caller_key = CALLER;
                queue_event(&ev);
        }
        process();

        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->subject_key, "c:" CALLER);
        ck_assert_int_eq(redis_integer("ZCARD %s", "hearth:{p3}:rc:c:" CALLER),
                         2);
}
END_TEST

START_TEST(household_falls_back_to_victim)
{
        Hearth__V1__Party suspect = HEARTH__V1__PARTY__INIT;
        Hearth__V1__Party victim = HEARTH__V1__PARTY__INIT;
        Hearth__V1__Party *parties[2] = {&suspect, &victim};

        suspect.role = HEARTH__V1__PARTY_ROLE__SUSPECT;
        suspect.person_key = SUSPECT;
        victim.role = HEARTH__V1__PARTY_ROLE__VICTIM;
        victim.person_key = VICTIM;
        for (int i = 0; i < 2; i++) {
                char id[16];
                Hearth__V1__IncidentEvent ev;

                snprintf(id, sizeof(id), "inc-v%d", i);
                ev = call_event(id, "", T0 + i * HOUR_MS);
                ev.n_parties = 2;
                ev.parties = parties;
                queue_event(&ev);
        }
        process();

        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->subject_key, "v:" VICTIM);
        ck_assert_int_eq(redis_integer("ZCARD %s", "hearth:{p3}:rc:v:" VICTIM),
                         2);
}
END_TEST

START_TEST(event_without_household_no_alert)
{
        Hearth__V1__Party suspect = HEARTH__V1__PARTY__INIT;
        Hearth__V1__Party *parties[1] = {&suspect};

        suspect.role = HEARTH__V1__PARTY_ROLE__SUSPECT;
        suspect.person_key = SUSPECT;
        for (int i = 0; i < 2; i++) {
                char id[16];
                Hearth__V1__IncidentEvent ev;

                snprintf(id, sizeof(id), "inc-s%d", i);
                ev = call_event(id, "", T0 + i * HOUR_MS);
                ev.n_parties = 1;
                ev.parties = parties;
                queue_event(&ev);
        }
        process();

        /* Only the copies to the person topic, one per event. */
        ck_assert_uint_eq(n_alerts, 0);
        ck_assert_uint_eq(out.n, 2);
        for (size_t i = 0; i < out.n; i++) {
                Hearth__V1__IncidentEvent *copy;

                ck_assert_str_eq(out.msgs[i].topic, "hearth.persons");
                ck_assert_str_eq(out.msgs[i].key, SUSPECT);
                copy = hearth__v1__incident_event__unpack(
                        NULL, out.msgs[i].len, out.msgs[i].payload);
                ck_assert_ptr_nonnull(copy);
                ck_assert_str_eq(copy->route_key, SUSPECT);
                ck_assert_uint_eq(copy->n_parties, 1);
                hearth__v1__incident_event__free_unpacked(copy, NULL);
        }
        ck_assert_int_eq(
            redis_integer("EXISTS %s", "hearth:{p3}:rc:v:" SUSPECT), 0);
}
END_TEST

/* ---- suppression ---- */

START_TEST(repeat_p3_within_72h_suppressed)
{
        /* A long threshold out of reach keeps every alert at P3. */
        set_option("models.repeat_calls.long_threshold=1000");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);

        queue_call("inc-a3", HOUSE_A, T0 + 10 * HOUR_MS);
        queue_call("inc-a4", HOUSE_A, T0 + 11 * HOUR_MS);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 4);
        ck_assert_str_eq(redis_text("HGET %s 3", SUP_KEY_A),
                         decimal(T0 + HOUR_MS));
}
END_TEST

START_TEST(p3_suppression_ends_after_window)
{
        const Hearth__V1__Alert *a;

        set_option("models.repeat_calls.long_threshold=1000");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);

        /* 71 h after the last P3: a pair again, still suppressed. */
        queue_call("inc-a3", HOUSE_A, T0 + 72 * HOUR_MS);
        process();
        ck_assert_uint_eq(out.n, 0);

        /* 72 h after the last P3: the suppression window has passed. */
        queue_call("inc-a4", HOUSE_A, T0 + 73 * HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        a = alerts[0];
        ck_assert_int_eq(a->priority, 3);
        ck_assert_str_eq(a->trigger_incident_id, "inc-a4");
        ck_assert_str_eq(ids_of(a), "inc-a3,inc-a4");
        ck_assert_str_eq(redis_text("HGET %s 3", SUP_KEY_A),
                         decimal(T0 + 73 * HOUR_MS));
}
END_TEST

START_TEST(p2_after_p3_goes_out)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(alerts[0]->priority, 3);

        queue_call("inc-a3", HOUSE_A, T0 + 2 * HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(alerts[0]->priority, 2);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "inc-a3");
}
END_TEST

START_TEST(p3_after_recent_p2_suppressed)
{
        /* Swapped priorities: the 72 h rule raises P2, the 30 day rule P3. */
        set_option("models.repeat_calls.short_priority=2");
        set_option("models.repeat_calls.long_priority=3");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(alerts[0]->priority, 2);

        /* 3 in 30 days but 1 in 72 h: a P3 within 30 days of the P2. */
        queue_call("inc-a3", HOUSE_A, T0 + 5 * DAY_MS);
        process();
        ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(repeat_p2_within_30_days_suppressed)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + 5 * DAY_MS);
        queue_call("inc-a3", HOUSE_A, T0 + 10 * DAY_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);

        /* Both rules hold, so only the P2 counts, and it is suppressed. */
        queue_call("inc-a4", HOUSE_A, T0 + 12 * DAY_MS);
        process();
        ck_assert_uint_eq(out.n, 0);
}
END_TEST

/* ---- duplicates, redelivery, lateness ---- */

START_TEST(duplicate_message_new_offset_ignored)
{
        queue_call("inc-a1", HOUSE_A, T0);
        process();
        queue_call("inc-a1", HOUSE_A, T0);
        process();

        ck_assert_int_eq(inputs[0].offset, 1);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(hearth_engine_stats(engine)->events, 2);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 1);
}
END_TEST

START_TEST(later_event_type_of_incident_ignored)
{
        Hearth__V1__IncidentEvent ev =
            call_event("inc-a1", HOUSE_A, T0 + 20 * MINUTE_MS);

        queue_call("inc-a1", HOUSE_A, T0);
        ev.event_type = HEARTH__V1__EVENT_TYPE__DISPATCHED;
        queue_event(&ev);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 1);
        ck_assert_str_eq(redis_text("ZSCORE %s inc-a1", RC_KEY_A), decimal(T0));
}
END_TEST

/*
 * The model counts an incident once, at its first event, and only that
 * event may trigger an alert (models/repeat_calls.c). A later event of the
 * incident that names another household must not count it again there.
 */
START_TEST(later_event_at_other_household_ignored)
{
        Hearth__V1__IncidentEvent moved =
            call_event("inc-a1", HOUSE_B, T0 + 2 * HOUR_MS);

        queue_call("inc-b1", HOUSE_B, T0);
        queue_call("inc-a1", HOUSE_A, T0 + HOUR_MS);
        moved.event_type = HEARTH__V1__EVENT_TYPE__DISPATCHED;
        queue_event(&moved);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_B), 1);
}
END_TEST

START_TEST(redelivered_batch_skipped)
{
        int64_t offset = 0;
        int rc;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);

        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(hearth_engine_stats(engine)->skipped, 2);
        ck_assert_uint_eq(hearth_engine_stats(engine)->alerts, 1);
        ck_assert_uint_eq(hearth_engine_stats(engine)->dead_letters, 0);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "2");
        rc = hearth_engine_stored_offset(engine, PARTITION, &offset, err,
                                         sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_stored_offset: %s", err);
        ck_assert_int_eq(offset, 2);
        /* The outbox still contains the first delivery only. */
        ck_assert_int_eq(redis_integer("LLEN %s", OUTBOX_KEY), 2);
}
END_TEST

START_TEST(redelivered_dead_letter_not_repeated)
{
        static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff};

        queue_bytes(garbage, sizeof(garbage));
        process();
        ck_assert_uint_eq(count_topic(DLQ_TOPIC), 1);

        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(hearth_engine_stats(engine)->dead_letters, 1);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "1");
}
END_TEST

START_TEST(overlapping_batch_applies_new_only)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-b1", HOUSE_B, T0);
        process();

        /* Redelivery from offset 1, then one new message at offset 2. */
        next_offset[PARTITION] = 1;
        queue_call("inc-b1", HOUSE_B, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "inc-a2");
        ck_assert_uint_eq(hearth_engine_stats(engine)->skipped, 1);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "3");
}
END_TEST

START_TEST(redelivered_prefix_keeps_offset)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-b1", HOUSE_B, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        /* Redelivery of offset 0 alone must not move the offset back. */
        next_offset[PARTITION] = 0;
        queue_call("inc-a1", HOUSE_A, T0);
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "3");
}
END_TEST

START_TEST(late_event_stored_without_alert)
{
        const int64_t t = T0 + 5 * DAY_MS;
        const Hearth__V1__Alert *a;

        queue_call("inc-b1", HOUSE_B, t - 3 * HOUR_MS);
        queue_call("inc-a1", HOUSE_A, t);
        process();
        ck_assert_str_eq(redis_text("HGET %s max_event_time", PROGRESS_KEY),
                         decimal(t));

        /* 2 h behind the watermark: beyond the 10 min allowed lateness. */
        queue_call("inc-b2", HOUSE_B, t - 2 * HOUR_MS);
        process();
        ck_assert_uint_eq(out.n, 0);
        ck_assert_uint_eq(hearth_engine_stats(engine)->late, 1);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_B), 2);
        ck_assert_str_eq(redis_text("ZSCORE %s inc-b2", RC_KEY_B),
                         decimal(t - 2 * HOUR_MS));

        queue_call("inc-b3", HOUSE_B, t + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        a = alerts[0];
        ck_assert_str_eq(a->trigger_incident_id, "inc-b3");
        ck_assert_int_eq(a->priority, 2);
        ck_assert_uint_eq(a->count, 3);
        ck_assert_str_eq(ids_of(a), "inc-b1,inc-b2,inc-b3");
}
END_TEST

START_TEST(event_at_lateness_limit_alerts)
{
        const int64_t t = T0 + 5 * DAY_MS;

        queue_call("inc-b1", HOUSE_B, t - 3 * HOUR_MS);
        queue_call("inc-a1", HOUSE_A, t);
        queue_call("inc-b2", HOUSE_B, t - 10 * MINUTE_MS);
        process();

        ck_assert_uint_eq(hearth_engine_stats(engine)->late, 0);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->trigger_incident_id, "inc-b2");
}
END_TEST

/* ---- dead letters ---- */

START_TEST(garbage_bytes_dead_letter)
{
        static const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff};

        queue_call("inc-a1", HOUSE_A, T0);
        queue_bytes(garbage, sizeof(garbage));
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        assert_dead_letter("invalid_protobuf", 1, sizeof(garbage));
        ck_assert_uint_eq(hearth_engine_stats(engine)->dead_letters, 1);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(ids_of(alerts[0]), "inc-a1,inc-a2");
}
END_TEST

START_TEST(zero_event_time_dead_letter)
{
        Hearth__V1__IncidentEvent bad = call_event("inc-x", HOUSE_B, 0);

        queue_call("inc-a1", HOUSE_A, T0);
        queue_event(&bad);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        assert_dead_letter("invalid_event_time", 1, inputs[1].len);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(redis_integer("EXISTS %s", RC_KEY_B), 0);
}
END_TEST

START_TEST(year_9999_event_time_dead_letter)
{
        /* 9999-12-31T23:59:59Z */
        Hearth__V1__IncidentEvent bad =
            call_event("inc-x", HOUSE_B, INT64_C(253402300799000));

        queue_call("inc-a1", HOUSE_A, T0);
        queue_event(&bad);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        assert_dead_letter("invalid_event_time", 1, inputs[1].len);
        ck_assert_uint_eq(n_alerts, 1);
        /* A rejected event must not move the watermark. */
        ck_assert_str_eq(redis_text("HGET %s max_event_time", PROGRESS_KEY),
                         decimal(T0 + HOUR_MS));
}
END_TEST

START_TEST(empty_incident_id_dead_letter)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("", HOUSE_A, T0 + 30 * MINUTE_MS);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        assert_dead_letter("missing_incident_id", 1, inputs[1].len);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(ids_of(alerts[0]), "inc-a1,inc-a2");
}
END_TEST

START_TEST(incident_id_over_128_bytes_dead_letter)
{
        char id[130];

        memset(id, 'x', sizeof(id) - 1);
        id[sizeof(id) - 1] = '\0';
        queue_call(id, HOUSE_A, T0);
        id[128] = '\0';
        queue_call(id, HOUSE_A, T0 + HOUR_MS);
        process();

        assert_dead_letter("field_too_long", 0, inputs[0].len);
        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 1);
}
END_TEST

START_TEST(oversized_message_dead_letter)
{
        Hearth__V1__IncidentEvent big = call_event("inc-a2", HOUSE_A, T0);
        char station[80];

        set_option("engine.max_message_bytes=64");
        memset(station, 's', sizeof(station) - 1);
        station[sizeof(station) - 1] = '\0';
        big.station_code = station;
        queue_event(&big);
        process();

        ck_assert_uint_gt(inputs[0].len, 64);
        assert_dead_letter("message_too_large", 0, inputs[0].len);
}
END_TEST

/* ---- Redis keys, TTLs and the outbox ---- */

START_TEST(state_keys_have_documented_ttls)
{
        long long ttl;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);

        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "2");
        ck_assert_str_eq(redis_text("HGET %s max_event_time", PROGRESS_KEY),
                         decimal(T0 + HOUR_MS));
        ttl = redis_integer("PTTL %s", PROGRESS_KEY);
        ck_assert_int_gt(ttl, 0);
        ck_assert_int_le(ttl, STATE_TTL_MS);

        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 2);
        ttl = redis_integer("PTTL %s", RC_KEY_A);
        ck_assert_int_gt(ttl, STATE_TTL_MS - MINUTE_MS);
        ck_assert_int_le(ttl, STATE_TTL_MS);

        ck_assert_str_eq(redis_text("HGET %s 3", SUP_KEY_A),
                         decimal(T0 + HOUR_MS));
        ttl = redis_integer("PTTL %s", SUP_KEY_A);
        ck_assert_int_gt(ttl, STATE_TTL_MS - MINUTE_MS);
        ck_assert_int_le(ttl, STATE_TTL_MS);

        ttl = redis_integer("PTTL %s", OUTBOX_KEY);
        ck_assert_int_gt(ttl, 0);
        ck_assert_int_le(ttl, STATE_TTL_MS);
}
END_TEST

START_TEST(incidents_past_ttl_trimmed)
{
        queue_call("inc-a1", HOUSE_A, T0);
        process();
        queue_call("inc-a2", HOUSE_A, T0 + 31 * DAY_MS);
        process();

        ck_assert_int_eq(redis_integer("ZCARD %s", RC_KEY_A), 1);
        ck_assert_str_eq(redis_text("ZSCORE %s inc-a1", RC_KEY_A), "(nil)");
}
END_TEST

START_TEST(outbox_read_matches_process_output)
{
        static const unsigned char garbage[] = {0xff, 0xff, 0xff};
        hearth_out_list_t stored = {0};
        int rc;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_bytes(garbage, sizeof(garbage));
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(out.n, 3);
        ck_assert_int_eq(redis_integer("LLEN %s", OUTBOX_KEY), 3);

        rc = hearth_engine_outbox_read(engine, PARTITION, &stored, err,
                                       sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_outbox_read: %s", err);
        ck_assert_uint_eq(stored.n, out.n);
        for (size_t i = 0; i < stored.n && i < out.n; i++) {
                ck_assert_str_eq(stored.msgs[i].topic, out.msgs[i].topic);
                ck_assert_str_eq(stored.msgs[i].key, out.msgs[i].key);
                ck_assert_uint_eq(stored.msgs[i].len, out.msgs[i].len);
                ck_assert_mem_eq(stored.msgs[i].payload, out.msgs[i].payload,
                                 out.msgs[i].len);
                ck_assert_int_eq(stored.msgs[i].source_partition, PARTITION);
        }
        hearth_out_list_clear(&stored);
        free(stored.msgs);
}
END_TEST

START_TEST(outbox_clear_deletes_list)
{
        const int32_t partitions[1] = {PARTITION};
        hearth_out_list_t stored = {0};
        int rc;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_int_eq(redis_integer("EXISTS %s", OUTBOX_KEY), 1);

        rc =
            hearth_engine_outbox_clear(engine, partitions, 1, err, sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_outbox_clear: %s", err);

        ck_assert_int_eq(redis_integer("EXISTS %s", OUTBOX_KEY), 0);
        rc = hearth_engine_outbox_read(engine, PARTITION, &stored, err,
                                       sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_outbox_read: %s", err);
        ck_assert_uint_eq(stored.n, 0);
        free(stored.msgs);
}
END_TEST

START_TEST(stored_offset_absent_is_minus_one)
{
        int64_t offset = 0;
        int rc;

        start_engine();
        rc = hearth_engine_stored_offset(engine, PARTITION, &offset, err,
                                         sizeof(err));
        ck_assert_msg(rc == 0, "hearth_engine_stored_offset: %s", err);
        ck_assert_int_eq(offset, -1);
}
END_TEST

START_TEST(batch_spans_two_partitions)
{
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        input_partition = 5;
        next_offset[5] = 40;
        queue_call("inc-b1", HOUSE_B, T0);
        queue_call("inc-b2", HOUSE_B, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(n_alerts, 2);
        for (size_t i = 0; i < out.n; i++) {
                bool from_b =
                    strcmp(out.msgs[i].key, alert_for("inc-b2")->alert_id) == 0;

                ck_assert_int_eq(out.msgs[i].source_partition,
                                 from_b ? 5 : PARTITION);
        }
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "2");
        ck_assert_str_eq(redis_text("HGET %s offset", "hearth:{p5}:progress"),
                         "42");
        ck_assert_int_eq(redis_integer("ZCARD %s", "hearth:{p5}:rc:a:" HOUSE_B),
                         2);
        ck_assert_int_eq(redis_integer("LLEN %s", OUTBOX_KEY), 2);
        ck_assert_int_eq(redis_integer("LLEN %s", "hearth:{p5}:outbox"), 2);
}
END_TEST

START_TEST(partition_out_of_range_rejected)
{
        hearth_input_msg_t msg = {.partition = HEARTH_MAX_PARTITIONS,
                                  .offset = 0,
                                  .payload = "",
                                  .len = 0};

        start_engine();
        ck_assert_int_eq(
            hearth_engine_process(engine, &msg, 1, &out, err, sizeof(err)), -1);
        ck_assert_msg(strstr(err, "partition 1024") != NULL,
                      "error \"%s\" does not name the partition", err);
        ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(many_households_in_one_batch)
{
        /* 600 model keys make the batch cache grow its 1024-slot table. */
        enum { HOUSEHOLDS = 300 };
        char address[40], id[32];

        for (int i = 0; i < HOUSEHOLDS; i++) {
                snprintf(address, sizeof(address), "k1:HOUSE%014d", i);
                snprintf(id, sizeof(id), "inc-h%d-1", i);
                queue_call(id, address, T0 + i * MINUTE_MS);
                snprintf(id, sizeof(id), "inc-h%d-2", i);
                queue_call(id, address, T0 + HOUR_MS + i * MINUTE_MS);
        }
        process();

        ck_assert_uint_eq(n_alerts, HOUSEHOLDS);
        ck_assert_uint_eq(count_topic(REGION_TOPIC), HOUSEHOLDS);
        for (int i = 0; i < HOUSEHOLDS; i++) {
                const Hearth__V1__Alert *a;

                snprintf(id, sizeof(id), "inc-h%d-2", i);
                a = alert_for(id);
                ck_assert_msg(a != NULL, "no alert for %s", id);
                ck_assert_uint_eq(a->count, 2);
                snprintf(address, sizeof(address), "a:k1:HOUSE%014d", i);
                ck_assert_str_eq(a->subject_key, address);
        }
}
END_TEST

START_TEST(empty_batch_changes_nothing)
{
        process();

        ck_assert_uint_eq(out.n, 0);
        ck_assert_int_eq(redis_integer("DBSIZE"), 0);
}
END_TEST

START_TEST(redis_read_error_applies_nothing)
{
        /* A string where the household's sorted set belongs. */
        freeReplyObject(redis("SET %s stale", RC_KEY_A));
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);

        ck_assert_int_eq(try_process(), -1);
        ck_assert_msg(strstr(err, "WRONGTYPE") != NULL,
                      "error \"%s\" lacks the Redis error", err);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "(nil)");

        freeReplyObject(redis("DEL %s", RC_KEY_A));
        process();
        ck_assert_uint_eq(n_alerts, 1);
}
END_TEST

/*
 * state.h promises that a batch is applied whole or not at all. Here RPUSH
 * to the outbox fails inside EXEC, and Redis still applies the batch's
 * other commands, so the offset moves past a batch whose alerts never
 * reached the outbox.
 */
START_TEST(failed_transaction_keeps_batch_for_redelivery)
{
        /* A string where the outbox list belongs. */
        freeReplyObject(redis("SET %s stale", OUTBOX_KEY));
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);

        ck_assert_int_eq(try_process(), -1);
        ck_assert_uint_eq(out.n, 0);
        ck_assert_str_eq(redis_text("HGET %s offset", PROGRESS_KEY), "(nil)");
        ck_assert_int_eq(redis_integer("EXISTS %s", RC_KEY_A), 0);

        /* Redelivered once the key is repaired, the batch must alert. */
        freeReplyObject(redis("DEL %s", OUTBOX_KEY));
        process();
        ck_assert_uint_eq(n_alerts, 1);
}
END_TEST

/*
 * redis.key_prefix may be up to 64 bytes; the documented key layout must
 * hold at that length, and a longer prefix is rejected by validation.
 */
START_TEST(long_key_prefix_keeps_key_layout)
{
        char prefix[65], assignment[200], progress[200];
        hearth_config_t check;

        memset(prefix, 'h', sizeof(prefix) - 2);
        prefix[sizeof(prefix) - 2] = ':';
        prefix[sizeof(prefix) - 1] = '\0';
        snprintf(assignment, sizeof(assignment), "redis.key_prefix=%s", prefix);
        set_option(assignment);
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(n_alerts, 1);
        snprintf(progress, sizeof(progress), "%s{p3}:progress", prefix);
        ck_assert_str_eq(redis_text("HGET %s offset", progress), "2");

        hearth_config_defaults(&check);
        snprintf(assignment, sizeof(assignment), "redis.key_prefix=x%s",
                 prefix);
        ck_assert_int_eq(hearth_config_set(&check, assignment, err,
                                           sizeof(err)), 0);
        ck_assert_int_eq(hearth_config_validate(&check, err, sizeof(err)),
                         -1);
        ck_assert_ptr_nonnull(strstr(err, "redis.key_prefix"));
        hearth_config_free(&check);
}
END_TEST

/* ---- reload ---- */

START_TEST(reload_applies_new_rules)
{
        hearth_config_t next;
        const Hearth__V1__Alert *a;

        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_str_eq(alerts[0]->rule_version, "1");

        hearth_config_defaults(&next);
        ck_assert_int_eq(hearth_config_set(&next, "engine.rule_version=2",
                                           err, sizeof(err)), 0);
        ck_assert_int_eq(hearth_config_set(&next,
                                           "models.repeat_calls."
                                           "short_threshold=3",
                                           err, sizeof(err)), 0);
        ck_assert_msg(hearth_engine_reload(engine, &next, err,
                                           sizeof(err)) == 0, "%s", err);

        /* Two more incidents at house B: below the new threshold of 3. */
        queue_call("inc-b1", HOUSE_B, T0 + 2 * HOUR_MS);
        queue_call("inc-b2", HOUSE_B, T0 + 3 * HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 0);
        /* State survived the reload: a third incident at house A makes
         * three within 72 h, now a P2 under the new version. */
        queue_call("inc-a3", HOUSE_A, T0 + 4 * HOUR_MS);
        process();
        a = alert_for("inc-a3");
        ck_assert_ptr_nonnull(a);
        ck_assert_str_eq(a->rule_version, "2");
        ck_assert_int_eq(a->priority, 2);
        /* The engine reads next from now on; it must outlive the engine. */
        hearth_engine_free(engine);
        engine = NULL;
        hearth_state_free(state);
        state = NULL;
        hearth_config_free(&next);
}
END_TEST

START_TEST(reload_rejects_invalid_models)
{
        hearth_config_t bad;

        hearth_config_defaults(&bad);
        ck_assert_int_eq(hearth_config_set(&bad,
                                           "models.special_circumstances."
                                           "lethal_flags=weapon,bogus",
                                           err, sizeof(err)), 0);
        queue_call("inc-a1", HOUSE_A, T0);
        process();
        ck_assert_int_eq(hearth_engine_reload(engine, &bad, err, sizeof(err)),
                         -1);
        ck_assert_ptr_nonnull(strstr(err, "lethal_flags"));
        hearth_config_free(&bad);

        /* The old rules stay: a second incident still raises the P3. */
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(alerts[0]->priority, 3);
}
END_TEST

/* ---- options ---- */

START_TEST(short_threshold_option_applies)
{
        set_option("models.repeat_calls.short_threshold=3");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(out.n, 0);
}
END_TEST

START_TEST(short_priority_option_sets_topic)
{
        set_option("models.repeat_calls.short_priority=1");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(count_topic("hearth.alerts.p1"), 1);
        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_int_eq(alerts[0]->priority, 1);
}
END_TEST

START_TEST(empty_region_template_skips_region)
{
        set_option("topics.region_template=");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        ck_assert_uint_eq(out.n, 1);
        ck_assert_str_eq(out.msgs[0].topic, P3_TOPIC);
}
END_TEST

START_TEST(incident_ids_capped_to_most_recent)
{
        set_option("models.repeat_calls.max_incident_ids=2");
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + 5 * DAY_MS);
        queue_call("inc-a3", HOUSE_A, T0 + 10 * DAY_MS);
        process();

        ck_assert_uint_eq(n_alerts, 1);
        ck_assert_uint_eq(alerts[0]->count, 3);
        ck_assert_str_eq(ids_of(alerts[0]), "inc-a2,inc-a3");
}
END_TEST

START_TEST(long_history_lists_recent_50)
{
        enum { INCIDENTS = 70 };
        const Hearth__V1__Alert *a;
        char id[16];

        set_option("models.repeat_calls.short_threshold=1000");
        set_option("models.repeat_calls.long_threshold=70");
        for (int i = 1; i <= INCIDENTS; i++) {
                snprintf(id, sizeof(id), "inc-%03d", i);
                queue_call(id, HOUSE_A, T0 + i * HOUR_MS);
        }
        process();

        ck_assert_uint_eq(n_alerts, 1);
        a = alerts[0];
        ck_assert_str_eq(a->trigger_incident_id, "inc-070");
        ck_assert_uint_eq(a->count, INCIDENTS);
        ck_assert_uint_eq(a->n_incident_ids, 50);
        ck_assert_str_eq(a->incident_ids[0], "inc-021");
        ck_assert_str_eq(a->incident_ids[49], "inc-070");
}
END_TEST

/* ---- engine contract ---- */

START_TEST(process_returns_zero_and_counts_batches)
{
        const hearth_engine_stats_t *stats;

        queue_call("inc-a1", HOUSE_A, T0);
        process();
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        process();

        stats = hearth_engine_stats(engine);
        ck_assert_uint_eq(stats->batches, 2);
        ck_assert_uint_eq(stats->ownership_lost, 0);
        ck_assert_uint_eq(stats->events, 2);
        ck_assert_uint_eq(stats->alerts, 1);
        ck_assert_uint_eq(stats->alerts_by_priority[3], 1);
}
END_TEST

/* Runs the three-incidents scenario and copies its alert ids to ids. */
static void run_three_incidents(char ids[][33], size_t *n)
{
        memset(next_offset, 0, sizeof(next_offset));
        queue_call("inc-a1", HOUSE_A, T0);
        queue_call("inc-a2", HOUSE_A, T0 + HOUR_MS);
        queue_call("inc-a3", HOUSE_A, T0 + 2 * HOUR_MS);
        process();
        *n = n_alerts;
        for (size_t i = 0; i < n_alerts && i < 2; i++)
                snprintf(ids[i], 33, "%s", alerts[i]->alert_id);
}

START_TEST(alert_ids_repeat_after_flush)
{
        char first[2][33], second[2][33];
        size_t n_first, n_second;

        run_three_incidents(first, &n_first);
        flush_redis();
        run_three_incidents(second, &n_second);

        ck_assert_uint_eq(n_first, 2);
        ck_assert_uint_eq(n_second, 2);
        ck_assert_str_ne(first[0], first[1]);
        ck_assert_str_eq(second[0], first[0]);
        ck_assert_str_eq(second[1], first[1]);
}
END_TEST

Suite *hearth_test_engine_suite(void)
{
        Suite *s = suite_create("engine");
        TCase *tc = tcase_create("redis");

        tcase_add_unchecked_fixture(tc, start_server, stop_server);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, pair_within_72h_alerts_p3);
        tcase_add_test(tc, pair_alert_on_priority_and_region_topics);
        tcase_add_test(tc, pair_72h_apart_no_alert);
        tcase_add_test(tc, single_incident_no_alert);
        tcase_add_test(tc, three_in_30_days_alerts_p2);
        tcase_add_test(tc, three_in_72h_third_alerts_p2_only);
        tcase_add_test(tc, non_domestic_never_alerts);
        tcase_add_test(tc, household_falls_back_to_caller);
        tcase_add_test(tc, household_falls_back_to_victim);
        tcase_add_test(tc, event_without_household_no_alert);
        tcase_add_test(tc, repeat_p3_within_72h_suppressed);
        tcase_add_test(tc, p3_suppression_ends_after_window);
        tcase_add_test(tc, p2_after_p3_goes_out);
        tcase_add_test(tc, p3_after_recent_p2_suppressed);
        tcase_add_test(tc, repeat_p2_within_30_days_suppressed);
        tcase_add_test(tc, duplicate_message_new_offset_ignored);
        tcase_add_test(tc, later_event_type_of_incident_ignored);
        tcase_add_test(tc, later_event_at_other_household_ignored);
        tcase_add_test(tc, redelivered_batch_skipped);
        tcase_add_test(tc, redelivered_dead_letter_not_repeated);
        tcase_add_test(tc, overlapping_batch_applies_new_only);
        tcase_add_test(tc, redelivered_prefix_keeps_offset);
        tcase_add_test(tc, late_event_stored_without_alert);
        tcase_add_test(tc, event_at_lateness_limit_alerts);
        tcase_add_test(tc, garbage_bytes_dead_letter);
        tcase_add_test(tc, zero_event_time_dead_letter);
        tcase_add_test(tc, year_9999_event_time_dead_letter);
        tcase_add_test(tc, empty_incident_id_dead_letter);
        tcase_add_test(tc, incident_id_over_128_bytes_dead_letter);
        tcase_add_test(tc, oversized_message_dead_letter);
        tcase_add_test(tc, state_keys_have_documented_ttls);
        tcase_add_test(tc, incidents_past_ttl_trimmed);
        tcase_add_test(tc, outbox_read_matches_process_output);
        tcase_add_test(tc, outbox_clear_deletes_list);
        tcase_add_test(tc, stored_offset_absent_is_minus_one);
        tcase_add_test(tc, batch_spans_two_partitions);
        tcase_add_test(tc, partition_out_of_range_rejected);
        tcase_add_test(tc, many_households_in_one_batch);
        tcase_add_test(tc, empty_batch_changes_nothing);
        tcase_add_test(tc, redis_read_error_applies_nothing);
        tcase_add_test(tc, failed_transaction_keeps_batch_for_redelivery);
        tcase_add_test(tc, long_key_prefix_keeps_key_layout);
        tcase_add_test(tc, reload_applies_new_rules);
        tcase_add_test(tc, reload_rejects_invalid_models);
        tcase_add_test(tc, short_threshold_option_applies);
        tcase_add_test(tc, short_priority_option_sets_topic);
        tcase_add_test(tc, empty_region_template_skips_region);
        tcase_add_test(tc, incident_ids_capped_to_most_recent);
        tcase_add_test(tc, long_history_lists_recent_50);
        tcase_add_test(tc, process_returns_zero_and_counts_batches);
        tcase_add_test(tc, alert_ids_repeat_after_flush);
        suite_add_tcase(s, tc);
        return s;
}
