#!/usr/bin/env python3
"""Checks for the integration tests; each prints what it compared and exits
non-zero on a mismatch.

  check.py make-bad-input FILE        write a Milwaukee-format file with
                                      known good and bad records
  check.py connector SUMMARY DUMP DLQ_DUMP EXPECTED_JSON
  check.py alerts ORACLE_JSONL DUMP... compare (model, trigger, priority,
                                      count)
  check.py same-ids DUMP_A DUMP_B     equal sets of alert ids
  check.py audit ALERTS AUDIT METRICS EVENTS
                                      audit log and metrics of a run
  check.py no-secrets FILE SECRET...  none of the strings appear in FILE
"""
import base64
import collections
import json
import sys

HEADER = "id,time,location,latitude,longitude,district,nature,status\r\n"


def make_bad_input(path):
    good = [
        '900001,2018-05-02 10:00:00,"100 N INVENTED ST,MKE",43.05,-87.95,2,'
        'BATTERY DV,Advised\r\n',
        '900002,2018-05-02 11:00:00,"100 N INVENTED ST,MKE",43.05,-87.95,2,'
        'TRBL W/SUBJ-DV,Advised\r\n',
        # Coordinates far outside the city: kept, coordinates dropped.
        '900003,2018-05-02 12:00:00,"200 S MADEUP AV,MKE",47.37,-115.38,3,'
        'TRAFFIC STOP,Advised\r\n',
        # Quoted field with a comma, a doubled quote and a newline.
        '900004,2018-05-02 13:00:00,"300 W ""FICTION"" ST,\nMKE",,,4,'
        'FAMILY TROUBLE,Advised\r\n',
    ]
    bad = [
        ('900101,2018-13-45 99:00:00,"1 A ST,MKE",,,1,BATTERY DV,Advised\r\n',
         "invalid_time"),
        (',2018-05-02 14:00:00,"1 A ST,MKE",,,1,BATTERY DV,Advised\r\n',
         "missing_incident_id"),
        ('900103,2018-05-02 15:00:00,"1 A ST,MKE",,,1,BATTERY DV\r\n',
         "wrong_column_count"),
        ('900104,2018-05-02 16:00:00,"1 A \xff ST,MKE",,,1,BATTERY DV,'
         'Advised\r\n', "invalid_utf8"),
        ('900105,2018-05-02 17:00:00,"' + "X" * 20000 + '",,,1,BATTERY DV,'
         'Advised\r\n', "field_too_long"),
    ]
    with open(path, "wb") as f:
        f.write(HEADER.encode())
        for i, line in enumerate(good):
            f.write(line.encode("latin-1"))
            if i < len(bad):
                f.write(bad[i][0].encode("latin-1"))
        for line, _ in bad[len(good):]:
            f.write(line.encode("latin-1"))
        # An unterminated quote runs to the end of the input.
        f.write(b'900106,2018-05-02 18:00:00,"unterminated,,,1,BATTERY DV\r\n')
    reasons = collections.Counter(r for _, r in bad)
    reasons["unterminated_quote"] += 1
    expected = {"records": len(good) + len(bad) + 1, "delivered": len(good),
                "domestic": 3, "rejected_by_reason": dict(reasons)}
    json.dump(expected, sys.stdout)
    print()


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def connector(summary_path, dump_path, dlq_path, expected_json):
    expected = json.loads(expected_json)
    summary = json.load(open(summary_path))
    events = read_jsonl(dump_path)
    dlq = read_jsonl(dlq_path)
    domestic = sum(1 for e in events if e.get("is_domestic"))
    got = {
        "records": summary["records_read"],
        "delivered": len(events),
        "domestic": domestic,
        "rejected": len(dlq),
    }
    want = {
        "records": expected["records"],
        "delivered": expected["delivered"],
        "domestic": expected["domestic"],
        "rejected": sum(expected.get("rejected_by_reason", {}).values()),
    }
    ok = got == want
    if "rejected_by_reason" in expected:
        reasons = dict(collections.Counter(
            json.loads(d["value"])["reason"] if "value" in d else d["reason"]
            for d in dlq))
        ok = ok and reasons == expected["rejected_by_reason"]
        got["rejected_by_reason"] = reasons
        want["rejected_by_reason"] = expected["rejected_by_reason"]
    print("connector: got %s, want %s" % (got, want))
    return 0 if ok else 1


def alert_tuples(paths):
    tuples = collections.Counter()
    ids = collections.Counter()
    for path in paths:
        for a in read_jsonl(path):
            if a["alert_id"] in ids:
                ids[a["alert_id"]] += 1
                continue
            ids[a["alert_id"]] += 1
            priority = a["priority"]
            if isinstance(priority, str):
                priority = int(priority.lstrip("P"))
            tuples[(a["model"], a["trigger_incident_id"], priority,
                    a["count"])] += 1
    return tuples, ids


def alerts(oracle_path, dumps):
    want = collections.Counter(
        (a["model"], a["trigger_incident_id"], a["priority"], a["count"])
        for a in read_jsonl(oracle_path))
    got, ids = alert_tuples(dumps)
    missing = want - got
    extra = got - want
    dups = sum(n - 1 for n in ids.values())
    print("alerts: oracle %d, engine %d distinct ids, %d duplicates, "
          "%d missing, %d unexpected" % (sum(want.values()), len(ids), dups,
                                         sum(missing.values()),
                                         sum(extra.values())))
    for t in list(missing)[:5]:
        print("  missing", t)
    for t in list(extra)[:5]:
        print("  unexpected", t)
    return 0 if not missing and not extra else 1


def same_ids(path_a, path_b):
    a = collections.Counter(x["alert_id"] for x in read_jsonl(path_a))
    b = collections.Counter(x["alert_id"] for x in read_jsonl(path_b))
    print("same-ids: %d and %d distinct ids, %d duplicates in the second, "
          "%d only in the first, %d only in the second"
          % (len(a), len(b), sum(n - 1 for n in b.values()),
             len(set(a) - set(b)), len(set(b) - set(a))))
    return 0 if set(a) == set(b) and a else 1


def audit(alerts_path, audit_path, metrics_path, events):
    """Checks that the audit log lists every published alert once, without
    subject keys or incident ids. The metrics file must count the run's
    events and alerts and show no lag once the input is consumed."""
    alerts = read_jsonl(alerts_path)
    records = read_jsonl(audit_path)
    ids = {a["alert_id"] for a in alerts}
    audited = [r["alert_id"] for r in records]
    text = open(audit_path).read()
    leaked = [a["alert_id"] for a in alerts
              if a["subject_key"] in text
              or any(i in text.split('"') for i in a["incident_ids"])]
    metrics = {}
    for line in open(metrics_path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        metrics[name] = float(value)
    alert_total = sum(v for k, v in metrics.items()
                      if k.startswith("hearth_engine_alerts_total{"))
    lag = [v for k, v in metrics.items()
           if k.startswith("hearth_engine_consumer_lag{")]
    print("audit: %d records for %d alert ids, %d leaks; metrics: %d events,"
          " %d alerts, lag %s" % (len(audited), len(ids), len(leaked),
                                  metrics.get("hearth_engine_events_total",
                                              -1), alert_total, lag))
    ok = (sorted(audited) == sorted(ids) and not leaked
          and metrics.get("hearth_engine_events_total") == float(events)
          and alert_total == len(ids) and lag and max(lag) == 0)
    return 0 if ok else 1


def no_secrets(path, secrets):
    """Fails when a secret occurs in the file, or in a base64 "key" or
    "value" of its JSON lines (hearth-admin dump --type raw)."""
    data = open(path, "rb").read()
    for line in data.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        for field in ("key", "value"):
            if isinstance(doc, dict) and isinstance(doc.get(field), str):
                try:
                    data += b"\n" + base64.b64decode(doc[field])
                except ValueError:
                    pass
    found = [s for s in secrets if s.encode() in data]
    print("no-secrets: %d of %d strings found in %s"
          % (len(found), len(secrets), path))
    return 1 if found else 0


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "make-bad-input":
        return make_bad_input(args[0]) or 0
    if cmd == "connector":
        return connector(*args)
    if cmd == "alerts":
        return alerts(args[0], args[1:])
    if cmd == "same-ids":
        return same_ids(*args)
    if cmd == "audit":
        return audit(*args)
    if cmd == "no-secrets":
        return no_secrets(args[0], args[1:])
    print("unknown check %s" % cmd, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
