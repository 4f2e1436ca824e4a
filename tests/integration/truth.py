#!/usr/bin/env python3
"""Score engine alerts against the truth file of hearth-gen.

Usage: truth.py TRUTH.jsonl ALERTS.jsonl [--json OUT]

ALERTS is JSON Lines as `hearth-admin dump --type alert` prints them
(fields model, priority "P1".."P4", subject_key, trigger_incident_id,
event_time_ms, alert_id). The engine prefixes subject keys ("a:" for an
address, "i:" for an incident, "d:" for a district, "g:<district>/" for a
grid), and the truth contains the bare key, so a subject matches when the
emitted key equals the truth's or ends with ":" or "/" and the truth's.

Exit status 1 when an expected alert marked "must" has no emitted alert of
its model, subject and priority, or when a control subject got an alert of
its model; 2 for unreadable input.
"""
import argparse
import json
import statistics
import sys


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def priority_of(value):
    """Return 1-4 from "P1".."P4" or an integer."""
    if isinstance(value, str) and value.startswith("P"):
        return int(value[1:])
    return int(value)


def subject_matches(emitted, expected):
    return (emitted == expected or emitted.endswith(":" + expected)
            or emitted.endswith("/" + expected))


def unique_alerts(alerts):
    """Drop repeats of one alert_id, which a replay of the outbox gives."""
    seen, out = set(), []
    for a in alerts:
        key = a.get("alert_id") or id(a)
        if key in seen:
            continue
        seen.add(key)
        out.append(a)
    return out


def match(expected, alerts):
    """Return, per expected alert, the index of its emitted alert or None.

    Candidates share model, subject and priority; the one with the same
    trigger incident wins, then the earliest. An emitted alert matches at
    most one expected alert.
    """
    used = set()
    result = []
    for e in expected:
        candidates = [
            i for i, a in enumerate(alerts)
            if i not in used and a.get("model") == e["model"]
            and priority_of(a.get("priority", 0)) == e["priority"]
            and subject_matches(a.get("subject_key", ""), e["subject_key"])
        ]
        candidates.sort(key=lambda i: (
            alerts[i].get("trigger_incident_id")
            != e.get("trigger_incident_id"),
            alerts[i].get("event_time_ms", 0)))
        if candidates:
            used.add(candidates[0])
            result.append(candidates[0])
        else:
            result.append(None)
    return result


def score(truth, alerts):
    expected = [t for t in truth if t.get("kind") == "alert"]
    controls = [t for t in truth if t.get("kind") == "control"]
    alerts = unique_alerts(alerts)
    matched = match(expected, alerts)
    models = sorted({e["model"] for e in expected}
                    | {a.get("model", "") for a in alerts})
    per_model = {}
    for model in models:
        exp = [i for i, e in enumerate(expected) if e["model"] == model]
        hits = [i for i in exp if matched[i] is not None]
        emitted = [i for i, a in enumerate(alerts) if a.get("model") == model]
        used = {matched[i] for i in hits}
        delays = [(alerts[matched[i]].get("event_time_ms", 0)
                   - expected[i]["complete_ms"]) / 60000.0 for i in hits]
        per_model[model] = {
            "expected": len(exp),
            "matched": len(hits),
            "recall": len(hits) / len(exp) if exp else None,
            "emitted": len(emitted),
            "precision": (len([i for i in emitted if i in used])
                          / len(emitted) if emitted else None),
            "median_delay_min": (statistics.median(delays)
                                 if delays else None),
            "outside_patterns": len([i for i in emitted if i not in used]),
        }
    failures = []
    for i, e in enumerate(expected):
        if e.get("must") and matched[i] is None:
            failures.append("missing %s P%d %s %s (pattern %s #%s)" % (
                e["model"], e["priority"], e["subject_kind"],
                e["subject_key"], e.get("pattern"), e.get("instance")))
    for c in controls:
        for a in alerts:
            if a.get("model") == c["model"] and subject_matches(
                    a.get("subject_key", ""), c["subject_key"]):
                failures.append("control %s got a %s alert (pattern %s #%s)"
                                % (c["subject_key"], c["model"],
                                   c.get("pattern"), c.get("instance")))
    return {"models": per_model, "failures": failures}


def print_report(report):
    print("%-22s %8s %8s %7s %8s %9s %10s %8s" % (
        "model", "expected", "matched", "recall", "emitted", "precision",
        "delay_min", "outside"))
    for model, m in report["models"].items():
        def fmt(v, spec):
            return "-" if v is None else spec % v
        print("%-22s %8d %8d %7s %8d %9s %10s %8d" % (
            model, m["expected"], m["matched"], fmt(m["recall"], "%.2f"),
            m["emitted"], fmt(m["precision"], "%.2f"),
            fmt(m["median_delay_min"], "%.1f"), m["outside_patterns"]))
    for f in report["failures"]:
        print("FAIL " + f)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("truth")
    parser.add_argument("alerts")
    parser.add_argument("--json", metavar="OUT",
                        help="also write the report as JSON to OUT")
    args = parser.parse_args(argv)
    try:
        report = score(read_jsonl(args.truth), read_jsonl(args.alerts))
    except (OSError, ValueError, KeyError) as e:
        print("truth.py: cannot read input: %s" % e, file=sys.stderr)
        return 2
    print_report(report)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
