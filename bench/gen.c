/*
 * The generator behind hearth-gen (see bench/gen.h).
 *
 * Times. Every time is kept as local wall-clock seconds since 1970-01-01
 * in Asia/Shanghai, which has been UTC+8 without daylight saving time
 * since 1992, so UTC is that minus 8 hours. The start date is checked to
 * lie in 1992 or later.
 *
 * Streams. Background rows and injected rows draw from two PRNG streams
 * of one seed, and households and persons come from separate ranges, so
 * --no-patterns leaves the background rows as they are.
 *
 * Uniqueness. A household is a 16-digit address code: the district code
 * and a 10-digit serial, background from 1 and injected from 5000000000.
 * A person is an index and a sex: the index picks the birth date and the
 * sequence digits of the ID number, so two persons never share one.
 * Incident ids are JQ, district, local date and a 6-digit serial, from 1
 * per district and day for background rows and from 500000 for injected
 * ones.
 */
#include "bench/gen.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY_S INT64_C(86400)
#define HOUR_S INT64_C(3600)
#define SHANGHAI_OFFSET_S (8 * HOUR_S)
#define NO_TIME INT64_MIN

/* Birth dates spread over 50 years; index / BIRTH_SPAN picks the serial. */
#define BIRTH_SPAN 18250
#define SERIALS_PER_SEX 500
#define PATTERN_PERSON_BASE UINT32_C(8000000)
#define PATTERN_HOUSEHOLD_BASE UINT64_C(5000000000)
#define PATTERN_INCIDENT_BASE 500000

/* EARS C2 as models/hotspot.c applies it by default, on UTC days. */
#define HOTSPOT_BASELINE_DAYS 7
#define HOTSPOT_GUARD_DAYS 2
#define HOTSPOT_THRESHOLD 3.0
#define HOTSPOT_MIN_SIGMA 1.0
#define RING_DAYS 16

#define FOLLOW_UP_DAYS 7
#define DISPATCH_LIMIT_S 600

/* ---- PRNG: xoshiro256** seeded with splitmix64 ---- */

typedef struct rng {
        uint64_t s[4];
} rng_t;

static uint64_t splitmix64(uint64_t *x)
{
        uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));

        z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
        return z ^ (z >> 31);
}

static void rng_seed(rng_t *r, uint64_t seed, uint64_t stream)
{
        uint64_t x = seed ^ (stream * UINT64_C(0xd1b54a32d192ed03));

        for (int i = 0; i < 4; i++)
                r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
        return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_t *r)
{
        uint64_t *s = r->s;
        uint64_t result = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;

        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        return result;
}

/* Uniform in [0, 1). */
static double rng_uniform(rng_t *r)
{
        return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform integer in [lo, hi]. */
static int64_t rng_range(rng_t *r, int64_t lo, int64_t hi)
{
        return lo + (int64_t)(rng_uniform(r) * (double)(hi - lo + 1));
}

/*
 * Poisson variate: multiplication of uniforms below mean 10, else the
 * transformed rejection method PTRS (Hörmann, "The transformed rejection
 * method for generating Poisson random variables", 1993).
 */
static int64_t rng_poisson(rng_t *r, double lambda)
{
        double slam, loglam, a, b, invalpha, vr;

        if (lambda <= 0)
                return 0;
        if (lambda < 10) {
                double limit = exp(-lambda), p = 1.0;
                int64_t k = 0;

                for (;;) {
                        p *= rng_uniform(r);
                        if (p <= limit)
                                return k;
                        k++;
                }
        }
        slam = sqrt(lambda);
        loglam = log(lambda);
        b = 0.931 + 2.53 * slam;
        a = -0.059 + 0.02483 * b;
        invalpha = 1.1239 + 1.1328 / (b - 3.4);
        vr = 0.9277 - 3.6224 / (b - 2);
        for (;;) {
                double u = rng_uniform(r) - 0.5, v = rng_uniform(r);
                double us = 0.5 - fabs(u);
                int64_t k = (int64_t)floor((2 * a / us + b) * u + lambda +
                                           0.43);

                if (us >= 0.07 && v <= vr)
                        return k;
                if (k < 0 || (us < 0.013 && v > us))
                        continue;
                if (log(v) + log(invalpha) - log(a / (us * us) + b) <=
                    -lambda + (double)k * loglam - lgamma((double)k + 1))
                        return k;
        }
}

/* ---- Calendar (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
        int64_t era, yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = y - era * 400;
        doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
        int64_t era, doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = z - era * 146097;
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = (int)(doy - (153 * mp + 2) / 5 + 1);
        *m = (int)(mp < 10 ? mp + 3 : mp - 9);
        *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
        return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t utc_ms(int64_t local_s)
{
        return (local_s - SHANGHAI_OFFSET_S) * 1000;
}

static int64_t utc_day(int64_t local_s)
{
        return floor_div(local_s - SHANGHAI_OFFSET_S, DAY_S);
}

/* Writes "YYYY-MM-DD HH:MM:SS" (20 bytes with the NUL). */
static void format_local(int64_t s, char *out)
{
        int64_t day = floor_div(s, DAY_S), sod = s - day * DAY_S;
        int y, m, d;

        civil_from_days(day, &y, &m, &d);
        snprintf(out, 20, "%04d-%02d-%02d %02d:%02d:%02d", y, m, d,
                 (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

/* ---- The invented city ---- */

/* Relative call rate by local hour: low before dawn, peak at 20-22. */
static const double hour_weight[24] = {
        4.0, 3.0, 2.2, 1.6, 1.2, 1.0, 1.2, 1.6, 2.0, 2.4, 2.6, 2.8,
        3.0, 3.0, 3.0, 3.2, 3.5, 4.0, 5.0, 6.0, 6.8, 7.2, 6.6, 5.4,
};

/* Relative daily rate, Monday first: weekends are busier. */
static const double weekday_weight[7] = {
        0.92, 0.90, 0.92, 0.95, 1.05, 1.18, 1.15,
};

static const char *const district_names[10] = {
        "甲", "乙", "丙", "丁", "戊", "己", "庚", "辛", "壬", "癸",
};

static const char *const street_names[10] = {
        "梧桐", "银杏", "桂花", "香樟", "海棠",
        "紫藤", "枫林", "玉兰", "丁香", "芙蓉",
};

static const char *const street_kinds[3] = {"路", "街", "巷"};

/* Narratives without any keyword of the cn_110 profile. */
static const char *const bland_texts[] = {
        "夫妻因家庭琐事发生争吵，民警到场劝解。",
        "双方因经济问题发生口角并有推搡。",
        "报警人称配偶动手推搡，民警到场时已平静。",
        "双方因子女教育问题争执，情绪激动。",
        "家庭成员因赡养老人问题发生纠纷。",
        "男方摔砸家中物品，女方报警求助。",
        "双方因家务分担问题争吵，邻居劝阻。",
        "女方称被男方推倒在地，现场已平静。",
};
#define N_BLAND (sizeof(bland_texts) / sizeof(bland_texts[0]))

/* One lethal keyword each (weapon, firearm, strangulation, threat to
 * kill, victim fears death). */
static const char *const lethal_texts[5] = {
        "男方持刀威胁女方。",
        "男方称家中有枪并威胁女方。",
        "男方掐脖致女方呼吸困难。",
        "男方扬言要杀女方全家。",
        "女方称怕被打死，请求民警保护。",
};

/* One combined-rule flag each: injury, children present, suicide threat,
 * intoxication, pregnancy, separation, stalking, escalation. */
static const char *const combined_parts[8] = {
        "女方手臂受伤", "孩子在场", "男方扬言自杀", "男方醉酒",
        "女方怀孕", "双方正在办理离婚", "男方跟踪女方", "男方多次殴打女方",
};

typedef struct district {
        char code[8];
        double rate;            /* mean calls per day */
        double grid_cdf[HEARTH_GEN_MAX_GRIDS];
        int busiest_grid;
        double lat, lon;
} district_t;

typedef struct person {
        uint32_t index;
        uint8_t male;
        uint8_t area;           /* district whose code starts the ID */
        uint8_t present;
} person_t;

/* One CSV record. */
typedef struct row {
        int64_t call_s;
        int64_t dispatch_s, arrive_s, warn_s, visit_s, order_s;
        uint64_t household;
        uint64_t order;         /* creation order, breaks ties */
        person_t victim, suspect;
        const char *disposition;
        const char *text;       /* static text, or NULL for text_buf */
        char text_buf[160];
        char id[32];
        uint16_t grid;
        uint8_t district;
        bool background, violated, short_label;
} row_t;

typedef struct row_list {
        row_t *rows;
        size_t n, cap;
} row_list_t;

/* One hotspot surge: a district and its busiest grid on one day. */
typedef struct surge {
        int district, grid;
        int64_t day;                    /* UTC day number, = local day */
        int area[2];                    /* district area, grid area */
        bool alarmed[2];
        int64_t complete_ms[2];
        char trigger[2][32];
        int count[2];
        double mean[2], sigma[2], c2[2];
} surge_t;

typedef struct area_day {
        int64_t day;
        int32_t count;
} area_day_t;

typedef struct late_row {
        row_t row;
        int64_t release_s;
} late_row_t;

typedef struct gen {
        const hearth_gen_options_t *o;
        const hearth_pseudo_t *pseudo;
        FILE *csv, *truth;
        rng_t bg, pat;
        district_t districts[HEARTH_GEN_MAX_DISTRICTS];
        int64_t start_s, end_s;         /* local, [start, end) */
        uint32_t persons[2], pattern_persons[2];
        uint64_t households, pattern_households, order;
        uint32_t pattern_incidents;
        uint32_t serial[HEARTH_GEN_MAX_DISTRICTS];
        row_list_t injected, day;
        surge_t *surges;
        size_t n_surges;
        area_day_t *ring;               /* areas x RING_DAYS */
        int64_t *first_day;             /* per area */
        int n_areas;
        late_row_t *late;
        size_t n_late, cap_late;
        hearth_gen_summary_t *sum;
        bool write_failed;
        char line[1024];
} gen_t;

char hearth_gen_id_check_char(const char *first17)
{
        static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6,
                                       3, 7, 9, 10, 5, 8, 4, 2};
        int sum = 0;

        for (int i = 0; i < 17; i++)
                sum += (first17[i] - '0') * weight[i];
        return "10X98765432"[sum % 11];
}

static void person_id(const gen_t *g, person_t p, char out[19])
{
        int64_t born = floor_div(g->start_s, DAY_S) - 70 * 365 +
                       (int64_t)((uint64_t)p.index * 7919 % BIRTH_SPAN);
        unsigned serial = (p.index / BIRTH_SPAN) % SERIALS_PER_SEX * 2 +
                          p.male;
        int y, m, d;

        civil_from_days(born, &y, &m, &d);
        snprintf(out, 18, "%.6s%04d%02d%02d%03u", g->districts[p.area].code,
                 y, m, d, serial);
        out[17] = hearth_gen_id_check_char(out);
        out[18] = '\0';
}

void hearth_gen_options_init(hearth_gen_options_t *o)
{
        memset(o, 0, sizeof(*o));
        o->seed = 1;
        o->start_year = 2024;
        o->start_month = 1;
        o->start_day = 1;
        o->days = 365;
        o->districts = 8;
        o->grids_per_district = 10;
        o->calls_per_day = 300;
        o->patterns = true;
        o->pattern_scale = 3;
}

int hearth_gen_options_check(const hearth_gen_options_t *o, char *errstr,
                             size_t errstr_size)
{
        int64_t first, last;
        int y, m, d;

        first = days_from_civil(o->start_year, o->start_month, o->start_day);
        civil_from_days(first, &y, &m, &d);
        if (y != o->start_year || m != o->start_month || d != o->start_day ||
            o->start_year < 1992) {
                snprintf(errstr, errstr_size, "--start: invalid date; use "
                         "YYYY-MM-DD in 1992 or later");
                return -1;
        }
        if (o->days < 1 || o->days > 36500) {
                snprintf(errstr, errstr_size, "--days must be 1 to 36500");
                return -1;
        }
        last = first + o->days - 1;
        civil_from_days(last, &y, &m, &d);
        if (y > 2099) {
                snprintf(errstr, errstr_size, "--start and --days reach "
                         "past 2099, which the connector rejects");
                return -1;
        }
        if (o->districts < 1 || o->districts > HEARTH_GEN_MAX_DISTRICTS) {
                snprintf(errstr, errstr_size, "--districts must be 1 to %d",
                         HEARTH_GEN_MAX_DISTRICTS);
                return -1;
        }
        if (o->grids_per_district < 1 ||
            o->grids_per_district > HEARTH_GEN_MAX_GRIDS) {
                snprintf(errstr, errstr_size, "--grids-per-district must be "
                         "1 to %d", HEARTH_GEN_MAX_GRIDS);
                return -1;
        }
        if (!(o->calls_per_day >= 0 && o->calls_per_day <= 100000)) {
                snprintf(errstr, errstr_size, "--calls-per-day must be 0 to "
                         "100000");
                return -1;
        }
        /* Two background persons per call, within one index range. */
        if (o->calls_per_day * 1.2 * o->days >= PATTERN_PERSON_BASE) {
                snprintf(errstr, errstr_size, "--calls-per-day times --days "
                         "must stay below %.0f, the invented ID numbers "
                         "that are unique", PATTERN_PERSON_BASE / 1.2);
                return -1;
        }
        if (!(o->late_fraction >= 0 && o->late_fraction <= 1) ||
            !(o->duplicate_fraction >= 0 && o->duplicate_fraction <= 1)) {
                snprintf(errstr, errstr_size, "--late-fraction and "
                         "--duplicate-fraction must be 0 to 1");
                return -1;
        }
        if (o->pattern_scale < 0 || o->pattern_scale > 1000) {
                snprintf(errstr, errstr_size, "--pattern-scale must be 0 to "
                         "1000");
                return -1;
        }
        return 0;
}

/* ---- World set-up ---- */

static void setup_districts(gen_t *g)
{
        const hearth_gen_options_t *o = g->o;
        double weight[HEARTH_GEN_MAX_DISTRICTS], total = 0;

        for (int i = 0; i < o->districts; i++) {
                weight[i] = 0.5 + rng_uniform(&g->bg);
                total += weight[i];
        }
        for (int i = 0; i < o->districts; i++) {
                district_t *d = &g->districts[i];
                double gw[HEARTH_GEN_MAX_GRIDS], gsum = 0, best = -1, acc = 0;

                snprintf(d->code, sizeof(d->code), "3301%02d", 51 + i);
                d->rate = o->calls_per_day * weight[i] / total;
                d->lat = 30.20 + 0.03 * (i / 4);
                d->lon = 120.05 + 0.05 * (i % 4);
                for (int k = 0; k < o->grids_per_district; k++) {
                        gw[k] = 0.3 + 1.4 * rng_uniform(&g->bg);
                        gsum += gw[k];
                        if (gw[k] > best) {
                                best = gw[k];
                                d->busiest_grid = k;
                        }
                }
                for (int k = 0; k < o->grids_per_district; k++) {
                        acc += gw[k] / gsum;
                        d->grid_cdf[k] = acc;
                }
                d->grid_cdf[o->grids_per_district - 1] = 1.0;
        }
}

static int pick_grid(const district_t *d, int grids, double u)
{
        for (int k = 0; k < grids - 1; k++)
                if (u < d->grid_cdf[k])
                        return k;
        return grids - 1;
}

/* Second of the day drawn from the hourly profile. */
static int64_t pick_second_of_day(rng_t *r)
{
        static double cdf[24];
        double u = rng_uniform(r);
        int h = 0;

        if (cdf[23] == 0) {
                double total = 0, acc = 0;

                for (int i = 0; i < 24; i++)
                        total += hour_weight[i];
                for (int i = 0; i < 24; i++) {
                        acc += hour_weight[i] / total;
                        cdf[i] = acc;
                }
                cdf[23] = 1.0;
        }
        while (h < 23 && u >= cdf[h])
                h++;
        return h * HOUR_S + rng_range(r, 0, HOUR_S - 1);
}

/* ---- Rows ---- */

static row_t *row_add(row_list_t *l)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 256;
                l->rows = realloc(l->rows, l->cap * sizeof(*l->rows));
                if (!l->rows)
                        abort();
        }
        memset(&l->rows[l->n], 0, sizeof(l->rows[0]));
        return &l->rows[l->n++];
}

static int by_call_time(const void *a, const void *b)
{
        const row_t *x = a, *y = b;

        if (x->call_s != y->call_s)
                return x->call_s < y->call_s ? -1 : 1;
        return x->order < y->order ? -1 : x->order > y->order;
}

static person_t new_person(gen_t *g, bool injected, bool male, int district)
{
        uint32_t *next = injected ? &g->pattern_persons[male]
                                  : &g->persons[male];
        person_t p = {*next, male, (uint8_t)district, 1};

        (*next)++;
        return p;
}

/* Fills the fields every row shares: dispatch within 1-8 minutes,
 * arrival 5-25 minutes later, a bland narrative, no warning. */
static void row_init(gen_t *g, row_t *row, rng_t *r, int district,
                     int64_t call_s)
{
        static const char *const outcomes[5] = {"调解", "告诫", "拘留",
                                                "立案", "不属实"};
        static const double outcome_cdf[5] = {0.35, 0.55, 0.65, 0.80, 1.0};
        double u = rng_uniform(r);
        int k = 0;

        while (k < 4 && u >= outcome_cdf[k])
                k++;
        row->order = g->order++;
        row->district = (uint8_t)district;
        row->grid = (uint16_t)pick_grid(&g->districts[district],
                                        g->o->grids_per_district,
                                        rng_uniform(r));
        row->call_s = call_s;
        row->dispatch_s = call_s + rng_range(r, 60, 480);
        row->arrive_s = row->dispatch_s + rng_range(r, 300, 1500);
        row->warn_s = row->visit_s = row->order_s = NO_TIME;
        row->disposition = outcomes[k];
        row->text = bland_texts[rng_range(r, 0, N_BLAND - 1)];
        row->short_label = rng_uniform(r) < 0.15;
}

/* A background row of one district and day; its id is set when written. */
static void add_background(gen_t *g, int district, int64_t call_s)
{
        row_t *row = row_add(&g->day);

        row_init(g, row, &g->bg, district, call_s);
        row->background = true;
        row->household = ++g->households;
        row->victim = new_person(g, false, rng_uniform(&g->bg) >= 0.9,
                                 district);
        row->suspect = new_person(g, false, !row->victim.male, district);
}

/* An injected row on a fresh household; the caller adds parties. */
static row_t *add_injected(gen_t *g, int district, int64_t call_s)
{
        row_t *row = row_add(&g->injected);
        int y, m, d;

        row_init(g, row, &g->pat, district, call_s);
        row->household = PATTERN_HOUSEHOLD_BASE + ++g->pattern_households;
        civil_from_days(floor_div(call_s, DAY_S), &y, &m, &d);
        snprintf(row->id, sizeof(row->id), "JQ%s%04d%02d%02d%06u",
                 g->districts[district].code, y, m, d,
                 PATTERN_INCIDENT_BASE + g->pattern_incidents++);
        g->sum->pattern_incidents++;
        return row;
}

/* ---- Output ---- */

static const char csv_header[] =
        "警情编号,报警时间,派警时间,到达时间,报警电话,事发地址,标准地址编码,"
        "行政区划代码,派出所,网格,经度,纬度,警情类别,警情细类,简要案情,"
        "处警结果,当事人身份证号,是否告诫,告诫时间,回访时间,保护令签发时间,"
        "是否违反保护令\n";

static void address_code(const gen_t *g, const row_t *row, char out[24])
{
        snprintf(out, 24, "%s%010" PRIu64, g->districts[row->district].code,
                 row->household);
}

static void grid_id(const gen_t *g, const row_t *row, char out[16])
{
        snprintf(out, 16, "G%s-%02u", g->districts[row->district].code,
                 row->grid + 1u);
}

static void optional_time(int64_t s, char out[20])
{
        if (s == NO_TIME)
                out[0] = '\0';
        else
                format_local(s, out);
}

static void format_parties(const gen_t *g, const row_t *row, char *out,
                           size_t size)
{
        char id[19];
        size_t n = 0;

        out[0] = '\0';
        if (row->victim.present) {
                person_id(g, row->victim, id);
                n += (size_t)snprintf(out + n, size - n, "受害人:%s", id);
        }
        if (row->suspect.present) {
                person_id(g, row->suspect, id);
                snprintf(out + n, size - n, "%s嫌疑人:%s", n ? ";" : "", id);
        }
}

static void write_row(gen_t *g, const row_t *row)
{
        const district_t *d = &g->districts[row->district];
        uint64_t h = row->household;
        char call[20], dispatch[20], arrive[20], warn[20], visit[20];
        char order[20], code[24], grid[16], parties[96];
        int len;

        format_local(row->call_s, call);
        optional_time(row->dispatch_s, dispatch);
        optional_time(row->arrive_s, arrive);
        optional_time(row->warn_s, warn);
        optional_time(row->visit_s, visit);
        optional_time(row->order_s, order);
        address_code(g, row, code);
        grid_id(g, row, grid);
        format_parties(g, row, parties, sizeof(parties));
        len = snprintf(g->line, sizeof(g->line),
                       "%s,%s,%s,%s,1380000%04u,示例市%s区%s%s%u号%u单元%u室,"
                       "%s,%s,%s区第%u派出所,%s,%.4f,%.4f,纠纷,%s,%s,%s,%s,"
                       "%s,%s,%s,%s,%s\n",
                       row->id, call, dispatch, arrive, (unsigned)(h % 10000),
                       district_names[row->district % 10],
                       street_names[h % 10], street_kinds[h / 10 % 3],
                       (unsigned)(h / 30 % 300 + 1), (unsigned)(h % 6 + 1),
                       (unsigned)(h % 17 + 1) * 100 + (unsigned)(h % 4 + 1),
                       code, d->code, district_names[row->district % 10],
                       row->grid / 4u + 1, grid,
                       d->lon + 0.002 * row->grid + 0.0001 * (double)(h % 20),
                       d->lat + 0.0015 * row->grid + 0.0001 * (double)(h % 15),
                       row->short_label ? "家暴" : "家庭暴力",
                       row->text ? row->text : row->text_buf,
                       row->disposition, parties, row->warn_s == NO_TIME
                                                          ? "否" : "是",
                       warn, visit, order, row->violated ? "是" : "否");
        if (len < 0 || (size_t)len >= sizeof(g->line) ||
            fwrite(g->line, 1, (size_t)len, g->csv) != (size_t)len)
                g->write_failed = true;
        g->sum->rows++;
}

static void key_of(const gen_t *g, const char *kind, const char *id,
                   char out[HEARTH_PSEUDO_MAX_LEN])
{
        hearth_pseudo_key(g->pseudo, kind, id, strlen(id), out);
}

static void household_key(const gen_t *g, const row_t *row,
                          char out[HEARTH_PSEUDO_MAX_LEN])
{
        char code[24];

        address_code(g, row, code);
        key_of(g, "addr", code, out);
}

static void person_key(const gen_t *g, person_t p,
                       char out[HEARTH_PSEUDO_MAX_LEN])
{
        char id[19];

        person_id(g, p, id);
        key_of(g, "person", id, out);
}

/* One expected alert; what it carries is listed in bench/README.md. */
typedef struct expected {
        const char *pattern;
        int instance;
        const char *model;
        int priority, base_priority;
        const char *subject_kind;
        const char *subject_key;
        const char *trigger;
        int64_t complete_ms;
        const char *district;
        bool must, implied;
} expected_t;

static void write_expected(gen_t *g, const expected_t *e)
{
        g->sum->expected_alerts++;
        if (!g->truth)
                return;
        fprintf(g->truth,
                "{\"kind\":\"alert\",\"pattern\":\"%s\",\"instance\":%d,"
                "\"model\":\"%s\",\"priority\":%d,\"base_priority\":%d,"
                "\"subject_kind\":\"%s\",\"subject_key\":\"%s\","
                "\"trigger_incident_id\":\"%s\",\"complete_ms\":%" PRId64
                ",\"district_code\":\"%s\",\"fused\":%s,\"must\":%s,"
                "\"implied\":%s}\n",
                e->pattern, e->instance, e->model, e->priority,
                e->base_priority ? e->base_priority : e->priority,
                e->subject_kind, e->subject_key, e->trigger, e->complete_ms,
                e->district,
                e->base_priority && e->base_priority != e->priority ? "true"
                                                                    : "false",
                e->must ? "true" : "false", e->implied ? "true" : "false");
}

/* A subject on which the model must not alert. */
static void write_control(gen_t *g, const char *pattern, int instance,
                          const char *model, const char *subject_kind,
                          const char *subject_key)
{
        g->sum->controls++;
        if (!g->truth)
                return;
        fprintf(g->truth,
                "{\"kind\":\"control\",\"pattern\":\"%s\",\"instance\":%d,"
                "\"model\":\"%s\",\"subject_kind\":\"%s\","
                "\"subject_key\":\"%s\"}\n",
                pattern, instance, model, subject_kind, subject_key);
}

/* ---- Injected patterns ---- */

static const char *const model_names[] = {
        "repeat_calls", "repeat_dispositions", "special_circumstances",
        "repeat_offender", "order_violation", "follow_up_overdue",
        "dispatch_overdue", "hotspot",
};
#define N_MODELS (sizeof(model_names) / sizeof(model_names[0]))

typedef struct pattern_ctx {
        gen_t *g;
        const char *pattern;
        int instance;
        uint64_t by_model[N_MODELS];
} pattern_ctx_t;

/*
 * Returns a local midnight such that span_days from it end at least two
 * days before the end of the output, or NO_TIME (the pattern is skipped)
 * when the output is too short. The margin lets the engine's watermark
 * pass the pattern's timers before the input ends.
 */
static int64_t pattern_day(gen_t *g, int span_days)
{
        int last = g->o->days - span_days - 2;

        if (last < 1) {
                g->sum->skipped_patterns++;
                return NO_TIME;
        }
        return g->start_s + rng_range(&g->pat, 1, last) * DAY_S;
}

/*
 * Draws a gap of min_days to max_days whole days, shortened to fit the
 * output, and a start day for a pattern that spans the gap and extra_days
 * more. Returns NO_TIME (the pattern is skipped) when even min_days does
 * not fit.
 */
static int64_t pattern_gap(gen_t *g, int min_days, int max_days,
                           int extra_days, int64_t *gap_s)
{
        int fit = g->o->days - 3 - extra_days;

        if (fit < max_days)
                max_days = fit;
        if (max_days < min_days) {
                g->sum->skipped_patterns++;
                return NO_TIME;
        }
        *gap_s = rng_range(&g->pat, min_days, max_days) * DAY_S;
        return pattern_day(g, (int)(*gap_s / DAY_S) + extra_days);
}

static int64_t evening(gen_t *g, int64_t day_s)
{
        return day_s + rng_range(&g->pat, 18 * HOUR_S, 23 * HOUR_S - 1);
}

static int pick_district(gen_t *g)
{
        return (int)rng_range(&g->pat, 0, g->o->districts - 1);
}

/* A district other than d when there are two or more. */
static int other_district(gen_t *g, int d)
{
        if (g->o->districts < 2)
                return d;
        return (d + (int)rng_range(&g->pat, 1, g->o->districts - 1)) %
               g->o->districts;
}

static const char *pick(gen_t *g, const char *const *list, int n)
{
        return list[rng_range(&g->pat, 0, n - 1)];
}

/* Dispositions that the repeat dispositions model does not count. */
static const char *const firm_outcomes[3] = {"拘留", "立案", "不属实"};

static void expect(pattern_ctx_t *c, const char *model, int priority,
                   int base_priority, const char *kind, const char *key,
                   const row_t *trigger, int64_t complete_ms, bool implied)
{
        expected_t e = {
                .pattern = c->pattern, .instance = c->instance,
                .model = model, .priority = priority,
                .base_priority = base_priority, .subject_kind = kind,
                .subject_key = key, .trigger = trigger->id,
                .complete_ms = complete_ms,
                .district = c->g->districts[trigger->district].code,
                .must = !implied, .implied = implied,
        };

        for (size_t i = 0; i < N_MODELS; i++)
                if (strcmp(model_names[i], model) == 0)
                        c->by_model[i]++;
        write_expected(c->g, &e);
}

/* Calls of one household series: n calls, gaps drawn in [gap_lo, gap_hi]
 * seconds, dispositions drawn from outcomes. */
typedef struct series {
        int n, span_days, n_outcomes;
        int64_t gap_lo, gap_hi;
        const char *const *outcomes;
        const char *model;
        int priority;
} series_t;

/*
 * Adds the calls of one victim at one household, without a suspect, so
 * that no person model fires, and expects the household alert on the
 * last call.
 */
static void inject_series(pattern_ctx_t *c, const series_t *s)
{
        gen_t *g = c->g;
        int64_t day = pattern_day(g, s->span_days), t;
        int d;
        person_t victim;
        uint64_t household = 0;
        row_t *row = NULL;
        char key[HEARTH_PSEUDO_MAX_LEN] = "";

        if (day == NO_TIME)
                return;
        d = pick_district(g);
        victim = new_person(g, true, false, d);
        t = evening(g, day);
        for (int i = 0; i < s->n; i++) {
                row = add_injected(g, d, t);
                if (i == 0)
                        household = row->household;
                row->household = household;
                row->victim = victim;
                row->disposition = pick(g, s->outcomes, s->n_outcomes);
                t += rng_range(&g->pat, s->gap_lo, s->gap_hi);
        }
        if (g->truth)
                household_key(g, row, key);
        expect(c, s->model, s->priority, 0, "HOUSEHOLD", key, row,
               utc_ms(row->call_s), false);
}

/*
 * Short: two calls 2 to 60 hours apart (P3). Long: three calls 4 to 7
 * days apart, so within 30 days but never two within 72 hours (P2).
 * Their dispositions are never mediated or warned.
 */
static void inject_repeat_calls(pattern_ctx_t *c, bool long_window)
{
        series_t s = {
                .n = long_window ? 3 : 2, .span_days = long_window ? 16 : 4,
                .n_outcomes = 3, .outcomes = firm_outcomes,
                .model = "repeat_calls", .priority = long_window ? 2 : 3,
        };

        s.gap_lo = long_window ? 4 * DAY_S : 2 * HOUR_S;
        s.gap_hi = long_window ? 7 * DAY_S : 60 * HOUR_S;
        inject_series(c, &s);
}

/* Two mediated or warned incidents 31 to 80 days apart (P3). */
static void inject_repeat_dispositions(pattern_ctx_t *c)
{
        static const char *const soft[2] = {"调解", "告诫"};
        series_t s = {
                .n = 2, .span_days = 82, .n_outcomes = 2, .outcomes = soft,
                .gap_lo = 31 * DAY_S, .gap_hi = 80 * DAY_S,
                .model = "repeat_dispositions", .priority = 3,
        };

        inject_series(c, &s);
}

/* Writes four distinct combined-rule phrases into out. */
static void combined_text(gen_t *g, char *out, size_t size)
{
        int order[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        size_t n = 0;

        for (int i = 0; i < 4; i++) {
                int j = (int)rng_range(&g->pat, i, 7), tmp = order[i];

                order[i] = order[j];
                order[j] = tmp;
                n += (size_t)snprintf(out + n, size - n, "%s%s",
                                      combined_parts[order[i]],
                                      i < 3 ? "，" : "。");
        }
}

/*
 * Adds one incident on a fresh household with a fresh victim in a random
 * district, on an evening that leaves span_days before the end. Returns
 * NULL when the pattern is skipped.
 */
static row_t *single_incident(gen_t *g, int span_days)
{
        int64_t day = pattern_day(g, span_days);
        row_t *row;
        int d;

        if (day == NO_TIME)
                return NULL;
        d = pick_district(g);
        row = add_injected(g, d, evening(g, day));
        row->victim = new_person(g, true, false, d);
        return row;
}

/* One incident whose narrative has a lethal keyword or four others. */
static void inject_special(pattern_ctx_t *c, bool lethal)
{
        gen_t *g = c->g;
        row_t *row = single_incident(g, 1);

        if (!row)
                return;
        row->disposition = pick(g, firm_outcomes, 2);
        if (lethal) {
                row->text = lethal_texts[c->instance % 5];
        } else {
                combined_text(g, row->text_buf, sizeof(row->text_buf));
                row->text = NULL;
        }
        expect(c, "special_circumstances", lethal ? 1 : 2, 0, "INCIDENT",
               row->id, row, utc_ms(row->call_s), false);
}

/* Sets a warning 20-60 minutes after arrival and, when visited, a
 * follow-up visit 1 to 6 days after the warning. */
static void warn(gen_t *g, row_t *row, bool visited)
{
        row->disposition = "告诫";
        row->warn_s = row->arrive_s + rng_range(&g->pat, 20 * 60, 60 * 60);
        if (visited)
                row->visit_s = row->warn_s +
                               rng_range(&g->pat, DAY_S, 6 * DAY_S);
}

/*
 * One suspect in two incidents at two households, preferably in two
 * districts. With after_warning the first incident warns him and is
 * followed up in time, so the "incident after a warning" rule applies as
 * well as the two-incidents rule: both give P2 on the second incident.
 */
static void inject_repeat_offender(pattern_ctx_t *c, bool after_warning)
{
        gen_t *g = c->g;
        int64_t t, day = pattern_gap(g, 10, 300, 1, &t);
        int d;
        person_t suspect;
        row_t *row;
        char key[HEARTH_PSEUDO_MAX_LEN] = "";

        if (day == NO_TIME)
                return;
        d = pick_district(g);
        suspect = new_person(g, true, true, d);
        row = add_injected(g, d, evening(g, day));
        row->victim = new_person(g, true, false, d);
        row->suspect = suspect;
        row->disposition = after_warning ? "告诫" : "立案";
        if (after_warning)
                warn(g, row, true);
        t += row->call_s;
        d = other_district(g, d);
        row = add_injected(g, d, t);
        row->victim = new_person(g, true, false, d);
        row->suspect = suspect;
        row->disposition = "拘留";
        if (g->truth)
                person_key(g, suspect, key);
        expect(c, "repeat_offender", 2, 0, "PERSON", key, row,
               utc_ms(row->call_s), false);
}

/*
 * A protection order on the first incident's suspect, then a second
 * incident at the same household 5 to 150 days after the order: with
 * 是否违反保护令 = 是 when violated, else an incident while the order is
 * active. Both incidents are domestic with one suspect within 365 days,
 * so repeat_offender (P2) fires on the same person too, and fusion is
 * expected to raise it to P1; that alert is listed as implied.
 */
static void inject_order(pattern_ctx_t *c, bool violated)
{
        gen_t *g = c->g;
        int64_t gap, day = pattern_gap(g, 5, 150, 5, &gap);
        int d;
        person_t victim, suspect;
        uint64_t household;
        row_t *row;
        char key[HEARTH_PSEUDO_MAX_LEN] = "";

        if (day == NO_TIME)
                return;
        d = pick_district(g);
        victim = new_person(g, true, false, d);
        suspect = new_person(g, true, true, d);
        row = add_injected(g, d, evening(g, day));
        row->victim = victim;
        row->suspect = suspect;
        row->disposition = "立案";
        row->text = "女方称已向法院申请人身安全保护令。";
        row->order_s = row->call_s + rng_range(&g->pat, DAY_S, 3 * DAY_S);
        household = row->household;
        gap += row->order_s;
        row = add_injected(g, d, gap);
        row->household = household;
        row->victim = victim;
        row->suspect = suspect;
        row->disposition = "拘留";
        row->violated = violated;
        row->text = violated ? "男方违反保护令到女方住处纠缠。"
                             : "男方再次到女方住处吵闹。";
        if (g->truth)
                person_key(g, suspect, key);
        expect(c, "order_violation", 1, 0, "PERSON", key, row,
               utc_ms(row->call_s), false);
        expect(c, "repeat_offender", 1, 2, "PERSON", key, row,
               utc_ms(row->call_s), true);
}

/* A warned suspect, visited in time (a control) or never. */
static void inject_follow_up(pattern_ctx_t *c, bool visited)
{
        gen_t *g = c->g;
        row_t *row = single_incident(g, FOLLOW_UP_DAYS + 2);
        char key[HEARTH_PSEUDO_MAX_LEN] = "";

        if (!row)
                return;
        row->suspect = new_person(g, true, true, row->district);
        warn(g, row, visited);
        if (g->truth)
                person_key(g, row->suspect, key);
        if (visited)
                write_control(g, c->pattern, c->instance,
                              "follow_up_overdue", "PERSON", key);
        else
                expect(c, "follow_up_overdue", 3, 0, "PERSON", key, row,
                       utc_ms(row->warn_s + FOLLOW_UP_DAYS * DAY_S), false);
}

/* A call dispatched 11 to 40 minutes late, or never. */
static void inject_dispatch(pattern_ctx_t *c, bool never)
{
        gen_t *g = c->g;
        row_t *row = single_incident(g, 1);

        if (!row)
                return;
        if (never) {
                row->dispatch_s = row->arrive_s = NO_TIME;
                row->disposition = "";
        } else {
                row->dispatch_s = row->call_s +
                                  rng_range(&g->pat, 11 * 60, 40 * 60);
                row->arrive_s = row->dispatch_s +
                                rng_range(&g->pat, 300, 1500);
        }
        expect(c, "dispatch_overdue", 2, 0, "INCIDENT", row->id, row,
               utc_ms(row->call_s + DISPATCH_LIMIT_S), false);
}

/*
 * Two calls within 72 h at one household, the second with a lethal
 * keyword: repeat_calls (P3, raised to P2 by fusion with the P1 of
 * special_circumstances on the same household's incident) and
 * special_circumstances (P1).
 */
static void inject_fusion(pattern_ctx_t *c)
{
        gen_t *g = c->g;
        int64_t day = pattern_day(g, 4), t;
        int d;
        person_t victim;
        uint64_t household;
        row_t *row;
        char key[HEARTH_PSEUDO_MAX_LEN] = "";

        if (day == NO_TIME)
                return;
        d = pick_district(g);
        victim = new_person(g, true, false, d);
        t = evening(g, day);
        row = add_injected(g, d, t);
        row->victim = victim;
        row->disposition = pick(g, firm_outcomes, 2);
        household = row->household;
        row = add_injected(g, d, t + rng_range(&g->pat, 6 * HOUR_S,
                                               60 * HOUR_S));
        row->household = household;
        row->victim = victim;
        row->disposition = pick(g, firm_outcomes, 2);
        row->text = lethal_texts[c->instance % 5];
        if (g->truth)
                household_key(g, row, key);
        expect(c, "repeat_calls", 2, 3, "HOUSEHOLD", key, row,
               utc_ms(row->call_s), false);
        expect(c, "special_circumstances", 1, 0, "INCIDENT", row->id, row,
               utc_ms(row->call_s), false);
}

/*
 * Surge k: on day 14 + 12 k (plus 0-2 days) of the output, a district's
 * busiest grid gets rate + 6 sqrt(rate) extra calls (at least 12) between
 * 09:00 and 23:00 local time, which is one UTC day. The spacing keeps
 * earlier surges out of each one's baseline.
 */
static void plan_surges(gen_t *g, int n)
{
        g->surges = calloc((size_t)n + 1, sizeof(*g->surges));
        for (int k = 0; k < n; k++) {
                int64_t day = 14 + 12 * (int64_t)k + rng_range(&g->pat, 0, 2);
                int d = pick_district(g);
                const district_t *dist = &g->districts[d];
                surge_t *s;
                int extra;

                if (day > g->o->days - 3 || dist->rate <= 0) {
                        g->sum->skipped_patterns++;
                        continue;
                }
                s = &g->surges[g->n_surges++];
                s->district = d;
                s->grid = dist->busiest_grid;
                s->day = floor_div(g->start_s, DAY_S) + day;
                s->area[0] = d;
                s->area[1] = g->o->districts +
                             d * g->o->grids_per_district + s->grid;
                extra = (int)ceil(dist->rate + 6 * sqrt(dist->rate));
                if (extra < 12)
                        extra = 12;
                for (int i = 0; i < extra; i++) {
                        row_t *row = add_injected(
                                g, d, s->day * DAY_S +
                                rng_range(&g->pat, 9 * HOUR_S,
                                          23 * HOUR_S - 1));

                        row->grid = (uint16_t)s->grid;
                        row->victim = new_person(g, true, false, d);
                        row->suspect = new_person(g, true, true, d);
                }
        }
}

static void inject_patterns(gen_t *g, pattern_ctx_t *c)
{
        static const struct {
                const char *name;
                void (*fn)(pattern_ctx_t *c, bool flag);
                bool flag;
        } kinds[] = {
                {"repeat_calls_72h", inject_repeat_calls, false},
                {"repeat_calls_30d", inject_repeat_calls, true},
                {"special_lethal", inject_special, true},
                {"special_combined", inject_special, false},
                {"repeat_offender_365d", inject_repeat_offender, false},
                {"repeat_offender_after_warning", inject_repeat_offender,
                 true},
                {"order_violated", inject_order, true},
                {"order_active_incident", inject_order, false},
                {"follow_up_overdue", inject_follow_up, false},
                {"follow_up_visited", inject_follow_up, true},
                {"dispatch_late", inject_dispatch, false},
                {"dispatch_missing", inject_dispatch, true},
        };

        for (int k = 1; k <= g->o->pattern_scale; k++) {
                c->instance = k;
                for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]);
                     i++) {
                        c->pattern = kinds[i].name;
                        kinds[i].fn(c, kinds[i].flag);
                }
                c->pattern = "repeat_dispositions";
                inject_repeat_dispositions(c);
                c->pattern = "fusion";
                inject_fusion(c);
        }
        plan_surges(g, g->o->pattern_scale);
        qsort(g->injected.rows, g->injected.n, sizeof(row_t), by_call_time);
}

/* ---- Hotspot bookkeeping ---- */

static area_day_t *area_slot(gen_t *g, int area, int64_t day)
{
        int64_t slot = day % RING_DAYS;

        if (slot < 0)
                slot += RING_DAYS;
        return &g->ring[(size_t)area * RING_DAYS + (size_t)slot];
}

static int32_t area_count(gen_t *g, int area, int64_t day)
{
        area_day_t *slot = area_slot(g, area, day);

        return slot->day == day ? slot->count : 0;
}

/* Evaluates EARS C2 for one surge area at the incident just counted. */
static void check_surge(gen_t *g, surge_t *s, int j, const row_t *row,
                        int64_t day)
{
        int area = s->area[j];
        double sum = 0, sq = 0, mean, sigma, c2;
        int n = HOTSPOT_BASELINE_DAYS;
        int64_t first = day - HOTSPOT_GUARD_DAYS - HOTSPOT_BASELINE_DAYS;

        if (s->alarmed[j] || g->first_day[area] > first)
                return;
        for (int64_t d = first; d < first + n; d++)
                sum += area_count(g, area, d);
        mean = sum / n;
        for (int64_t d = first; d < first + n; d++) {
                double x = area_count(g, area, d) - mean;

                sq += x * x;
        }
        sigma = sqrt(sq / (n - 1));
        c2 = (area_count(g, area, day) - mean) /
             (sigma > HOTSPOT_MIN_SIGMA ? sigma : HOTSPOT_MIN_SIGMA);
        if (c2 <= HOTSPOT_THRESHOLD)
                return;
        s->alarmed[j] = true;
        s->complete_ms[j] = utc_ms(row->call_s);
        snprintf(s->trigger[j], sizeof(s->trigger[j]), "%s", row->id);
        s->count[j] = area_count(g, area, day);
        s->mean[j] = mean;
        s->sigma[j] = sigma;
        s->c2[j] = c2;
}

/* Counts a written incident in its district and grid on its UTC day. */
static void count_incident(gen_t *g, const row_t *row)
{
        int64_t day = utc_day(row->call_s);
        int areas[2] = {row->district,
                        g->o->districts + row->district *
                                g->o->grids_per_district + row->grid};

        for (int j = 0; j < 2; j++) {
                area_day_t *slot = area_slot(g, areas[j], day);

                if (slot->day != day) {
                        slot->day = day;
                        slot->count = 0;
                }
                slot->count++;
                if (day < g->first_day[areas[j]])
                        g->first_day[areas[j]] = day;
        }
        for (size_t i = 0; i < g->n_surges; i++) {
                surge_t *s = &g->surges[i];

                if (s->day != day || s->district != row->district)
                        continue;
                check_surge(g, s, 0, row, day);
                if (row->grid == s->grid)
                        check_surge(g, s, 1, row, day);
        }
}

static void write_surges(gen_t *g, pattern_ctx_t *c)
{
        for (size_t i = 0; i < g->n_surges; i++) {
                const surge_t *s = &g->surges[i];
                const district_t *d = &g->districts[s->district];
                char grid[16], date[20];
                row_t probe = {.district = (uint8_t)s->district,
                               .grid = (uint16_t)s->grid};

                grid_id(g, &probe, grid);
                format_local(s->day * DAY_S, date);
                date[10] = '\0';
                for (int j = 0; j < 2; j++) {
                        c->by_model[N_MODELS - 1]++;
                        g->sum->expected_alerts++;
                        if (!g->truth)
                                continue;
                        fprintf(g->truth,
                                "{\"kind\":\"alert\",\"pattern\":\"hotspot_"
                                "surge\",\"instance\":%zu,\"model\":"
                                "\"hotspot\",\"priority\":%d,"
                                "\"base_priority\":%d,\"subject_kind\":"
                                "\"%s\",\"subject_key\":\"%s\","
                                "\"trigger_incident_id\":\"%s\","
                                "\"complete_ms\":%" PRId64 ",\"day\":\"%s\","
                                "\"district_code\":\"%s\",\"fused\":false,"
                                "\"must\":false,\"implied\":false,"
                                "\"day_count\":%d,\"baseline_mean\":%.3f,"
                                "\"baseline_sigma\":%.3f,\"c2\":%.3f,"
                                "\"alarmed\":%s}\n",
                                i + 1, j ? 4 : 3, j ? 4 : 3,
                                j ? "GRID" : "DISTRICT", j ? grid : d->code,
                                s->alarmed[j] ? s->trigger[j] : "",
                                s->alarmed[j] ? s->complete_ms[j] : 0, date,
                                d->code, s->count[j], s->mean[j],
                                s->sigma[j], s->c2[j],
                                s->alarmed[j] ? "true" : "false");
                }
        }
}

/* ---- Late and duplicate rows, and the stream ---- */

static void write_counted(gen_t *g, const row_t *row)
{
        write_row(g, row);
        count_incident(g, row);
}

/* Writes the held-back rows due by local time until, earliest first. */
static void release_late(gen_t *g, int64_t until)
{
        for (;;) {
                size_t best = g->n_late;

                for (size_t i = 0; i < g->n_late; i++)
                        if (g->late[i].release_s <= until &&
                            (best == g->n_late ||
                             g->late[i].release_s < g->late[best].release_s))
                                best = i;
                if (best == g->n_late)
                        return;
                write_counted(g, &g->late[best].row);
                g->late[best] = g->late[--g->n_late];
        }
}

/*
 * Holds a background row back by 1-5 minutes (9 in 10) or 1-6 hours, so
 * that it follows rows with later call times.
 */
static void hold_late(gen_t *g, const row_t *row)
{
        int64_t shift = rng_uniform(&g->bg) < 0.9
                                ? rng_range(&g->bg, 60, 300)
                                : rng_range(&g->bg, HOUR_S, 6 * HOUR_S);

        if (g->n_late == g->cap_late) {
                g->cap_late = g->cap_late ? g->cap_late * 2 : 64;
                g->late = realloc(g->late, g->cap_late * sizeof(*g->late));
                if (!g->late)
                        abort();
        }
        g->late[g->n_late].row = *row;
        g->late[g->n_late].release_s = row->call_s + shift;
        g->n_late++;
        g->sum->late_rows++;
        if (g->truth)
                fprintf(g->truth,
                        "{\"kind\":\"late\",\"incident_id\":\"%s\","
                        "\"call_ms\":%" PRId64 ",\"displaced_s\":%" PRId64
                        "}\n",
                        row->id, utc_ms(row->call_s), shift);
}

static void emit(gen_t *g, const row_t *row)
{
        release_late(g, row->call_s);
        if (row->background && g->o->late_fraction > 0 &&
            rng_uniform(&g->bg) < g->o->late_fraction) {
                hold_late(g, row);
                return;
        }
        write_counted(g, row);
        if (row->background && g->o->duplicate_fraction > 0 &&
            rng_uniform(&g->bg) < g->o->duplicate_fraction) {
                write_row(g, row);
                g->sum->duplicate_rows++;
                if (g->truth)
                        fprintf(g->truth,
                                "{\"kind\":\"duplicate\",\"incident_id\":"
                                "\"%s\"}\n",
                                row->id);
        }
}

/* Draws one local day's background calls, sorted, with their ids. */
static void draw_day(gen_t *g, int64_t day_s)
{
        int64_t day = floor_div(day_s, DAY_S);
        double week = weekday_weight[(day + 3) % 7], mean = 0;
        int y, m, d;

        for (int i = 0; i < 7; i++)
                mean += weekday_weight[i] / 7;
        g->day.n = 0;
        for (int k = 0; k < g->o->districts; k++) {
                int64_t n = rng_poisson(&g->bg,
                                        g->districts[k].rate * week / mean);

                for (int64_t i = 0; i < n; i++)
                        add_background(g, k,
                                       day_s + pick_second_of_day(&g->bg));
        }
        qsort(g->day.rows, g->day.n, sizeof(row_t), by_call_time);
        civil_from_days(day, &y, &m, &d);
        memset(g->serial, 0, sizeof(g->serial));
        for (size_t i = 0; i < g->day.n; i++) {
                row_t *row = &g->day.rows[i];

                snprintf(row->id, sizeof(row->id), "JQ%s%04d%02d%02d%06u",
                         g->districts[row->district].code, y, m, d,
                         ++g->serial[row->district]);
        }
        g->sum->background_incidents += g->day.n;
}

static void stream(gen_t *g)
{
        size_t next = 0;

        for (int64_t day_s = g->start_s; day_s < g->end_s; day_s += DAY_S) {
                draw_day(g, day_s);
                for (size_t i = 0; i < g->day.n; i++) {
                        const row_t *row = &g->day.rows[i];

                        while (next < g->injected.n &&
                               by_call_time(&g->injected.rows[next], row) < 0)
                                emit(g, &g->injected.rows[next++]);
                        emit(g, row);
                }
                while (next < g->injected.n &&
                       g->injected.rows[next].call_s < day_s + DAY_S)
                        emit(g, &g->injected.rows[next++]);
        }
        while (next < g->injected.n)
                emit(g, &g->injected.rows[next++]);
        release_late(g, INT64_MAX);
}

static void write_summary(gen_t *g, const pattern_ctx_t *c)
{
        const hearth_gen_summary_t *s = g->sum;
        const hearth_gen_options_t *o = g->o;

        if (!g->truth)
                return;
        fprintf(g->truth,
                "{\"kind\":\"summary\",\"seed\":%" PRIu64 ",\"start\":"
                "\"%04d-%02d-%02d\",\"days\":%d,\"districts\":%d,"
                "\"grids_per_district\":%d,\"calls_per_day\":%g,"
                "\"pattern_scale\":%d,\"rows\":%" PRIu64
                ",\"background_incidents\":%" PRIu64
                ",\"pattern_incidents\":%" PRIu64
                ",\"expected_alerts\":%" PRIu64 ",\"controls\":%" PRIu64
                ",\"late_rows\":%" PRIu64 ",\"duplicate_rows\":%" PRIu64
                ",\"skipped_patterns\":%" PRIu64 ",\"alerts_by_model\":{",
                o->seed, o->start_year, o->start_month, o->start_day, o->days,
                o->districts, o->grids_per_district, o->calls_per_day,
                o->patterns ? o->pattern_scale : 0, s->rows,
                s->background_incidents, s->pattern_incidents,
                s->expected_alerts, s->controls, s->late_rows,
                s->duplicate_rows, s->skipped_patterns);
        for (size_t i = 0; i < N_MODELS; i++)
                fprintf(g->truth, "%s\"%s\":%" PRIu64, i ? "," : "",
                        model_names[i], c->by_model[i]);
        fputs("}}\n", g->truth);
}

int hearth_gen_write(const hearth_gen_options_t *o,
                     const hearth_pseudo_t *pseudo, FILE *csv, FILE *truth,
                     hearth_gen_summary_t *summary, char *errstr,
                     size_t errstr_size)
{
        gen_t *g;
        pattern_ctx_t ctx = {0};
        int rc = 0;

        if (hearth_gen_options_check(o, errstr, errstr_size) != 0)
                return -1;
        if (truth && !pseudo) {
                snprintf(errstr, errstr_size, "the truth file needs a key "
                         "for its pseudonyms");
                return -1;
        }
        g = calloc(1, sizeof(*g));
        if (!g)
                abort();
        memset(summary, 0, sizeof(*summary));
        g->o = o;
        g->pseudo = pseudo;
        g->csv = csv;
        g->truth = truth;
        g->sum = summary;
        g->pattern_persons[0] = g->pattern_persons[1] = PATTERN_PERSON_BASE;
        rng_seed(&g->bg, o->seed, 1);
        rng_seed(&g->pat, o->seed, 2);
        g->start_s = days_from_civil(o->start_year, o->start_month,
                                     o->start_day) * DAY_S;
        g->end_s = g->start_s + o->days * DAY_S;
        setup_districts(g);
        g->n_areas = o->districts * (1 + o->grids_per_district);
        g->ring = calloc((size_t)g->n_areas * RING_DAYS, sizeof(*g->ring));
        g->first_day = malloc((size_t)g->n_areas * sizeof(*g->first_day));
        if (!g->ring || !g->first_day)
                abort();
        for (int i = 0; i < g->n_areas; i++)
                g->first_day[i] = INT64_MAX;
        for (size_t i = 0; i < (size_t)g->n_areas * RING_DAYS; i++)
                g->ring[i].day = INT64_MIN;

        ctx.g = g;
        if (o->patterns)
                inject_patterns(g, &ctx);
        fputs(csv_header, csv);
        stream(g);
        write_surges(g, &ctx);
        write_summary(g, &ctx);

        if (g->write_failed || ferror(csv) || (truth && ferror(truth))) {
                snprintf(errstr, errstr_size, "writing the output failed");
                rc = -1;
        }
        free(g->injected.rows);
        free(g->day.rows);
        free(g->surges);
        free(g->ring);
        free(g->first_day);
        free(g->late);
        free(g);
        return rc;
}
