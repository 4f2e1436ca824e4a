#!/usr/bin/env python3
"""Expected values and checks for the fault tests (run.sh). Each check
prints what it compared and exits non-zero on a mismatch.

  faults.py expect-state SOURCE CSV     JSON: records, and the household
                                        incidents the repeat-calls state
                                        must contain
  faults.py ids ORACLE_JSONL DUMP...    the alert ids of the dumps equal the
                                        oracle's, with the same counts;
                                        duplicates are reported, not failed
  faults.py late-input CSV KEY LATENESS_MS
                                        write a small Milwaukee-format file
                                        with late and clock-skewed events;
                                        print its expected alerts and late
                                        count as JSON
  faults.py stats STATS_JSON EXPECTED_JSON
                                        the engine's final counters equal
                                        the expected ones
  faults.py metrics METRICS_FILE NAME=VALUE...
                                        metric values (without the
                                        hearth_engine_ prefix and _total
                                        suffix); "lag" is the largest
                                        consumer lag
  faults.py chunks SOURCE CSV DIR N     write the records in event-time
                                        order as N CSV files DIR/chunk.K

The people and addresses of late-input are invented.
"""
import collections
import csv
import json
import os
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import oracle  # noqa: E402  (tests/integration/oracle.py)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def expect_state(source, path):
    """Print the record count and the number of (household, incident)
    members the repeat-calls sorted sets must contain: each domestic
    incident with a household counts once, for its first household."""
    src = oracle.SOURCES[source]
    records = 0
    incidents = set()
    for _, row in oracle.read_rows(path):
        records += 1
        if src["domestic"](row) and oracle.household(src, row) is not None:
            incidents.add(row[src["id"]].strip())
    json.dump({"records": records, "household_incidents": len(incidents)},
              sys.stdout)
    print()
    return 0


def ids(oracle_path, dumps):
    want = {a["alert_id"]: a for a in read_jsonl(oracle_path)}
    delivered = collections.Counter()
    got = {}
    for path in dumps:
        for a in read_jsonl(path):
            delivered[a["alert_id"]] += 1
            got[a["alert_id"]] = a
    missing = sorted(set(want) - set(got))
    unexpected = sorted(set(got) - set(want))
    wrong_count = sorted(i for i in set(want) & set(got)
                         if want[i]["count"] != got[i]["count"])
    duplicates = sum(n - 1 for n in delivered.values())
    print("ids: oracle %d, delivered %d distinct, %d duplicates, %d missing, "
          "%d unexpected, %d with another count"
          % (len(want), len(got), duplicates, len(missing), len(unexpected),
             len(wrong_count)))
    for i in missing[:5]:
        print("  missing", json.dumps(want[i]))
    for i in unexpected[:5]:
        a = got[i]
        print("  unexpected", i, a["model"], a["trigger_incident_id"],
              a["priority"], a["count"])
    for i in wrong_count[:5]:
        print("  count %s: oracle %d, delivered %d"
              % (i, want[i]["count"], got[i]["count"]))
    return 0 if want and not missing and not unexpected and not wrong_count \
        else 1


# Rows of the late-input file: (address, local time, nature). All are in
# one district, so they share one input partition and arrive in file order.
LATE_ROWS = [
    ("100 N INVENTED ST", "2018-04-01 10:00:00", "BATTERY DV"),
    ("100 N INVENTED ST", "2018-04-01 11:00:00", "BATTERY DV"),
    # The newest event so far: the watermark moves to 04-10 10:00.
    ("200 S MADEUP AV", "2018-04-10 10:00:00", "BATTERY DV"),
    # Nine days behind the watermark: late, counted, no alert.
    ("300 W FICTION ST", "2018-04-01 12:00:00", "BATTERY DV"),
    ("300 W FICTION ST", "2018-04-01 13:00:00", "BATTERY DV"),
    ("400 E PRETEND AV", "2018-04-01 14:00:00", "SUBJ WITH WEAPON-DV"),
    # Within the lateness: these alert.
    ("500 N IMAGINED ST", "2018-04-10 09:30:00", "BATTERY DV"),
    ("500 N IMAGINED ST", "2018-04-10 09:45:00", "BATTERY DV"),
    # A reporting clock one day ahead moves the watermark to 04-11 10:00.
    ("600 S NOTREAL AV", "2018-04-11 10:00:00", "BATTERY DV"),
    # Correct clocks behind the skewed one: late by almost a day.
    ("700 W UNREAL ST", "2018-04-10 10:30:00", "SUBJ WITH WEAPON-DV"),
    # Within the lateness of the skewed watermark. The late event above is
    # in the household's state, so this one counts 2 incidents.
    ("700 W UNREAL ST", "2018-04-11 09:30:00", "SUBJ WITH WEAPON-DV"),
    # The two late incidents of 04-01 count in the 30-day window: 3.
    ("300 W FICTION ST", "2018-04-11 09:45:00", "BATTERY DV"),
]
LATE_FIRST_ID = 990001
LATE_DISTRICT = "7"


def late_alerts(lateness_ms, key):
    """Apply the engine's documented rules to LATE_ROWS in arrival order:
    an event more than the allowed lateness behind the largest event time
    seen is late. A late event updates the repeat-calls state but raises
    no alert, and the hotspot model is off in this test."""
    src = oracle.SOURCES["milwaukee"]
    zone = ZoneInfo(src["zone"])
    hour = 3600 * 1000
    rules = [(72 * hour, 2, 3), (30 * 24 * hour, 3, 2)]
    watermark = None
    late = 0
    seen = {}
    last_alert = {}
    alerts = []
    for i, (address, local, nature) in enumerate(LATE_ROWS):
        incident = str(LATE_FIRST_ID + i)
        t = int(datetime.strptime(local, "%Y-%m-%d %H:%M:%S")
                .replace(tzinfo=zone).timestamp() * 1000)
        is_late = watermark is not None and t < watermark - lateness_ms
        watermark = t if watermark is None else max(watermark, t)
        late += is_late
        home = seen.setdefault(address, {})
        home[incident] = t
        if is_late:
            continue
        if "WEAPON" in nature:
            alerts.append({"model": "special_circumstances",
                           "trigger_incident_id": incident, "priority": 1,
                           "count": 1, "subject": (None, "i:" + incident)})
        best = None
        for window, threshold, priority in rules:
            n = sum(1 for s in home.values() if t - window < s <= t)
            if n >= threshold and (best is None or priority < best[2]):
                best = (window, n, priority)
        if best is None:
            continue
        window, n, priority = best
        if any((address, p) in last_alert
               and abs(t - last_alert[(address, p)]) < window
               for p in range(1, priority + 1)):
            continue
        last_alert[(address, priority)] = t
        alerts.append({"model": "repeat_calls",
                       "trigger_incident_id": incident, "priority": priority,
                       "count": n, "subject": ("addr", address)})
    for a in alerts:
        subject = a.pop("subject")
        a["alert_id"] = oracle.alert_id(
            a, oracle.subject_key(subject, key, "k1"))
    return alerts, late


def late_input(path, key_path, lateness_ms):
    with open(path, "w", newline="") as f:
        f.write("id,time,location,latitude,longitude,district,nature,"
                "status\r\n")
        for i, (address, local, nature) in enumerate(LATE_ROWS):
            f.write('%d,%s,"%s,MKE",,,%s,%s,Advised\r\n'
                    % (LATE_FIRST_ID + i, local, address, LATE_DISTRICT,
                       nature))
    alerts, late = late_alerts(int(lateness_ms),
                               oracle.read_key(key_path))
    json.dump({"events": len(LATE_ROWS), "late": late, "alerts": alerts},
              sys.stdout)
    print()
    return 0


def stats(stats_path, expected_json):
    got = json.load(open(stats_path))
    want = json.loads(expected_json)
    diff = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    print("stats: want %s, got %s" % (want, {k: got.get(k) for k in want}))
    return 1 if diff else 0


def metrics(path, pairs):
    values = {}
    lags = []
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("hearth_engine_consumer_lag{"):
            lags.append(float(value))
        values[name] = float(value)
    got = {"lag": max(lags) if lags else None}
    for pair in pairs:
        key = pair.split("=", 1)[0]
        if key != "lag":
            got[key] = values.get("hearth_engine_%s_total" % key)
    want = {k: float(v) for k, v in (p.split("=", 1) for p in pairs)}
    got = {k: got[k] for k in want}
    print("metrics: want %s, got %s" % (want, got))
    return 0 if got == want else 1


def chunks(source, path, out_dir, n):
    """Split the records into n files in the oracle's event-time order,
    (time, record number), so that producing the files one after another
    with --order file sends the same stream as one event-time load."""
    src = oracle.SOURCES[source]
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    names = [dict(zip(header, row)) for row in rows]
    order = sorted(range(len(rows)),
                   key=lambda i: (oracle.event_time_ms(src, names[i]), i))
    n = int(n)
    size = (len(rows) + n - 1) // n
    for k in range(n):
        with open(os.path.join(out_dir, "chunk.%d" % (k + 1)), "w",
                  newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(header)
            for i in order[k * size:(k + 1) * size]:
                writer.writerow(rows[i])
    print("chunks: %d records in %d files of up to %d" % (len(rows), n, size))
    return 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "expect-state":
        return expect_state(*args)
    if cmd == "ids":
        return ids(args[0], args[1:])
    if cmd == "late-input":
        return late_input(*args)
    if cmd == "stats":
        return stats(*args)
    if cmd == "metrics":
        return metrics(args[0], args[1:])
    if cmd == "chunks":
        return chunks(*args)
    print("faults.py: unknown command %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
