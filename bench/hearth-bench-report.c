/*
 * hearth-bench-report: combines the figures of one bench/run.sh run into
 * bench/results/latest.json and latest.md and prints the Markdown.
 *
 * Inputs are the JSON files that hearth-bench produce and consume and
 * hearth-engine --stats-json write, plus times and CPU seconds that
 * run.sh measures around the engine. The machine is read from /proc and
 * uname(2) on the machine that runs the report, which is the one that ran
 * the benchmark.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "engine/common/log.h"

#define PROGRAM "hearth-bench-report"
#define COMPONENT "bench"
#define MAX_RAW_RUNS 16

/* Design targets, from bench/README.md. */
#define TARGET_THROUGHPUT_RATIO 0.5
#define TARGET_EVENTS_PER_CPU_S 500000.0

typedef struct inputs {
        const char *produce_json;
        const char *raw_json[MAX_RAW_RUNS];
        size_t n_raw;
        const char *engine_json;
        double active_s;        /* assignment to stop, < 0 when unknown */
        double join_s;          /* start to assignment, < 0 when unknown */
        double redis_cpu_s;     /* < 0 when unknown, as kafka_cpu_s */
        double kafka_cpu_s;
        const char *command;
        const char *engine_command;
        const char *out_json;
        const char *out_md;
} inputs_t;

typedef struct machine {
        long nproc;
        char cpu_model[256];
        double memory_gib;
        char kernel[256];
} machine_t;

/* Every figure of the report. */
typedef struct figures {
        json_t *produce;
        json_t *engine;
        double raw_rates[MAX_RAW_RUNS];
        double raw_rate;        /* median of raw_rates */
        double raw_cpu_s;       /* of the median run */
        int partitions;
        double events;
        double engine_rate;
        double engine_rate_total;
        double ratio;
        double engine_cpu_s;
        double per_cpu_s;
        double per_cpu_s_with_redis;
        double peak_rss_mb;
        double round_trips_per_event;
        double commands_per_event;
        machine_t machine;
        char date[32];
} figures_t;

static void usage(FILE *out)
{
        fprintf(out,
"Usage: hearth-bench-report --produce FILE --raw FILE [--raw FILE ...]\n"
"         --engine FILE [options]\n"
"\n"
"  --produce FILE       JSON of hearth-bench produce --json\n"
"  --raw FILE           JSON of one hearth-bench consume --json run;\n"
"                       repeatable, the median rate is reported\n"
"  --engine FILE        JSON of hearth-engine --stats-json\n"
"  --active-s S         seconds from partition assignment to the engine's\n"
"                       stop; without it engine events/s uses elapsed_s\n"
"  --join-s S           seconds from engine start to partition assignment\n"
"  --redis-cpu-s S      CPU seconds of Redis during the engine run\n"
"  --kafka-cpu-s S      CPU seconds of the Kafka broker during the run\n"
"  --command TEXT       the command that ran the benchmark\n"
"  --engine-command TEXT  the hearth-engine command line\n"
"  --json FILE          write the figures as JSON\n"
"  --markdown FILE      write the figures as Markdown (also printed)\n");
}

/* ---- inputs ---- */

static int parse_seconds(const char *name, const char *text, double *out)
{
        char *end;

        errno = 0;
        *out = strtod(text, &end);
        if (errno || !*text || *end || !(*out >= 0)) {
                hearth_error(COMPONENT, "invalid %s \"%s\": expected seconds "
                             "as a number of 0 or more", name, text);
                return -1;
        }
        return 0;
}

static int parse_args(inputs_t *in, int argc, char **argv)
{
        static const struct option longopts[] = {
                {"produce", required_argument, NULL, 'p'},
                {"raw", required_argument, NULL, 'r'},
                {"engine", required_argument, NULL, 'e'},
                {"active-s", required_argument, NULL, 'a'},
                {"join-s", required_argument, NULL, 'J'},
                {"redis-cpu-s", required_argument, NULL, 'R'},
                {"kafka-cpu-s", required_argument, NULL, 'K'},
                {"command", required_argument, NULL, 'c'},
                {"engine-command", required_argument, NULL, 'E'},
                {"json", required_argument, NULL, 'j'},
                {"markdown", required_argument, NULL, 'm'},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0}};
        int c, bad = 0;

        *in = (inputs_t){.active_s = -1, .join_s = -1, .redis_cpu_s = -1,
                         .kafka_cpu_s = -1};
        while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
                switch (c) {
                case 'p': in->produce_json = optarg; break;
                case 'e': in->engine_json = optarg; break;
                case 'c': in->command = optarg; break;
                case 'E': in->engine_command = optarg; break;
                case 'j': in->out_json = optarg; break;
                case 'm': in->out_md = optarg; break;
                case 'a': bad |= parse_seconds("--active-s", optarg,
                                               &in->active_s); break;
                case 'J': bad |= parse_seconds("--join-s", optarg,
                                               &in->join_s); break;
                case 'R': bad |= parse_seconds("--redis-cpu-s", optarg,
                                               &in->redis_cpu_s); break;
                case 'K': bad |= parse_seconds("--kafka-cpu-s", optarg,
                                               &in->kafka_cpu_s); break;
                case 'r':
                        if (in->n_raw == MAX_RAW_RUNS) {
                                hearth_error(COMPONENT, "at most %d --raw "
                                             "files", MAX_RAW_RUNS);
                                return -1;
                        }
                        in->raw_json[in->n_raw++] = optarg;
                        break;
                case 'h': usage(stdout); exit(0);
                default: return -1;
                }
        }
        if (bad || !in->produce_json || !in->n_raw || !in->engine_json ||
            optind < argc) {
                if (!bad)
                        usage(stderr);
                return -1;
        }
        return 0;
}

static json_t *load(const char *path)
{
        json_error_t jerr;
        json_t *doc = json_load_file(path, 0, &jerr);

        if (!doc)
                hearth_error(COMPONENT, "cannot read %s: %s (line %d)", path,
                             jerr.text, jerr.line);
        return doc;
}

/* Returns a number field of doc, or -1 after logging when it is missing. */
static double number(json_t *doc, const char *path, const char *name)
{
        json_t *v = json_object_get(doc, name);

        if (!json_is_number(v)) {
                hearth_error(COMPONENT, "%s: field %s is missing or not a "
                             "number", path, name);
                return -1;
        }
        return json_number_value(v);
}

/* ---- machine ---- */

static void read_cpu_model(char *out, size_t size)
{
        FILE *fp = fopen("/proc/cpuinfo", "r");
        char line[512];

        snprintf(out, size, "unknown");
        while (fp && fgets(line, sizeof(line), fp)) {
                char *colon = strchr(line, ':');

                if (strncmp(line, "model name", 10) != 0 || !colon)
                        continue;
                colon += strspn(colon + 1, " \t") + 1;
                colon[strcspn(colon, "\n")] = '\0';
                snprintf(out, size, "%s", colon);
                break;
        }
        if (fp)
                fclose(fp);
}

static double read_memory_gib(void)
{
        FILE *fp = fopen("/proc/meminfo", "r");
        unsigned long long kib = 0;
        char line[256];

        while (fp && fgets(line, sizeof(line), fp))
                if (sscanf(line, "MemTotal: %llu kB", &kib) == 1)
                        break;
        if (fp)
                fclose(fp);
        return (double)kib / (1024.0 * 1024.0);
}

static void read_machine(machine_t *m)
{
        struct utsname u;

        m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
        read_cpu_model(m->cpu_model, sizeof(m->cpu_model));
        m->memory_gib = read_memory_gib();
        if (uname(&u) == 0)
                snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname,
                         u.release, u.machine);
        else
                snprintf(m->kernel, sizeof(m->kernel), "unknown");
}

/* ---- figures ---- */

static int compare_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return (x > y) - (x < y);
}

/* Reads every raw consume run and keeps the median rate and its CPU time. */
static int load_raw(const inputs_t *in, figures_t *f)
{
        double sorted[MAX_RAW_RUNS], cpu[MAX_RAW_RUNS];

        for (size_t i = 0; i < in->n_raw; i++) {
                json_t *doc = load(in->raw_json[i]);

                if (!doc)
                        return -1;
                f->raw_rates[i] = number(doc, in->raw_json[i],
                                         "events_per_s");
                cpu[i] = number(doc, in->raw_json[i], "cpu_s");
                f->partitions = (int)number(doc, in->raw_json[i],
                                            "partitions");
                json_decref(doc);
                if (f->raw_rates[i] <= 0 || cpu[i] < 0)
                        return -1;
                sorted[i] = f->raw_rates[i];
        }
        qsort(sorted, in->n_raw, sizeof(*sorted), compare_double);
        f->raw_rate = sorted[in->n_raw / 2];
        for (size_t i = 0; i < in->n_raw; i++)
                if (f->raw_rates[i] == f->raw_rate)
                        f->raw_cpu_s = cpu[i];
        return 0;
}

static int compute(const inputs_t *in, figures_t *f)
{
        const char *path = in->engine_json;
        double elapsed, rss_kb, round_trips, commands;

        f->events = number(f->engine, path, "events");
        elapsed = number(f->engine, path, "elapsed_s");
        f->engine_cpu_s = number(f->engine, path, "cpu_s");
        rss_kb = number(f->engine, path, "max_rss_kb");
        round_trips = number(f->engine, path, "redis_round_trips");
        commands = number(f->engine, path, "redis_commands");
        if (f->events <= 0 || elapsed <= 0 || f->engine_cpu_s <= 0 ||
            rss_kb < 0 || round_trips < 0 || commands < 0) {
                hearth_error(COMPONENT, "%s: the engine processed no events "
                             "or a figure is missing", path);
                return -1;
        }
        f->engine_rate_total = f->events / elapsed;
        f->engine_rate = in->active_s > 0 ? f->events / in->active_s
                                          : f->engine_rate_total;
        f->ratio = f->engine_rate / f->raw_rate;
        f->per_cpu_s = f->events / f->engine_cpu_s;
        f->per_cpu_s_with_redis =
                in->redis_cpu_s >= 0
                        ? f->events / (f->engine_cpu_s + in->redis_cpu_s)
                        : -1;
        f->peak_rss_mb = rss_kb / 1024.0;
        f->round_trips_per_event = round_trips / f->events;
        f->commands_per_event = commands / f->events;
        return 0;
}

/* ---- output ---- */

/* Formats v with no decimals and commas between thousands. */
static const char *grouped(double v, char *buf, size_t size)
{
        char digits[32];
        size_t n, o = 0;

        snprintf(digits, sizeof(digits), "%.0f", v);
        n = strlen(digits);
        for (size_t i = 0; i < n && o + 2 < size; i++) {
                if (i > 0 && digits[i - 1] != '-' && (n - i) % 3 == 0)
                        buf[o++] = ',';
                buf[o++] = digits[i];
        }
        buf[o] = '\0';
        return buf;
}

/* Writes in a few words how measured compares with a minimum target. */
static void standing(double measured, double target, char *buf, size_t size)
{
        if (measured >= target)
                snprintf(buf, size, "reaches the target (%.0f%% of it)",
                         100.0 * measured / target);
        else
                snprintf(buf, size, "misses it by %.0f%%: %.1f%% of the "
                         "target, %.1fx short", 100.0 * (1 - measured / target),
                         100.0 * measured / target, target / measured);
}

static json_t *target_json(const char *name, double target, double measured)
{
        char text[128];

        standing(measured, target, text, sizeof(text));
        return json_pack("{s:s, s:f, s:f, s:b, s:s}", "target", name,
                         "minimum", target, "measured", measured, "reached",
                         measured >= target, "standing", text);
}

static json_t *targets_json(const figures_t *f)
{
        json_t *list = json_array();

        json_array_append_new(list, target_json("throughput_ratio",
                                                TARGET_THROUGHPUT_RATIO,
                                                f->ratio));
        json_array_append_new(list, target_json("events_per_cpu_second",
                                                TARGET_EVENTS_PER_CPU_S,
                                                f->per_cpu_s));
        json_array_append_new(list, json_pack(
                "{s:s, s:s}", "target", "p99_event_to_alert_latency_ms "
                "below 50 at 1000 events/s", "standing", "not measured"));
        return list;
}

static json_t *machine_json(const machine_t *m)
{
        return json_pack("{s:I, s:s, s:f, s:s}", "nproc", (json_int_t)m->nproc,
                         "cpu_model", m->cpu_model, "memory_gib",
                         m->memory_gib, "kernel", m->kernel);
}

/* Stores v under name, or null when v is negative (not measured). */
static void set_optional(json_t *doc, const char *name, double v)
{
        json_object_set_new(doc, name, v >= 0 ? json_real(v) : json_null());
}

/* Copies field name of src into doc, as null when src lacks it. */
static void copy_field(json_t *doc, json_t *src, const char *name)
{
        json_t *v = json_object_get(src, name);

        json_object_set_new(doc, name, v ? json_incref(v) : json_null());
}

static json_t *run_json(const inputs_t *in, const figures_t *f)
{
        json_t *doc = json_object();

        json_object_set_new(doc, "date_utc", json_string(f->date));
        json_object_set_new(doc, "command", in->command
                                                    ? json_string(in->command)
                                                    : json_null());
        json_object_set_new(doc, "engine_command",
                            in->engine_command
                                    ? json_string(in->engine_command)
                                    : json_null());
        json_object_set_new(doc, "events", json_integer((json_int_t)f->events));
        json_object_set_new(doc, "partitions", json_integer(f->partitions));
        copy_field(doc, f->produce, "seed");
        copy_field(doc, f->produce, "households");
        copy_field(doc, f->produce, "domestic_ratio");
        json_object_set_new(doc, "machine", machine_json(&f->machine));
        return doc;
}

static void add_throughput(json_t *doc, const inputs_t *in,
                           const figures_t *f)
{
        json_t *runs = json_array();

        for (size_t i = 0; i < in->n_raw; i++)
                json_array_append_new(runs, json_real(f->raw_rates[i]));
        json_object_set_new(doc, "produce_events_per_s",
                            json_real(number(f->produce, in->produce_json,
                                             "events_per_s")));
        json_object_set_new(doc, "raw_consume_runs_events_per_s", runs);
        json_object_set_new(doc, "raw_consume_events_per_s",
                            json_real(f->raw_rate));
        json_object_set_new(doc, "raw_consume_cpu_s",
                            json_real(f->raw_cpu_s));
        json_object_set_new(doc, "engine_events_per_s",
                            json_real(f->engine_rate));
        json_object_set_new(doc, "engine_events_per_s_including_start",
                            json_real(f->engine_rate_total));
        json_object_set_new(doc, "throughput_ratio", json_real(f->ratio));
        json_object_set(doc, "engine_elapsed_s",
                        json_object_get(f->engine, "elapsed_s"));
        set_optional(doc, "engine_active_s", in->active_s);
        set_optional(doc, "group_join_s", in->join_s);
}

static void add_resources(json_t *doc, const inputs_t *in,
                          const figures_t *f)
{
        json_object_set_new(doc, "engine_cpu_s", json_real(f->engine_cpu_s));
        json_object_set_new(doc, "events_per_cpu_second",
                            json_real(f->per_cpu_s));
        set_optional(doc, "redis_cpu_s", in->redis_cpu_s);
        set_optional(doc, "kafka_cpu_s", in->kafka_cpu_s);
        set_optional(doc, "events_per_cpu_second_engine_and_redis",
                     f->per_cpu_s_with_redis);
        json_object_set_new(doc, "peak_rss_mb", json_real(f->peak_rss_mb));
        json_object_set_new(doc, "redis_round_trips_per_event",
                            json_real(f->round_trips_per_event));
        json_object_set_new(doc, "redis_commands_per_event",
                            json_real(f->commands_per_event));
        copy_field(doc, f->engine, "alerts");
        copy_field(doc, f->engine, "alerts_by_priority");
        copy_field(doc, f->engine, "batches");
}

static json_t *build_json(const inputs_t *in, const figures_t *f)
{
        json_t *doc = run_json(in, f);

        add_throughput(doc, in, f);
        add_resources(doc, in, f);
        json_object_set_new(doc, "targets", targets_json(f));
        return doc;
}

static void md_header(FILE *out, const inputs_t *in, const figures_t *f)
{
        const machine_t *m = &f->machine;

        fprintf(out, "# hearth benchmark: latest run\n\n");
        fprintf(out, "Run at %s with:\n\n```sh\n%s\n```\n\n", f->date,
                in->command ? in->command : "bash bench/run.sh");
        fprintf(out, "Machine: %ld CPUs (%s), %.1f GiB memory, %s. Kafka, "
                "Redis, the engine and the benchmark programs all ran on it "
                "and shared its CPUs.\n\n", m->nproc, m->cpu_model,
                m->memory_gib, m->kernel);
        if (in->engine_command)
                fprintf(out, "Engine command:\n\n```sh\n%s\n```\n\n",
                        in->engine_command);
}

static void md_row(FILE *out, const char *name, const char *value)
{
        fprintf(out, "| %s | %s |\n", name, value);
}

static void md_throughput(FILE *out, const inputs_t *in, const figures_t *f)
{
        char a[32], text[160];

        snprintf(text, sizeof(text), "%s", grouped(f->events, a, sizeof(a)));
        md_row(out, "events (N)", text);
        snprintf(text, sizeof(text), "%s events/s",
                 grouped(number(f->produce, in->produce_json, "events_per_s"),
                         a, sizeof(a)));
        md_row(out, "produce rate (idempotent producer)", text);
        snprintf(text, sizeof(text), "%s events/s (median of %zu runs, %d "
                 "partitions)", grouped(f->raw_rate, a, sizeof(a)), in->n_raw,
                 f->partitions);
        md_row(out, "raw consume rate", text);
        snprintf(text, sizeof(text), "%s events/s", grouped(f->engine_rate, a,
                                                             sizeof(a)));
        md_row(out, in->active_s > 0 ? "engine throughput (from partition "
                                       "assignment to stop)"
                                     : "engine throughput (whole run, "
                                       "group join included)", text);
        snprintf(text, sizeof(text), "%s events/s over %.2f s",
                 grouped(f->engine_rate_total, a, sizeof(a)),
                 f->events / f->engine_rate_total);
        md_row(out, "engine throughput including start-up and group join",
               text);
        if (in->join_s >= 0) {
                snprintf(text, sizeof(text), "%.2f s", in->join_s);
                md_row(out, "engine start to partition assignment", text);
        }
        snprintf(text, sizeof(text), "%.3f", f->ratio);
        md_row(out, "throughput_ratio (engine / raw)", text);
}

static void md_batches(FILE *out, const figures_t *f)
{
        json_t *batches = json_object_get(f->engine, "batches");
        char a[32], b[32], text[160];
        double n = json_number_value(batches);

        if (!json_is_number(batches) || n <= 0)
                return;
        snprintf(text, sizeof(text), "%s (%s events each on average)",
                 grouped(n, a, sizeof(a)), grouped(f->events / n, b,
                                                   sizeof(b)));
        md_row(out, "engine batches", text);
}

static void md_resources(FILE *out, const inputs_t *in, const figures_t *f)
{
        char a[32], text[160];

        snprintf(text, sizeof(text), "%.2f s", f->engine_cpu_s);
        md_row(out, "engine CPU (user + system, whole run)", text);
        md_row(out, "events per engine CPU-second",
               grouped(f->per_cpu_s, a, sizeof(a)));
        if (in->redis_cpu_s >= 0) {
                snprintf(text, sizeof(text), "%.2f s", in->redis_cpu_s);
                md_row(out, "Redis CPU during the engine run", text);
                md_row(out, "events per CPU-second, engine and Redis",
                       grouped(f->per_cpu_s_with_redis, a, sizeof(a)));
        }
        if (in->kafka_cpu_s >= 0) {
                snprintf(text, sizeof(text), "%.2f s", in->kafka_cpu_s);
                md_row(out, "Kafka broker CPU during the engine run", text);
        }
        md_batches(out, f);
        snprintf(text, sizeof(text), "%.1f MB", f->peak_rss_mb);
        md_row(out, "engine peak RSS", text);
        snprintf(text, sizeof(text), "%.4f", f->round_trips_per_event);
        md_row(out, "Redis round trips per event", text);
        snprintf(text, sizeof(text), "%.2f", f->commands_per_event);
        md_row(out, "Redis commands per event", text);
}

static void md_alerts(FILE *out, const figures_t *f)
{
        json_t *by = json_object_get(f->engine, "alerts_by_priority");
        json_t *alerts = json_object_get(f->engine, "alerts");
        char a[32], text[256];
        int n;

        n = snprintf(text, sizeof(text), "%s",
                     grouped(json_number_value(alerts), a, sizeof(a)));
        for (size_t i = 0; i < json_array_size(by) && n > 0 &&
                           (size_t)n < sizeof(text); i++)
                n += snprintf(text + n, sizeof(text) - (size_t)n, "%sP%zu %s",
                              i ? ", " : " (", i + 1,
                              grouped(json_number_value(
                                              json_array_get(by, i)),
                                      a, sizeof(a)));
        if (json_array_size(by) > 0 && (size_t)n + 2 < sizeof(text))
                snprintf(text + n, sizeof(text) - (size_t)n, ")");
        md_row(out, "alerts", text);
}

static void md_targets(FILE *out, const figures_t *f)
{
        char a[32], text[128];

        fprintf(out, "\n## Design targets\n\n| target | measured | "
                     "standing |\n|---|---|---|\n");
        standing(f->ratio, TARGET_THROUGHPUT_RATIO, text, sizeof(text));
        fprintf(out, "| engine throughput at least 0.5 of the raw consume "
                     "rate | %.3f | %s |\n", f->ratio, text);
        standing(f->per_cpu_s, TARGET_EVENTS_PER_CPU_S, text, sizeof(text));
        fprintf(out, "| at least 500,000 events per engine CPU-second | %s | "
                     "%s |\n", grouped(f->per_cpu_s, a, sizeof(a)), text);
        fprintf(out, "| p99 event-to-alert latency under 50 ms at 1,000 "
                     "events/s | not measured | not measured in this version "
                     "|\n");
}

static void write_markdown(FILE *out, const inputs_t *in, const figures_t *f)
{
        md_header(out, in, f);
        fprintf(out, "| figure | value |\n|---|---|\n");
        md_throughput(out, in, f);
        md_resources(out, in, f);
        md_alerts(out, f);
        md_targets(out, f);
}

static int write_outputs(const inputs_t *in, const figures_t *f)
{
        json_t *doc = build_json(in, f);
        int rc = 0;

        if (in->out_json && json_dump_file(doc, in->out_json,
                                           JSON_INDENT(2)) != 0) {
                hearth_error(COMPONENT, "cannot write %s", in->out_json);
                rc = -1;
        }
        json_decref(doc);
        if (in->out_md) {
                FILE *fp = fopen(in->out_md, "w");

                if (!fp) {
                        hearth_error(COMPONENT, "cannot write %s: %s",
                                     in->out_md, strerror(errno));
                        return -1;
                }
                write_markdown(fp, in, f);
                if (fclose(fp) != 0)
                        rc = -1;
        }
        write_markdown(stdout, in, f);
        return rc;
}

int main(int argc, char **argv)
{
        inputs_t in;
        figures_t f = {0};
        time_t now = time(NULL);
        int rc = 1;

        if (parse_args(&in, argc, argv) != 0)
                return 2;
        strftime(f.date, sizeof(f.date), "%Y-%m-%d %H:%M UTC", gmtime(&now));
        read_machine(&f.machine);
        f.produce = load(in.produce_json);
        f.engine = load(in.engine_json);
        if (f.produce && f.engine && load_raw(&in, &f) == 0 &&
            compute(&in, &f) == 0 && write_outputs(&in, &f) == 0)
                rc = 0;
        json_decref(f.produce);
        json_decref(f.engine);
        return rc;
}
