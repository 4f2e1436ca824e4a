/*
 * libFuzzer target for the connector's record path: CSV input through
 * hearth_source (header binding included) and hearth_mapper, with a fixed
 * profile and pseudonymization key.
 *
 * The profile is read once at startup from HEARTH_FUZZ_PROFILE, or else
 * from the path compiled in by the Makefile (connectors/profiles/
 * milwaukee_mpd.json). Binding a header changes the profile, so each input
 * gets a fresh profile parsed from that text. Every event the mapper packs
 * must unpack again as an IncidentEvent, or the target aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "connectors/mapper.h"
#include "connectors/pseudo.h"
#include "connectors/source.h"
#include "hearth/v1/incident.pb-c.h"

#ifndef HEARTH_FUZZ_PROFILE
#define HEARTH_FUZZ_PROFILE "connectors/profiles/milwaukee_mpd.json"
#endif

/* An invented key, used only by this target. */
static const unsigned char fuzz_key[32] = "fuzz-mapper-key-0123456789abcdef";

static char *profile_text;
static size_t profile_len;
static hearth_pseudo_t *pseudo;

static _Noreturn void die(const char *context, const char *detail)
{
        fprintf(stderr, "fuzz_mapper: %s: %s\n", context, detail);
        abort();
}

static char *read_file(const char *path, size_t *len)
{
        FILE *fp = fopen(path, "rb");
        char *buf;
        long size;

        if (!fp)
                die("failed to open the profile", path);
        if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 ||
            fseek(fp, 0, SEEK_SET) != 0)
                die("failed to read the profile", path);
        buf = malloc((size_t)size + 1);
        if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size)
                die("failed to read the profile", path);
        buf[size] = '\0';
        fclose(fp);
        *len = (size_t)size;
        return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *path = getenv("HEARTH_FUZZ_PROFILE");
        char errstr[256];
        hearth_profile_t *p;

        (void)argc;
        (void)argv;
        if (!path || !*path)
                path = HEARTH_FUZZ_PROFILE;
        profile_text = read_file(path, &profile_len);
        p = hearth_profile_parse(profile_text, profile_len, errstr,
                                 sizeof(errstr));
        if (!p)
                die("invalid profile", errstr);
        if (p->format != HEARTH_FORMAT_CSV)
                die("the profile must have \"format\": \"csv\"", path);
        hearth_profile_free(p);
        pseudo = hearth_pseudo_new(fuzz_key, sizeof(fuzz_key), "fuzz");
        if (!pseudo)
                die("hearth_pseudo_new failed", "out of memory");
        return 0;
}

/* Aborts unless the packed event decodes and matches its summary fields. */
static void check_event(const hearth_mapped_event_t *e)
{
        Hearth__V1__IncidentEvent *ev = hearth__v1__incident_event__unpack(
                NULL, e->payload_len, e->payload);

        if (!ev)
                die("mapped event", "payload does not unpack");
        if (ev->event_time_ms != e->event_time_ms ||
            (int)ev->event_type != e->event_type ||
            ev->is_domestic != e->domestic ||
            strcmp(ev->district_code, e->key) != 0)
                die("mapped event", "payload differs from its summary");
        if (!ev->incident_id || !*ev->incident_id)
                die("mapped event", "empty incident_id");
        hearth__v1__incident_event__free_unpacked(ev, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char errstr[256];
        hearth_profile_t *p;
        hearth_source_t *src;
        hearth_mapper_t *m;
        hearth_source_record_t rec;
        hearth_source_status_t st;
        FILE *fp;

        p = hearth_profile_parse(profile_text, profile_len, errstr,
                                 sizeof(errstr));
        if (!p)
                die("profile no longer parses", errstr);
        fp = fmemopen((void *)data, size, "r");
        if (!fp)
                die("fmemopen failed", "out of memory");
        /* A missing or unbound header is a normal rejection here. */
        src = hearth_source_open(fp, p, errstr, sizeof(errstr));
        if (!src)
                goto out;
        m = hearth_mapper_new(p, pseudo, "fuzz.csv", errstr, sizeof(errstr));
        if (!m)
                die("hearth_mapper_new failed", errstr);
        while ((st = hearth_source_next(src, &rec)) != HEARTH_SOURCE_EOF) {
                hearth_mapped_event_t out[HEARTH_MAPPER_MAX_EVENTS];
                hearth_map_error_t err;
                int n;

                if (st == HEARTH_SOURCE_IO_ERROR)
                        die("hearth_source_next", "read error on a memory "
                                                  "stream");
                if (st == HEARTH_SOURCE_BAD)
                        continue;
                n = hearth_mapper_map(m, &rec.row, rec.record_number,
                                      1700000000000, out, &err);
                if (n < 0 && !err.reason)
                        die("hearth_mapper_map", "rejected without a reason");
                for (int i = 0; i < n; i++) {
                        check_event(&out[i]);
                        hearth_mapped_event_clear(&out[i]);
                }
        }
        hearth_mapper_free(m);
        hearth_source_close(src);
out:
        fclose(fp);
        hearth_profile_free(p);
        return 0;
}
