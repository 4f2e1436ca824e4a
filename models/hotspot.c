/*
 * Hotspot: a surge of domestic incidents in one district or grid cell on
 * one day, measured against the area's own recent days with the EARS C2
 * method.
 *
 * Method. C2 is one of the three methods of EARS, the Early Aberration
 * Reporting System of the US Centers for Disease Control and Prevention.
 * For day d it takes the counts of the baseline days d-9 to d-3; days d-2
 * and d-1 form a guard band, so that a surge that began yesterday does not
 * raise its own baseline. With mu the mean and sigma the sample standard
 * deviation (divisor n - 1) of the baseline counts,
 *
 *   C2 = (count_d - mu) / max(sigma, min_sigma)
 *
 * and day d alarms when C2 > threshold. Defaults: 7 baseline days, 2 guard
 * days, threshold 3.00, min_sigma 1.00. Each is an option, the last two in
 * hundredths.
 *
 * The floor on sigma is this project's choice. A flat baseline (the same
 * count every day) has sigma 0, and a few quiet days have a sigma well
 * below 1, so without a floor one incident above the mean would alarm.
 * With sigma floored at 1.00, a day alarms only when its count is more
 * than threshold incidents above the mean. The earsC function of the R
 * package surveillance (version 1.24.0) has a similar parameter, minSigma,
 * which its manual applies when the baseline is zero. The manual quotes
 * Howard Burkom's advice of 0.5 or 1 for sparse data.
 *
 * Areas. The district of an event ("d:<district_code>", P3) and, when
 * grid_id is not empty, its grid cell ("g:<district_code>/<grid_id>", P4)
 * are counted and evaluated apart. An event without a district code is
 * ignored. Days are calendar days at a fixed offset from UTC,
 * day_offset_minutes (default 0, UTC); a deployment sets its local offset,
 * e.g. 480 in China.
 * NOTE: a fixed offset does not follow daylight saving time. For Milwaukee
 * (UTC-6 in winter, UTC-5 in summer) either setting puts the day boundary
 * one hour off local midnight for part of the year.
 *
 * Counting and alarms. An incident counts once per area, on the day of the
 * first of its domestic events that names that area. Each incident counted
 * by a timely event evaluates its day again. The incident that first makes
 * C2 exceed the threshold raises the one alert of that area and day, with
 * the day's count at that incident, the day as the window and the day's
 * most recent incident ids. A day alarms only when the area's first
 * incident lies on the first baseline day (d-9 by default) or earlier, so
 * every baseline day lies within the history the model has seen. Without
 * that rule a new area would alarm on its first busy day against a
 * baseline of zeros. A late event is counted, which can change the
 * baseline of later days, but raises no alert.
 *
 * State, per area A, day number D (days since 1970-01-01 at the offset)
 * and incident I in input partition N:
 *   <prefix>{pN}:hs:A       hash: "first" -> day of the area's first
 *                           incident; "s<k>" -> "<D> <count> <alerted>"
 *                           for the day D with D mod R = k, where R is
 *                           baseline + guard + 2 + the allowed lateness
 *                           in whole days (11 by default)
 *   <prefix>{pN}:hs.d:D:A   sorted set: incident id -> event time (ms)
 *   <prefix>{pN}:inc:I      hash shared by the incident models (see
 *                           hearth_incident_key()), field "hs.<A>" -> day
 *                           the incident was counted on for area A
 * The area keys expire after the baseline, the guard band and the day
 * itself (10 days by default) plus the allowed lateness, the incident key
 * after the longest TTL of the incident models (hearth_incident_ttl()),
 * which is no shorter. The day counts form a
 * ring of R slots, so an active area's hash does not grow by a field a
 * day: the batch API cannot delete a hash field, and every write renews
 * the key's TTL.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/common/log.h"
#include "models/model.h"

#define COMPONENT "models"
#define MINUTE_MS INT64_C(60000)
#define DAY_MS INT64_C(86400000)
#define KEY_MAX 512
#define MAX_AREAS 2

typedef struct hotspot {
        int64_t threshold_x100;
        int64_t min_sigma_x100;
        int64_t baseline_days;
        int64_t guard_days;
        int district_priority;
        int grid_priority;
        int64_t offset_ms;
        int64_t ring_size;      /* slots of day counts per area */
        int64_t ttl_ms;
        int64_t incident_ttl_ms;
        size_t max_ids;
} hotspot_t;

/* One area of an event and its state keys. */
typedef struct area {
        char subject[HEARTH_SUBJECT_MAX];
        char field[HEARTH_SUBJECT_MAX + 3];     /* "hs." subject */
        int subject_kind;
        int priority;
        const char *code;
        char days[KEY_MAX];     /* hash: first day and ring of day counts */
        char incidents[KEY_MAX];        /* sorted set of the day's ids */
} area_t;

typedef struct event_keys {
        int64_t day;
        area_t areas[MAX_AREAS];
        size_t n_areas;
        char incident[KEY_MAX]; /* the incident's shared hash */
} event_keys_t;

/* A day's entry in an area's ring. */
typedef struct day_slot {
        int64_t day;            /* INT64_MIN when the slot is empty */
        uint32_t count;
        bool alerted;
} day_slot_t;

static void *hs_create(const hearth_config_t *cfg, char *errstr,
                       size_t errstr_size)
{
        hotspot_t *m;

        (void)errstr_size;
        errstr[0] = '\0';
        if (!cfg->hs_enabled)
                return NULL;
        m = calloc(1, sizeof(*m));
        m->threshold_x100 = cfg->hs_c2_threshold_x100;
        m->min_sigma_x100 = cfg->hs_min_sigma_x100;
        m->baseline_days = cfg->hs_baseline_d;
        m->guard_days = cfg->hs_guard_d;
        m->district_priority = (int)cfg->hs_district_priority;
        m->grid_priority = (int)cfg->hs_grid_priority;
        m->offset_ms = cfg->hs_day_offset_min * MINUTE_MS;
        /*
         * A timely event of day d reads days d - guard - baseline to d. The
         * newest day counted so far is at most d + 1 + lateness in whole
         * days, because the event is not older than the partition's newest
         * event minus the lateness. R slots keep all of those days apart.
         */
        m->ring_size = m->baseline_days + m->guard_days + 2 +
                       cfg->allowed_lateness_ms / DAY_MS;
        m->ttl_ms = (m->baseline_days + m->guard_days + 1) * DAY_MS +
                    cfg->allowed_lateness_ms;
        m->incident_ttl_ms = hearth_incident_ttl(cfg);
        m->max_ids = (size_t)cfg->hs_max_incident_ids;
        return m;
}

static void hs_destroy(void *self)
{
        free(self);
}

/* Returns the day number of event time t: whole days since 1970-01-01 at
 * the configured offset from UTC, rounded down. */
static int64_t day_of(const hotspot_t *m, int64_t t)
{
        int64_t local = t + m->offset_ms;

        if (local >= 0)
                return local / DAY_MS;
        return -((-local + DAY_MS - 1) / DAY_MS);
}

static int64_t day_start_ms(const hotspot_t *m, int64_t day)
{
        return day * DAY_MS - m->offset_ms;
}

/*
 * Formats a key of the event's partition into out. Returns false, and logs,
 * when it does not fit: a truncated key could name another area's state.
 */
static bool make_key(const hearth_event_t *e, hearth_batch_t *b,
                     const char *suffix, char *out)
{
        hearth_batch_key(b, e->partition, suffix, out, KEY_MAX);
        if (strlen(out) + 1 >= KEY_MAX) {
                hearth_error(COMPONENT, "hotspot: state key of incident %s "
                             "exceeds %d bytes; shorten redis.key_prefix",
                             e->msg->incident_id, KEY_MAX - 1);
                return false;
        }
        return true;
}

/* Adds the event's district or grid cell to k. Returns false when its
 * subject or keys do not fit. */
static bool add_area(const hotspot_t *m, const hearth_event_t *e,
                     hearth_batch_t *b, event_keys_t *k, bool grid)
{
        const Hearth__V1__IncidentEvent *msg = e->msg;
        area_t *a = &k->areas[k->n_areas];
        char suffix[KEY_MAX];
        int len;

        if (grid)
                len = snprintf(a->subject, sizeof(a->subject), "g:%s/%s",
                               msg->district_code, msg->grid_id);
        else
                len = snprintf(a->subject, sizeof(a->subject), "d:%s",
                               msg->district_code);
        /* A truncated subject would merge two areas. */
        if (len < 0 || (size_t)len >= sizeof(a->subject)) {
                hearth_error(COMPONENT, "hotspot: area of incident %s "
                             "exceeds %d bytes; it is not counted",
                             msg->incident_id, HEARTH_SUBJECT_MAX - 1);
                return false;
        }
        memcpy(a->field, "hs.", 3);
        memcpy(a->field + 3, a->subject, (size_t)len + 1);
        a->subject_kind = grid ? HEARTH__V1__SUBJECT_KIND__GRID
                               : HEARTH__V1__SUBJECT_KIND__DISTRICT;
        a->priority = grid ? m->grid_priority : m->district_priority;
        a->code = grid ? "hotspot.grid" : "hotspot.district";
        snprintf(suffix, sizeof(suffix), "hs:%s", a->subject);
        if (!make_key(e, b, suffix, a->days))
                return false;
        snprintf(suffix, sizeof(suffix), "hs.d:%" PRId64 ":%s", k->day,
                 a->subject);
        if (!make_key(e, b, suffix, a->incidents))
                return false;
        k->n_areas++;
        return true;
}

/* Fills the keys of a domestic event with a district code. Returns false
 * for any other event. */
static bool keys_for(const hotspot_t *m, const hearth_event_t *e,
                     hearth_batch_t *b, event_keys_t *k)
{
        const Hearth__V1__IncidentEvent *msg = e->msg;

        if (!msg->is_domestic || !msg->district_code || !*msg->district_code)
                return false;
        k->n_areas = 0;
        k->day = day_of(m, msg->event_time_ms);
        if (!hearth_incident_key(b, e, k->incident, sizeof(k->incident)))
                return false;
        add_area(m, e, b, k, false);
        if (msg->grid_id && *msg->grid_id)
                add_area(m, e, b, k, true);
        return k->n_areas > 0;
}

static void hs_plan(void *self, hearth_batch_t *b, const hearth_event_t *e)
{
        event_keys_t k;

        if (!keys_for(self, e, b, &k))
                return;
        hearth_batch_need_hash(b, k.incident);
        for (size_t i = 0; i < k.n_areas; i++) {
                hearth_batch_need_hash(b, k.areas[i].days);
                hearth_batch_need_zset(b, k.areas[i].incidents);
        }
}

static void slot_field(const hotspot_t *m, int64_t day, char *out,
                       size_t size)
{
        int64_t k = day % m->ring_size;

        snprintf(out, size, "s%" PRId64, k < 0 ? k + m->ring_size : k);
}

/* Reads the ring slot that day maps to, which may contain another day. */
static day_slot_t read_slot(const hotspot_t *m, hearth_batch_t *b,
                            const char *key, int64_t day)
{
        day_slot_t s = {.day = INT64_MIN};
        char field[32], *end;
        const char *v;
        long long count;

        slot_field(m, day, field, sizeof(field));
        v = hearth_hash_get(b, key, field);
        if (!v)
                return s;
        s.day = strtoll(v, &end, 10);
        count = strtoll(end, &end, 10);
        s.count = count < 0 ? 0 : count > UINT32_MAX ? UINT32_MAX
                                                     : (uint32_t)count;
        s.alerted = strtoll(end, NULL, 10) != 0;
        return s;
}

static void write_slot(const hotspot_t *m, hearth_batch_t *b,
                       const char *key, const day_slot_t *s)
{
        char field[32], value[64];

        slot_field(m, s->day, field, sizeof(field));
        snprintf(value, sizeof(value), "%" PRId64 " %" PRIu32 " %d", s->day,
                 s->count, s->alerted ? 1 : 0);
        hearth_hash_set(b, key, field, value, m->ttl_ms);
}

/* Returns the area's count of day, or 0 when its slot contains another
 * day. */
static uint32_t day_count(const hotspot_t *m, hearth_batch_t *b,
                          const char *key, int64_t day)
{
        day_slot_t s = read_slot(m, b, key, day);

        return s.day == day ? s.count : 0;
}

/*
 * Counts the event's incident for the area on day k->day and stores the
 * day's slot in *slot. Returns false when the incident was counted there
 * before, or when a newer day uses the slot because the day is older than
 * the ring keeps.
 */
static bool count_incident(const hotspot_t *m, hearth_batch_t *b,
                           const hearth_event_t *e, const event_keys_t *k,
                           const area_t *a, day_slot_t *slot)
{
        const char *first = hearth_hash_get(b, a->days, "first");
        char value[32];

        if (hearth_hash_get(b, k->incident, a->field))
                return false;
        *slot = read_slot(m, b, a->days, k->day);
        if (slot->day > k->day)
                return false;
        if (slot->day < k->day)
                *slot = (day_slot_t){.day = k->day};
        if (!hearth_zset_add_nx(b, a->incidents, e->msg->incident_id,
                                e->msg->event_time_ms, m->ttl_ms))
                return false;
        slot->count++;
        write_slot(m, b, a->days, slot);
        snprintf(value, sizeof(value), "%" PRId64, k->day);
        hearth_hash_set(b, k->incident, a->field, value,
                        m->incident_ttl_ms);
        if (!first || strtoll(first, NULL, 10) > k->day)
                hearth_hash_set(b, a->days, "first", value, m->ttl_ms);
        return true;
}

/* Mean and standard deviation of the baseline days of one day. */
typedef struct baseline {
        int64_t n;              /* days */
        __int128 sum;           /* of the counts */
        __int128 sum_squares;
} baseline_t;

static baseline_t read_baseline(const hotspot_t *m, hearth_batch_t *b,
                                const char *key, int64_t day)
{
        baseline_t base = {.n = m->baseline_days};
        int64_t last = day - m->guard_days - 1;

        for (int64_t d = last - m->baseline_days + 1; d <= last; d++) {
                __int128 count = day_count(m, b, key, d);

                base.sum += count;
                base.sum_squares += count * count;
        }
        return base;
}

/*
 * Returns true when C2 exceeds the threshold, in exact integer arithmetic,
 * so that a C2 equal to the threshold never alarms through rounding. With
 * T the threshold and F the floor in hundredths, S and Q the sum and the
 * sum of squares of the n baseline counts, and D = n * count - S:
 *   C2 > T/100  <=>  100 D > T n max(sigma, F/100)
 *              <=>  D > 0 and 10^4 D^2 (n - 1) > T^2 n (n Q - S^2)
 *                   and 10^8 D^2 > T^2 n^2 F^2,
 * because sigma^2 = (n Q - S^2) / (n (n - 1)). Counts are 32-bit and n, T
 * and F are bounded by their option ranges, so no product overflows 128
 * bits.
 */
static bool c2_exceeds(const hotspot_t *m, const baseline_t *base,
                       uint32_t count)
{
        __int128 n = base->n, t = m->threshold_x100, f = m->min_sigma_x100;
        __int128 d = n * count - base->sum;
        __int128 spread = n * base->sum_squares - base->sum * base->sum;

        if (d <= 0)
                return false;
        return 10000 * d * d * (n - 1) > t * t * n * spread &&
               100000000 * d * d > t * t * n * n * f * f;
}

static void emit_alert(const hotspot_t *m, hearth_batch_t *b,
                       const hearth_event_t *e, const event_keys_t *k,
                       const area_t *a, const baseline_t *base,
                       uint32_t count, hearth_emit_fn emit, void *emit_ctx)
{
        hearth_candidate_t c = {.model = "hotspot"};
        char **ids = calloc(m->max_ids, sizeof(char *));
        size_t n_ids;
        double n = (double)base->n, sum = (double)base->sum;
        double mean = sum / n;
        double variance = ((double)base->sum_squares - sum * mean) / (n - 1);
        double sigma = variance > 0 ? sqrt(variance) : 0;
        double floor_sigma = (double)m->min_sigma_x100 / 100;
        double threshold = (double)m->threshold_x100 / 100;
        double c2 = (count - mean) /
                    (sigma > floor_sigma ? sigma : floor_sigma);
        char floored[40] = "";

        n_ids = hearth_model_recent_ids(b, a->incidents, INT64_MIN, INT64_MAX,
                                        ids, m->max_ids);
        if (sigma < floor_sigma)
                snprintf(floored, sizeof(floored), " (floor %.2f)",
                         floor_sigma);
        c.priority = a->priority;
        c.score = c2 / threshold;
        c.subject_kind = a->subject_kind;
        snprintf(c.subject_key, sizeof(c.subject_key), "%s", a->subject);
        c.window_start_ms = day_start_ms(m, k->day);
        c.window_end_ms = day_start_ms(m, k->day + 1) - 1;
        c.count = count;
        c.incident_ids = ids;
        c.n_incident_ids = n_ids;
        snprintf(c.reason_code, sizeof(c.reason_code), "%s", a->code);
        snprintf(c.reason_text, sizeof(c.reason_text),
                 "C2 %.2f > %.2f: %u domestic incidents this day; baseline "
                 "of %" PRId64 " days: mean %.2f, sd %.2f%s", c2, threshold,
                 count, base->n, mean, sigma, floored);
        emit(emit_ctx, e, &c);
        free(ids);
}

/* Raises the area's alert of the day when it has none yet, the area's
 * history covers the baseline and C2 exceeds the threshold. */
static void evaluate(const hotspot_t *m, hearth_batch_t *b,
                     const hearth_event_t *e, const event_keys_t *k,
                     const area_t *a, day_slot_t *slot, hearth_emit_fn emit,
                     void *emit_ctx)
{
        const char *first = hearth_hash_get(b, a->days, "first");
        int64_t first_needed = k->day - m->guard_days - m->baseline_days;
        baseline_t base;

        if (slot->alerted || !first ||
            strtoll(first, NULL, 10) > first_needed)
                return;
        base = read_baseline(m, b, a->days, k->day);
        if (!c2_exceeds(m, &base, slot->count))
                return;
        slot->alerted = true;
        write_slot(m, b, a->days, slot);
        emit_alert(m, b, e, k, a, &base, slot->count, emit, emit_ctx);
}

static void hs_apply(void *self, hearth_batch_t *b, const hearth_event_t *e,
                     hearth_emit_fn emit, void *emit_ctx)
{
        hotspot_t *m = self;
        event_keys_t k;

        if (!keys_for(m, e, b, &k))
                return;
        for (size_t i = 0; i < k.n_areas; i++) {
                day_slot_t slot;

                if (!count_incident(m, b, e, &k, &k.areas[i], &slot) ||
                    e->late)
                        continue;
                evaluate(m, b, e, &k, &k.areas[i], &slot, emit, emit_ctx);
        }
}

const hearth_model_ops_t hearth_model_hotspot = {
        .name = "hotspot",
        .create = hs_create,
        .plan = hs_plan,
        .apply = hs_apply,
        .destroy = hs_destroy,
};
