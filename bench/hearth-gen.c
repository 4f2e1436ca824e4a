/*
 * hearth-gen: writes an invented 110 domestic-violence call log in the
 * cn_110 layout and, with --truth, the alerts its injected patterns should
 * raise. The generator itself is bench/gen.c.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/gen.h"
#include "connectors/pseudo.h"

#define PROGRAM "hearth-gen"

static const char usage_text[] =
"Usage: " PROGRAM " [options] --out FILE.csv [--truth FILE.jsonl "
"--key-file FILE]\n"
"\n"
"Writes an invented Chinese 110 domestic-violence call log in the layout\n"
"of connectors/profiles/cn_110.json, in call-time order, and the alerts\n"
"its injected patterns should raise. The same options and seed give the\n"
"same bytes.\n"
"\n"
"  -s, --seed N              PRNG seed (1)\n"
"      --start DATE          first day, YYYY-MM-DD in Asia/Shanghai,\n"
"                            1992 or later (2024-01-01)\n"
"  -d, --days N              days to write (365)\n"
"      --districts N         districts of the invented city 330100, codes\n"
"                            330151 and up, 1 to 40 (8)\n"
"      --grids-per-district N  grid cells per district, 1 to 99 (10)\n"
"      --calls-per-day X     background domestic calls per day over all\n"
"                            districts (300)\n"
"  -o, --out FILE            CSV output; \"-\" for standard output (-)\n"
"  -t, --truth FILE          expected alerts as JSON Lines; needs\n"
"                            --key-file\n"
"  -k, --key-file FILE       HMAC secret, as for hearth-connect, to write\n"
"                            the subject keys the connector will produce\n"
"      --key-id ID           key id, as for hearth-connect (k1)\n"
"      --late-fraction X     share of background rows written out of\n"
"                            call-time order, 0 to 1 (0): 9 in 10 by 1-5\n"
"                            minutes, the rest by 1-6 hours\n"
"      --duplicate-fraction X  share of background rows written twice,\n"
"                            0 to 1 (0)\n"
"      --no-patterns         background calls only\n"
"      --pattern-scale N     instances of each injected pattern, 0 to 1000\n"
"                            (3)\n"
"  -h, --help                this text\n"
"\n"
"Late rows reach the engine late only with hearth-connect --order file;\n"
"its default, --order event-time, sorts them back. The truth format is\n"
"described in bench/README.md.\n"
"\n"
"Exit status: 0 on success, 1 when writing fails, 2 for invalid options.\n";

enum {
        OPT_START = 256,
        OPT_DISTRICTS,
        OPT_GRIDS,
        OPT_CALLS,
        OPT_KEY_ID,
        OPT_LATE,
        OPT_DUPLICATE,
        OPT_NO_PATTERNS,
        OPT_SCALE,
};

typedef struct cli {
        hearth_gen_options_t gen;
        const char *out, *truth, *key_file, *key_id;
} cli_t;

static int parse_long(const char *name, const char *text, long *out)
{
        char *end;

        errno = 0;
        *out = strtol(text, &end, 10);
        if (errno || end == text || *end) {
                fprintf(stderr, PROGRAM ": --%s \"%s\": not an integer\n",
                        name, text);
                return -1;
        }
        return 0;
}

static int parse_double(const char *name, const char *text, double *out)
{
        char *end;

        errno = 0;
        *out = strtod(text, &end);
        if (errno || end == text || *end) {
                fprintf(stderr, PROGRAM ": --%s \"%s\": not a number\n",
                        name, text);
                return -1;
        }
        return 0;
}

static int parse_int_option(const char *name, const char *text, int *out)
{
        long v;

        if (parse_long(name, text, &v) != 0)
                return -1;
        if (v < -1000000 || v > 1000000) {
                fprintf(stderr, PROGRAM ": --%s %ld: out of range\n", name,
                        v);
                return -1;
        }
        *out = (int)v;
        return 0;
}

static int parse_start(const char *text, hearth_gen_options_t *o)
{
        char tail;

        if (sscanf(text, "%4d-%2d-%2d%c", &o->start_year, &o->start_month,
                   &o->start_day, &tail) != 3) {
                fprintf(stderr, PROGRAM ": --start \"%s\": use YYYY-MM-DD\n",
                        text);
                return -1;
        }
        return 0;
}

static int parse_option(cli_t *c, int opt, const char *arg)
{
        hearth_gen_options_t *o = &c->gen;
        long seed;

        switch (opt) {
        case 's':
                if (parse_long("seed", arg, &seed) != 0)
                        return -1;
                o->seed = (uint64_t)seed;
                return 0;
        case OPT_START:
                return parse_start(arg, o);
        case 'd':
                return parse_int_option("days", arg, &o->days);
        case OPT_DISTRICTS:
                return parse_int_option("districts", arg, &o->districts);
        case OPT_GRIDS:
                return parse_int_option("grids-per-district", arg,
                                        &o->grids_per_district);
        case OPT_CALLS:
                return parse_double("calls-per-day", arg, &o->calls_per_day);
        case 'o':
                c->out = arg;
                return 0;
        case 't':
                c->truth = arg;
                return 0;
        case 'k':
                c->key_file = arg;
                return 0;
        case OPT_KEY_ID:
                c->key_id = arg;
                return 0;
        case OPT_LATE:
                return parse_double("late-fraction", arg, &o->late_fraction);
        case OPT_DUPLICATE:
                return parse_double("duplicate-fraction", arg,
                                    &o->duplicate_fraction);
        case OPT_NO_PATTERNS:
                o->patterns = false;
                return 0;
        case OPT_SCALE:
                return parse_int_option("pattern-scale", arg,
                                        &o->pattern_scale);
        default:
                return -1;
        }
}

/* Returns 0 to run, 1 after --help, -1 for invalid options. */
static int parse_args(int argc, char **argv, cli_t *c)
{
        static const struct option longopts[] = {
                {"seed", required_argument, NULL, 's'},
                {"start", required_argument, NULL, OPT_START},
                {"days", required_argument, NULL, 'd'},
                {"districts", required_argument, NULL, OPT_DISTRICTS},
                {"grids-per-district", required_argument, NULL, OPT_GRIDS},
                {"calls-per-day", required_argument, NULL, OPT_CALLS},
                {"out", required_argument, NULL, 'o'},
                {"truth", required_argument, NULL, 't'},
                {"key-file", required_argument, NULL, 'k'},
                {"key-id", required_argument, NULL, OPT_KEY_ID},
                {"late-fraction", required_argument, NULL, OPT_LATE},
                {"duplicate-fraction", required_argument, NULL,
                 OPT_DUPLICATE},
                {"no-patterns", no_argument, NULL, OPT_NO_PATTERNS},
                {"pattern-scale", required_argument, NULL, OPT_SCALE},
                {"help", no_argument, NULL, 'h'},
                {NULL, 0, NULL, 0},
        };
        int opt;

        hearth_gen_options_init(&c->gen);
        c->out = "-";
        c->key_id = "k1";
        while ((opt = getopt_long(argc, argv, "s:d:o:t:k:h", longopts,
                                  NULL)) != -1) {
                if (opt == 'h') {
                        fputs(usage_text, stdout);
                        return 1;
                }
                if (opt == '?' || parse_option(c, opt, optarg) != 0)
                        return -1;
        }
        if (optind < argc) {
                fprintf(stderr, PROGRAM ": unexpected argument \"%s\"\n",
                        argv[optind]);
                return -1;
        }
        if (c->truth && !c->key_file) {
                fprintf(stderr, PROGRAM ": --truth needs --key-file, the "
                        "key that hearth-connect will use\n");
                return -1;
        }
        return 0;
}

static FILE *open_output(const char *path)
{
        FILE *fp;

        if (strcmp(path, "-") == 0)
                return stdout;
        fp = fopen(path, "w");
        if (!fp)
                fprintf(stderr, PROGRAM ": cannot create %s: %s\n", path,
                        strerror(errno));
        return fp;
}

static int close_output(FILE *fp, const char *path)
{
        int rc = fp == stdout ? fflush(fp) : fclose(fp);

        if (rc != 0) {
                fprintf(stderr, PROGRAM ": writing %s failed: %s\n", path,
                        strerror(errno));
                return -1;
        }
        return 0;
}

static double seconds_since(const struct timespec *t0)
{
        struct timespec t1;

        clock_gettime(CLOCK_MONOTONIC, &t1);
        return (double)(t1.tv_sec - t0->tv_sec) +
               (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
        cli_t c = {0};
        hearth_pseudo_t *pseudo = NULL;
        hearth_gen_summary_t sum;
        FILE *csv = NULL, *truth = NULL;
        struct timespec t0;
        char err[256] = "";
        int rc;

        rc = parse_args(argc, argv, &c);
        if (rc != 0)
                return rc > 0 ? 0 : 2;
        if (hearth_gen_options_check(&c.gen, err, sizeof(err)) != 0) {
                fprintf(stderr, PROGRAM ": %s\n", err);
                return 2;
        }
        if (c.key_file) {
                pseudo = hearth_pseudo_load(c.key_file, c.key_id, err,
                                            sizeof(err));
                if (!pseudo) {
                        fprintf(stderr, PROGRAM ": %s\n", err);
                        return 2;
                }
        }
        rc = 1;
        csv = open_output(c.out);
        if (!csv)
                goto out;
        if (c.truth) {
                truth = fopen(c.truth, "w");
                if (!truth) {
                        fprintf(stderr, PROGRAM ": cannot create %s: %s\n",
                                c.truth, strerror(errno));
                        goto out;
                }
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (hearth_gen_write(&c.gen, pseudo, csv, truth, &sum, err,
                             sizeof(err)) != 0) {
                fprintf(stderr, PROGRAM ": %s\n", err);
                goto out;
        }
        rc = close_output(csv, c.out) != 0;
        csv = NULL;
        if (truth) {
                rc |= close_output(truth, c.truth) != 0;
                truth = NULL;
        }
        fprintf(stderr,
                PROGRAM ": %llu rows (%llu background, %llu injected "
                "incidents), %llu expected alerts, %llu late, %llu "
                "duplicate, %llu patterns skipped, in %.2f s\n",
                (unsigned long long)sum.rows,
                (unsigned long long)sum.background_incidents,
                (unsigned long long)sum.pattern_incidents,
                (unsigned long long)sum.expected_alerts,
                (unsigned long long)sum.late_rows,
                (unsigned long long)sum.duplicate_rows,
                (unsigned long long)sum.skipped_patterns, seconds_since(&t0));
out:
        if (csv)
                close_output(csv, c.out);
        if (truth)
                close_output(truth, c.truth);
        hearth_pseudo_free(pseudo);
        return rc;
}
