#!/usr/bin/env python3
"""Summarize one latency run of bench/run.sh as JSON on standard output.

Usage: latency.py --rate R --produce FILE --engine FILE [--batch-wait-ms MS]
                  TIMES.tsv

TIMES.tsv is the output of `hearth-bench alert-times`: per alert, the
arrival wall clock, the Kafka timestamp, emitted_at_ms and
trigger_ingest_time_ms (UTC ms), the priority and the model. Three
latencies are measured from trigger_ingest_time_ms, the wall clock at
which hearth-bench produce sent the triggering event:

  engine        to emitted_at_ms, when the engine decided on the alert
  produce_call  to the alert's Kafka timestamp (CreateTime), when the
                engine handed the alert to its producer, after the Redis
                transaction
  arrival       to the moment a consumer of the alert topics received it

Alerts of timers (trigger_ingest_time_ms 0) are left out and counted.
Alerts triggered in the first --warmup-s seconds after the first trigger
are left out of the main figures, because a newly started engine lags
for its first seconds. The field "all" gives the figures with them. Percentiles use
the nearest-rank method.
"""
import argparse
import json
import math
import sys


def percentile(sorted_values, p):
    """Return the nearest-rank p-th percentile (0 < p <= 100)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(values):
    values = sorted(values)
    if not values:
        return {"samples": 0}
    return {
        "samples": len(values),
        "p50_ms": percentile(values, 50),
        "p90_ms": percentile(values, 90),
        "p99_ms": percentile(values, 99),
        "p99_9_ms": percentile(values, 99.9),
        "max_ms": values[-1],
        "mean_ms": sum(values) / len(values),
    }


def read_times(path):
    """Return the rows (received, kafka_ts, emitted, ingest) of the alerts
    with a trigger, and the number of timer alerts."""
    rows, timers = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split("\t")
            if len(fields) < 6:
                continue
            row = tuple(map(int, fields[:4]))
            if row[3] <= 0:
                timers += 1
            else:
                rows.append(row)
    return rows, timers


def latencies(rows):
    return {
        "engine": summarize([r[2] - r[3] for r in rows]),
        "produce_call": summarize([r[1] - r[3] for r in rows if r[1] >= 0]),
        "arrival": summarize([r[0] - r[3] for r in rows]),
    }


def tenth_p50(rows, tenth):
    """Return the engine p50 of the given tenth (0-9) of the rows in
    trigger order, to show whether the engine fell behind."""
    rows = sorted(rows, key=lambda r: r[3])
    part = rows[len(rows) * tenth // 10:len(rows) * (tenth + 1) // 10]
    return percentile(sorted(r[2] - r[3] for r in part), 50)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, required=True,
                        help="offered rate, events/s")
    parser.add_argument("--batch-wait-ms", type=int,
                        help="engine.batch_max_wait_ms of the engine")
    parser.add_argument("--produce", required=True,
                        help="JSON of hearth-bench produce --json")
    parser.add_argument("--engine", required=True,
                        help="JSON of hearth-engine --stats-json")
    parser.add_argument("--households", type=int,
                        help="households the events were spread over")
    parser.add_argument("--warmup-s", type=float, default=0,
                        help="seconds of triggers left out at the start")
    parser.add_argument("times", help="output of hearth-bench alert-times")
    args = parser.parse_args(argv)

    rows, timers = read_times(args.times)
    start = min((r[3] for r in rows), default=0)
    steady = [r for r in rows if r[3] >= start + args.warmup_s * 1000]
    with open(args.produce, encoding="utf-8") as f:
        produce = json.load(f)
    with open(args.engine, encoding="utf-8") as f:
        stats = json.load(f)
    doc = {
        "offered_rate": args.rate,
        "achieved_rate": produce["events_per_s"],
        "events": produce["events"],
        "max_behind_schedule_ms": produce.get("max_behind_schedule_ms"),
        "batch_max_wait_ms": args.batch_wait_ms,
        "households": args.households,
        "engine_alerts": stats["alerts"],
        "engine_batches": stats["batches"],
        "engine_cpu_s": stats["cpu_s"],
        "alerts_read": len(rows) + timers,
        "timer_alerts_left_out": timers,
        "warmup_s": args.warmup_s,
        "warmup_alerts_left_out": len(rows) - len(steady),
        "all": latencies(rows),
        "engine_p50_first_tenth_ms": tenth_p50(steady, 0),
        "engine_p50_last_tenth_ms": tenth_p50(steady, 9),
        "times_file": args.times,
    }
    doc.update(latencies(steady))
    json.dump(doc, sys.stdout, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
