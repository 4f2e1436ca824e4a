/*
 * Writes the seed corpus of the incident fuzz target: packed IncidentEvent
 * messages with invented values, one file each, into the directory given
 * as the only argument. Run it again after changing the schema, with the
 * command in the README beside this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hearth/v1/incident.pb-c.h"

static int write_seed(const char *dir, const char *name,
                      const Hearth__V1__IncidentEvent *ev)
{
        size_t len = hearth__v1__incident_event__get_packed_size(ev);
        unsigned char *buf = malloc(len ? len : 1);
        char path[4096];
        FILE *fp;
        int rc = 0;

        hearth__v1__incident_event__pack(ev, buf);
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        fp = fopen(path, "wb");
        if (!fp || fwrite(buf, 1, len, fp) != len) {
                fprintf(stderr, "make_incident_seeds: cannot write %s\n",
                        path);
                rc = -1;
        }
        if (fp && fclose(fp) != 0)
                rc = -1;
        free(buf);
        return rc;
}

int main(int argc, char **argv)
{
        Hearth__V1__IncidentEvent ev = HEARTH__V1__INCIDENT_EVENT__INIT;
        Hearth__V1__Category category = HEARTH__V1__CATEGORY__INIT;
        Hearth__V1__RiskFlags risk = HEARTH__V1__RISK_FLAGS__INIT;
        Hearth__V1__Source source = HEARTH__V1__SOURCE__INIT;
        Hearth__V1__Party victim = HEARTH__V1__PARTY__INIT;
        Hearth__V1__Party suspect = HEARTH__V1__PARTY__INIT;
        Hearth__V1__Party *parties[2] = {&victim, &suspect};
        char long_key[100];
        int rc = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: make_incident_seeds DIRECTORY\n");
                return 2;
        }

        /* A domestic call with an address key: the household subject. */
        ev.incident_id = "FZ-2024-000001";
        ev.event_type = HEARTH__V1__EVENT_TYPE__CALL_RECEIVED;
        ev.event_time_ms = 1718000000000;
        ev.ingest_time_ms = 1718000005000;
        ev.province_code = "99";
        ev.city_code = "9901";
        ev.district_code = "990101";
        ev.address_key = "k1:AAAAAAAAAAAAAAAAAAAAAA";
        ev.is_domestic = 1;
        category.code = "DV";
        category.text = "DOMESTIC DISTURBANCE";
        ev.category = &category;
        source.profile = "fuzz_seed";
        source.record_number = 1;
        source.file = "seed.csv";
        ev.source = &source;
        rc |= write_seed(argv[1], "address_key.pb", &ev);

        /* No address: the caller key and coordinates. */
        ev.incident_id = "FZ-2024-000002";
        ev.address_key = "";
        ev.caller_key = "k1:BBBBBBBBBBBBBBBBBBBBBB";
        ev.lat = 10.5;
        ev.lon = -20.25;
        ev.has_coordinates = 1;
        risk.weapon = 1;
        risk.threat_to_kill = 1;
        ev.risk = &risk;
        ev.disposition = HEARTH__V1__DISPOSITION__WARNED;
        rc |= write_seed(argv[1], "caller_key.pb", &ev);

        /* Neither: the first victim's person key. */
        ev.incident_id = "FZ-2024-000003";
        ev.event_type = HEARTH__V1__EVENT_TYPE__DISPOSED;
        ev.caller_key = "";
        victim.role = HEARTH__V1__PARTY_ROLE__VICTIM;
        victim.person_key = "k1:CCCCCCCCCCCCCCCCCCCCCC";
        victim.age_band = HEARTH__V1__AGE_BAND__AGE_30_44;
        victim.sex = HEARTH__V1__SEX__FEMALE;
        suspect.role = HEARTH__V1__PARTY_ROLE__SUSPECT;
        suspect.person_key = "k1:DDDDDDDDDDDDDDDDDDDDDD";
        ev.parties = parties;
        ev.n_parties = 2;
        rc |= write_seed(argv[1], "victim_key.pb", &ev);

        /* An address key of the longest length the engine accepts. */
        memset(long_key, 'E', sizeof(long_key));
        long_key[88] = '\0';
        ev.incident_id = "FZ-2024-000004";
        ev.address_key = long_key;
        ev.n_parties = 0;
        rc |= write_seed(argv[1], "long_address_key.pb", &ev);

        /* Rejected by the engine: no event time. */
        ev.incident_id = "FZ-2024-000005";
        ev.event_time_ms = 0;
        rc |= write_seed(argv[1], "no_event_time.pb", &ev);

        return rc ? 1 : 0;
}
