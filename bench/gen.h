/*
 * Seeded generator of invented Chinese 110 domestic-violence call logs in
 * the layout of connectors/profiles/cn_110.json, with the alerts that the
 * injected patterns should raise (the ground truth).
 *
 * Background incidents arrive as a Poisson process per district, with a
 * daily and a weekly cycle, each on a fresh household with fresh persons,
 * a narrative without risk keywords and no warning, so that only the
 * hotspot model can fire on them. Patterns (repeat calls, repeat
 * dispositions, special circumstances, repeat offenders, protection
 * orders, overdue follow-ups and dispatches, hotspot surges) are injected
 * on their own households and persons. The CSV is written in call-time
 * order while it is generated, so memory stays bounded by one day of
 * calls, the injected rows and the rows held back as late.
 *
 * Every person, ID number, phone number and address is invented: district
 * codes are 3301 followed by 51 and up, which GB/T 2260 does not assign,
 * and ID numbers carry those codes.
 */
#ifndef HEARTH_GEN_H
#define HEARTH_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "connectors/pseudo.h"

#define HEARTH_GEN_MAX_DISTRICTS 40
#define HEARTH_GEN_MAX_GRIDS 99

typedef struct hearth_gen_options {
        uint64_t seed;
        int start_year, start_month, start_day; /* Asia/Shanghai date */
        int days;
        int districts;
        int grids_per_district;
        double calls_per_day;           /* domestic calls, all districts */
        double late_fraction;           /* of background rows, 0 to 1 */
        double duplicate_fraction;      /* of background rows, 0 to 1 */
        bool patterns;                  /* false: background only */
        int pattern_scale;              /* instances of each pattern */
} hearth_gen_options_t;

typedef struct hearth_gen_summary {
        uint64_t rows;                  /* data records, copies included */
        uint64_t background_incidents;
        uint64_t pattern_incidents;
        uint64_t expected_alerts;
        uint64_t controls;
        uint64_t late_rows;
        uint64_t duplicate_rows;
        uint64_t skipped_patterns;      /* did not fit in --days */
} hearth_gen_summary_t;

/* Sets the defaults: seed 1, 2024-01-01, 365 days, 8 districts, ... */
void hearth_gen_options_init(hearth_gen_options_t *o);

/* Returns -1 and fills errstr naming the option when o is invalid. */
int hearth_gen_options_check(const hearth_gen_options_t *o, char *errstr,
                             size_t errstr_size);

/*
 * Writes the CSV to csv and, when truth is not NULL, the expected alerts
 * as JSON Lines to truth; pseudo (borrowed) computes their subject keys
 * and must be set when truth is. Returns 0, or -1 with errstr filled when
 * the options are invalid or a write fails.
 */
int hearth_gen_write(const hearth_gen_options_t *o,
                     const hearth_pseudo_t *pseudo, FILE *csv, FILE *truth,
                     hearth_gen_summary_t *summary, char *errstr,
                     size_t errstr_size);

/*
 * Returns the check character of an 18-character resident ID number
 * (GB 11643-1999, ISO 7064 MOD 11-2) from its first 17 digits.
 */
char hearth_gen_id_check_char(const char *first17);

#endif
