/*
 * libFuzzer target for the connector profile loader (connectors/profile.h).
 *
 * The input is the JSON text of a profile. hearth_profile_parse either
 * returns a profile, which is then freed, or returns NULL with a message in
 * errstr. LeakSanitizer, on by default under libFuzzer, reports memory that
 * an error path does not free.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char errstr[256];
        hearth_profile_t *p;

        errstr[0] = '\0';
        p = hearth_profile_parse((const char *)data, size, errstr,
                                 sizeof(errstr));
        if (!p && errstr[0] == '\0') {
                fprintf(stderr, "fuzz_profile: NULL profile without an "
                                "error message\n");
                abort();
        }
        hearth_profile_free(p);
        return 0;
}
