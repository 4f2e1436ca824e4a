#!/usr/bin/env python3
"""Combine the parts of one bench/run.sh run into latest.json, latest.md and
the plots under bench/results/.

The throughput figures come from hearth-bench-report (--throughput); every
other part is a JSON file that run.sh or bench/latency.py wrote. A part
whose option is missing is reported as not measured. Plots need gnuplot;
without it the report prints a warning and links none.
"""
import argparse
import collections
import datetime
import json
import os
import shutil
import subprocess
import sys

# Design targets: the minimums and maximums the report compares with.
TARGET_RATIO = 0.5
TARGET_PER_CPU_S = 500000.0
TARGET_P99_MS = 50.0
TARGET_P99_RATE = 1000.0
TARGET_SCALE_OUT = 1.8
# Peak RSS counts as independent of history when ten times the history
# raises it by at most this factor.
RSS_FLAT_MAX_RATIO = 1.25


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def grouped(v):
    return "{:,.0f}".format(v)


def short_by(measured, target, higher_is_better=True):
    """Return how a measurement compares with its target, in words."""
    if measured is None:
        return "not measured"
    if higher_is_better:
        if measured >= target:
            return "reaches the target (%.0f%% of it)" % (100 * measured / target)
        return ("misses it by %.0f%%: %.1f%% of the target, %.1fx short"
                % (100 * (1 - measured / target), 100 * measured / target,
                   target / measured if measured > 0 else float("inf")))
    if measured < target:
        return "reaches the target (%.0f%% of the limit)" % (
            100 * measured / target)
    return "misses it by %.0f%%: %.1fx the limit" % (
        100 * (measured / target - 1), measured / target)


# ---- sections ----

def add_persons(doc, persons):
    active = persons.get("active_s") or persons["elapsed_s"]
    events = persons["messages"]
    doc["persons"] = {
        "events": events,
        "topic_messages": persons["topic_messages"],
        "events_per_s": events / active if active > 0 else None,
        "active_s": active,
        "cpu_s": persons["cpu_s"],
        "events_per_cpu_second": events / persons["cpu_s"]
        if persons["cpu_s"] > 0 else None,
        "redis_cpu_s": persons["redis_cpu_s"],
        "redis_commands_per_event": persons["redis_commands"] / events
        if events else None,
        "alerts": persons["alerts"],
        "alerts_by_priority": persons["alerts_by_priority"],
        "peak_rss_mb": persons["max_rss_kb"] / 1024.0,
    }
    cpu = doc["engine_cpu_s"] + persons["cpu_s"]
    doc["engine_cpu_s_all_stages"] = cpu
    doc["events_per_cpu_second_all_stages"] = doc["events"] / cpu


def add_latency(doc, runs):
    doc["latency"] = {}
    for run in runs:
        name = "fixed" if "latency-fixed" in run["times_file"] else "high"
        doc["latency"][name] = run
    fixed = doc["latency"].get("fixed")
    if fixed and fixed["engine"]["samples"]:
        doc["p50_latency_ms"] = fixed["engine"]["p50_ms"]
        doc["p99_latency_ms"] = fixed["engine"]["p99_ms"]
        doc["p99_9_latency_ms"] = fixed["engine"]["p99_9_ms"]
        doc["p99_end_to_end_latency_ms"] = fixed["arrival"]["p99_ms"]
    else:
        doc["p99_latency_ms"] = None


def add_quality(doc, quality):
    doc["quality"] = {
        model: {
            "recall": m["recall"],
            "precision": m["precision"],
            "median_delay_min": m["median_delay_min"],
            "expected": m["expected"],
            "matched": m["matched"],
            "emitted": m["emitted"],
            "outside_patterns": m["outside_patterns"],
        }
        for model, m in quality["models"].items()
    }
    doc["quality_failures"] = quality["failures"]


# ---- targets ----

def cpu_shares(cpu, seconds):
    return {k: (v / seconds if seconds and v is not None else None)
            for k, v in cpu.items()}


def throughput_reason(doc):
    active = doc.get("engine_active_s") or doc["engine_elapsed_s"]
    shares = cpu_shares({"engine": doc["engine_cpu_s"],
                         "Redis": doc.get("redis_cpu_s"),
                         "Kafka": doc.get("kafka_cpu_s")}, active)
    total = sum(v for v in shares.values() if v)
    parts = ", ".join("%s %.2f" % (k, v) for k, v in shares.items()
                      if v is not None)
    busiest = max(v for v in shares.values() if v is not None)
    if busiest >= 0.8:
        bound = ("Redis executes commands on one thread and the engine's "
                 "batch loop on one, so a figure near 1.0 is a saturated "
                 "process")
    else:
        bound = ("no process kept a core busy, so the run waited on round "
                 "trips (Kafka fetches, Redis load and MULTI/EXEC) more "
                 "than it computed")
    return ("cores busy during the run (CPU-seconds per second): %s; %.2f "
            "of the machine's %d. %s. Redis spent %.1f us of CPU per event, "
            "the engine %.1f us"
            % (parts, total, doc["machine"]["nproc"], bound,
               1e6 * (doc.get("redis_cpu_s") or 0) / doc["events"],
               1e6 * doc["engine_cpu_s"] / doc["events"]))


def latency_reason(run):
    if not run:
        return ""
    e, p, a = run["engine"], run["produce_call"], run["arrival"]
    if not e["samples"]:
        return "no alert with a trigger arrived"
    stages = {
        "the engine's consume, batch and decision": e["p99_ms"],
        "the Redis transaction up to the produce call":
            p["p99_ms"] - e["p99_ms"],
        "Kafka delivery to a consumer": a["p99_ms"] - p["p99_ms"],
    }
    largest = max(stages, key=stages.get)
    return ("p99 from the send of the trigger to: the engine's decision "
            "%d ms, its produce call %d ms, arrival at a consumer %d ms, so "
            "most of it is %s. With the %s s warm-up included the engine "
            "p99 is %d ms. %d batches for %d events "
            "(engine.batch_max_wait_ms=%s)"
            % (e["p99_ms"], p["p99_ms"], a["p99_ms"], largest,
               run["warmup_s"], run["all"]["engine"]["p99_ms"],
               run["engine_batches"], run["events"],
               run["batch_max_wait_ms"]))


def targets(doc):
    out = []

    def add(name, target, measured, text, reason, higher=True):
        standing = short_by(measured, target, higher)
        out.append({"target": name, "limit": target, "measured": measured,
                    "reached": (measured is not None and
                                (measured >= target if higher
                                 else measured < target)),
                    "standing": standing, "text": text,
                    "reason": reason if measured is not None and not (
                        measured >= target if higher else measured < target)
                    else ""})

    add("throughput_ratio", TARGET_RATIO, doc["throughput_ratio"],
        "engine throughput at least 0.5 of the raw consume rate",
        throughput_reason(doc))
    add("events_per_cpu_second", TARGET_PER_CPU_S,
        doc["events_per_cpu_second"],
        "at least 500,000 events per engine CPU-second (incidents stage)",
        "%.2f us of engine CPU per event against a budget of 2 us; "
        "bench/README.md gives the callgrind profile"
        % (1e6 * doc["engine_cpu_s"] / doc["events"]))
    fixed = doc.get("latency", {}).get("fixed")
    p99 = doc.get("p99_latency_ms")
    add("p99_latency_ms", TARGET_P99_MS, p99,
        "p99 event-to-alert latency under 50 ms at %s events/s (engine "
        "side, emitted_at_ms - trigger_ingest_time_ms)"
        % grouped(fixed["offered_rate"] if fixed else TARGET_P99_RATE),
        latency_reason(fixed), higher=False)
    memory = doc.get("memory", {})
    ratio = memory.get("rss_ratio_long_to_short")
    add("rss_ratio_long_to_short", RSS_FLAT_MAX_RATIO, ratio,
        "engine peak RSS independent of history length (at most %.2fx for "
        "%sx the history)" % (RSS_FLAT_MAX_RATIO,
                              memory.get("events_long", 0)
                              // max(memory.get("events_short", 1), 1)),
        "peak RSS %.1f MB over %s events against %.1f MB over %s"
        % (memory.get("peak_rss_mb_long", 0), grouped(memory.get(
            "events_long", 0)), memory.get("peak_rss_mb_short", 0),
           grouped(memory.get("events_short", 0))) if ratio else "",
        higher=False)
    scale = doc.get("scale_out", {})
    add("scale_out_ratio", TARGET_SCALE_OUT, scale.get("scale_out_ratio"),
        "two engine instances on 8 partitions process at least 1.8x what "
        "one does, when cores allow", scale_reason(doc, scale))
    return out


def scale_reason(doc, scale):
    if not scale.get("active_s_two"):
        return ""
    cpu = sum(scale["cpu_s_by_instance"]) + scale["redis_cpu_s_two"] + \
        scale["kafka_cpu_s_two"]
    redis = scale["redis_cpu_s_two"] / scale["active_s_two"]
    return ("the machine has %d cores, shared by both instances, Redis and "
            "Kafka: together they kept %.2f cores busy (engines %.2f, Redis "
            "%.2f, Kafka %.2f)%s"
            % (scale["nproc"], cpu / scale["active_s_two"],
               sum(scale["cpu_s_by_instance"]) / scale["active_s_two"],
               redis, scale["kafka_cpu_s_two"] / scale["active_s_two"],
               ". Both instances share one Redis, which executes commands "
               "on one thread and was saturated" if redis >= 0.8 else ""))


# ---- plots ----

def write_plot_data(args, doc):
    """Write the data files of the plots to the work directory; return the
    gnuplot script."""
    work = args.work
    script = ["set terminal pngcairo size 900,500 noenhanced",
              "set grid", "set key top left"]
    plots = {}
    if args.samples and os.path.exists(args.samples):
        rows = [tuple(map(float, l.split())) for l in open(args.samples)
                if l.strip()]
        path = os.path.join(work, "throughput-rate.dat")
        with open(path, "w") as f:
            for (t0, e0), (t1, e1) in zip(rows, rows[1:]):
                if t1 > t0:
                    f.write("%.2f %.0f\n" % (t1, (e1 - e0) / (t1 - t0)))
        plots["throughput.png"] = [
            "set title 'Incidents stage: events/s over the throughput run "
            "(metrics file sampled each second)'",
            "set xlabel 'seconds since the engine started'",
            "set ylabel 'events/s'",
            "plot '%s' using 1:2 with linespoints title 'engine events/s', "
            "%f title 'raw consume rate / 10' dt 2"
            % (path, doc["raw_consume_events_per_s"] / 10)]
    lines = []
    for name, run in sorted(doc.get("latency", {}).items()):
        values = sorted(
            int(l.split("\t")[2]) - int(l.split("\t")[3])
            for l in open(run["times_file"])
            if l.count("\t") >= 5 and int(l.split("\t")[3]) > 0)
        if not values:
            continue
        path = os.path.join(work, "latency-%s-cdf.dat" % name)
        with open(path, "w") as f:
            for i, v in enumerate(values):
                f.write("%d %.6f\n" % (max(v, 1), (i + 1) / len(values)))
        lines.append("'%s' using 1:2 with lines title '%s events/s offered'"
                     % (path, grouped(run["offered_rate"])))
    if lines:
        plots["latency.png"] = [
            "set title 'Engine event-to-alert latency, emitted_at_ms - "
            "trigger_ingest_time_ms (all alerts, warm-up included)'",
            "set logscale x", "set xlabel 'ms'",
            "set ylabel 'share of alerts at or below'",
            "set arrow from 50, graph 0 to 50, graph 1 nohead dt 2",
            "plot " + ", ".join(lines), "unset logscale x", "unset arrow"]
    if args.quality_alerts and args.truth:
        per_day = collections.Counter()
        hotspot = collections.Counter()
        for l in open(args.quality_alerts):
            if not l.strip():
                continue
            a = json.loads(l)
            day = datetime.datetime.fromtimestamp(
                a.get("event_time_ms", 0) / 1000,
                datetime.timezone.utc).strftime("%Y-%m-%d")
            per_day[day] += 1
            if a.get("model") == "hotspot":
                hotspot[day] += 1
        surge = set()
        for l in open(args.truth):
            t = json.loads(l)
            if t.get("kind") == "alert" and t.get("model") == "hotspot":
                surge.add(t["day"])
        path = os.path.join(work, "alerts-per-day.dat")
        top = max(per_day.values(), default=1)
        with open(path, "w") as f:
            for day in sorted(set(per_day) | surge):
                f.write("%s %d %d %d\n" % (day, per_day[day], hotspot[day],
                                           top if day in surge else 0))
        plots["alerts-per-day.png"] = [
            "set title 'Quality stream: alerts per day (event time, UTC) "
            "and injected hotspot surges'",
            "set xdata time", "set timefmt '%Y-%m-%d'",
            "set format x '%Y-%m'", "set xlabel 'day'",
            "set ylabel 'alerts'",
            "plot '%s' using 1:4 with impulses lw 2 lc rgb '#ffb0b0' "
            "title 'injected surge day', '' using 1:2 with lines "
            "title 'all alerts', '' using 1:3 with impulses lw 2 "
            "title 'hotspot alerts'" % path,
            "set xdata"]
    for name, commands in plots.items():
        script.append("set output '%s'" % os.path.join(args.results, name))
        script.extend(commands)
    return script, list(plots)


def make_plots(args, doc):
    script, names = write_plot_data(args, doc)
    if not names:
        return []
    if not shutil.which("gnuplot"):
        print("report.py: gnuplot not found; no plots (install gnuplot-nox)",
              file=sys.stderr)
        return []
    path = os.path.join(args.work, "plots.gp")
    with open(path, "w") as f:
        f.write("\n".join(script) + "\n")
    result = subprocess.run(["gnuplot", path], capture_output=True,
                            text=True)
    if result.returncode != 0:
        print("report.py: gnuplot failed: " + result.stderr, file=sys.stderr)
        return []
    return names


# ---- Markdown ----

def fmt(v, spec="%.1f"):
    return "-" if v is None else spec % v


def md_throughput(doc):
    p = doc.get("persons", {})
    rows = [
        ("events (N)", grouped(doc["events"])),
        ("produce rate (idempotent producer)",
         grouped(doc["produce_events_per_s"]) + " events/s"),
        ("raw consume rate", "%s events/s (median of %d runs, %d partitions)"
         % (grouped(doc["raw_consume_events_per_s"]),
            len(doc["raw_consume_runs_events_per_s"]), doc["partitions"])),
        ("incidents stage throughput (partition assignment to stop)",
         grouped(doc["engine_events_per_s"]) + " events/s"),
        ("throughput_ratio (engine / raw)", "%.3f" % doc["throughput_ratio"]),
        ("incidents stage CPU", "%.2f s" % doc["engine_cpu_s"]),
        ("events per engine CPU-second (incidents stage)",
         grouped(doc["events_per_cpu_second"])),
        ("Redis CPU during the incidents stage", fmt(doc.get("redis_cpu_s"),
                                                     "%.2f s")),
        ("Kafka broker CPU during the incidents stage",
         fmt(doc.get("kafka_cpu_s"), "%.2f s")),
        ("Redis commands per event", "%.2f" % doc["redis_commands_per_event"]),
        ("Redis round trips per event",
         "%.4f" % doc["redis_round_trips_per_event"]),
        ("incidents stage alerts", grouped(doc["alerts"])),
    ]
    if p:
        rows += [
            ("persons stage events (copies in hearth.persons)",
             grouped(p["events"])),
            ("persons stage throughput", fmt(p["events_per_s"], "%.0f")
             + " events/s"),
            ("persons stage CPU", "%.2f s" % p["cpu_s"]),
            ("persons stage events per CPU-second",
             grouped(p["events_per_cpu_second"] or 0)),
            ("Redis CPU during the persons stage",
             "%.2f s" % p["redis_cpu_s"]),
            ("persons stage alerts", grouped(p["alerts"])),
            ("events per CPU-second, all stages (N / CPU of both stages)",
             grouped(doc["events_per_cpu_second_all_stages"])),
        ]
    return rows


def md_table(rows, header=("figure", "value")):
    out = ["| %s |" % " | ".join(header), "|" + "---|" * len(header)]
    out += ["| %s |" % " | ".join(str(c) for c in r) for r in rows]
    return "\n".join(out)


def md_latency(doc):
    rows = []
    for name, run in sorted(doc.get("latency", {}).items()):
        for kind, label in (("engine", "engine (emitted_at_ms)"),
                            ("produce_call", "alert produce call (Kafka "
                             "timestamp)"),
                            ("arrival", "arrival at a consumer")):
            s = run[kind]
            rows.append((
                "%s (achieved %s)" % (grouped(run["offered_rate"]),
                                      grouped(run["achieved_rate"])),
                label, s["samples"], fmt(s.get("p50_ms"), "%d"),
                fmt(s.get("p99_ms"), "%d"), fmt(s.get("p99_9_ms"), "%d"),
                fmt(s.get("max_ms"), "%d")))
    if not rows:
        return "Not measured in this run."
    return md_table(rows, ("offered events/s", "latency to", "samples",
                           "p50 ms", "p99 ms", "p99.9 ms", "max ms"))


def md_memory(doc):
    m = doc.get("memory")
    if not m:
        return "Not measured in this run."
    keys = m["redis_keys"]
    rows = [
        ("incidents stage peak RSS, throughput run (default prefetch)",
         "%.1f MB" % m["peak_rss_mb_throughput_run"]),
        ("incidents stage peak RSS, %s events, prefetch %s KiB"
         % (grouped(m["events_long"]), grouped(m["prefetch_kb"])),
         "%.1f MB" % m["peak_rss_mb_long"]),
    ]
    if "events_short" in m:
        rows += [("incidents stage peak RSS, %s events, same prefetch" %
                  grouped(m["events_short"]),
                  "%.1f MB" % m["peak_rss_mb_short"]),
                 ("ratio of the two", "%.2f" % m["rss_ratio_long_to_short"])]
    rows += [
        ("persons stage peak RSS", "%.1f MB" % m["persons_peak_rss_mb"]),
        ("Redis used_memory before / after both stages",
         "%.1f MB / %.1f MB" % (m["redis_used_memory_before_bytes"] / 2**20,
                                m["redis_used_memory_after_bytes"] / 2**20)),
        ("keys (households / persons / incidents tracked)",
         "%s (%s / %s / %s)" % (grouped(keys["keys"]),
                                grouped(keys["households"]),
                                grouped(keys["persons"]),
                                grouped(keys["incidents"]))),
        ("Redis bytes per tracked subject (households + persons)",
         fmt(m["redis_bytes_per_subject"], "%.0f")),
        ("Redis bytes per key", fmt(m["redis_bytes_per_key"], "%.0f")),
        ("keys by kind", ", ".join("%s %s" % (k, grouped(v)) for k, v in
                                    sorted(keys["keys_by_kind"].items()))),
    ]
    return md_table(rows)


def md_scale(doc):
    s = doc.get("scale_out")
    if not s:
        return "Not measured in this run."
    return md_table([
        ("one instance (the throughput run)",
         fmt(s["events_per_s_one"], "%.0f") + " events/s"),
        ("two instances in one group",
         "%.0f events/s over %.2f s" % (s["events_per_s_two"],
                                        s["active_s_two"])),
        ("events per instance", " + ".join(grouped(e) for e in
                                            s["events_by_instance"])),
        ("CPU per instance", " + ".join("%.2f s" % c for c in
                                         s["cpu_s_by_instance"])),
        ("Redis / Kafka CPU during the two", "%.2f s / %.2f s" % (
            s["redis_cpu_s_two"], s["kafka_cpu_s_two"])),
        ("scale_out_ratio", fmt(s["scale_out_ratio"], "%.2f")),
    ]) + ("\n\nThis machine has %d cores, shared by the instances, Redis "
          "and Kafka, so the ratio measures contention more than "
          "scale-out." % s["nproc"])


def md_quality(doc, settings):
    q = doc.get("quality")
    if not q:
        return "Not measured in this run."
    rows = [(model, m["expected"], m["matched"], fmt(m["recall"], "%.2f"),
             m["emitted"], fmt(m["precision"], "%.2f"),
             fmt(m["median_delay_min"], "%.1f"), m["outside_patterns"])
            for model, m in sorted(q.items())]
    text = md_table(rows, ("model", "expected", "matched", "recall",
                           "emitted", "precision", "median delay (min)",
                           "outside patterns"))
    failures = doc.get("quality_failures", [])
    text += "\n\n%s, scored by `tests/integration/truth.py`. " % settings
    text += ("Precision counts alerts outside the injected patterns "
             "(background calls, which hearth-gen does not label) as wrong, "
             "so it is a lower bound. ")
    text += ("truth.py found no failure." if not failures else
             "truth.py failures: " + "; ".join(failures[:10]))
    return text


def md_targets(doc):
    rows = []
    for t in doc["targets"]:
        measured = t["measured"]
        rows.append((t["text"], "-" if measured is None else
                     ("%.3f" % measured if measured < 100 else
                      grouped(measured)), t["standing"],
                     t["reason"] or ""))
    return md_table(rows, ("target", "measured", "standing",
                           "measured reason"))


def write_markdown(doc, plots, path, args):
    m = doc["machine"]
    parts = [
        "# hearth benchmark: latest run",
        "Run at %s with:\n\n```sh\n%s\n```" % (doc["date_utc"],
                                               doc["command"]),
        "Machine: %d CPUs (%s), %.1f GiB memory, %s. Kafka, Redis, the "
        "engine and the benchmark programs all ran on it and shared its "
        "CPUs." % (m["nproc"], m["cpu_model"], m["memory_gib"],
                   m["kernel"]),
        "## Design targets", md_targets(doc),
        "## Throughput", md_table(md_throughput(doc)),
    ]
    if "throughput.png" in plots:
        parts.append("![incidents stage events/s](throughput.png)")
    parts += ["## Latency", md_latency(doc)]
    for name, run in sorted(doc.get("latency", {}).items()):
        parts.append(
            "At %s events/s: a live engine (stopped with SIGTERM after the "
            "send and a drain) with `engine.batch_max_wait_ms=%s`, and "
            "`hearth-bench produce --rate` sending %s synthetic events over "
            "%s households with `linger.ms=0` and the wall clock in "
            "`ingest_time_ms`. The %d alerts triggered in the first %s s "
            "are left out, and so are the %d timer alerts, which have no "
            "trigger. Engine p50 over the first and the last tenth of the "
            "alerts: %s ms and %s ms%s."
            % (grouped(run["offered_rate"]), run["batch_max_wait_ms"],
               grouped(run["events"]), grouped(run["households"] or 0),
               run["warmup_alerts_left_out"], run["warmup_s"],
               run["timer_alerts_left_out"],
               fmt(run["engine_p50_first_tenth_ms"], "%d"),
               fmt(run["engine_p50_last_tenth_ms"], "%d"),
               " (the engine fell behind the offered rate)"
               if (run["engine_p50_last_tenth_ms"] or 0) >
               2 * (run["engine_p50_first_tenth_ms"] or 0) + 100 else ""))
    if "latency.png" in plots:
        parts.append("![latency CDF](latency.png)")
    parts += ["## Memory", md_memory(doc), "## Scale-out", md_scale(doc),
              "## Detection quality", md_quality(doc, args.quality_settings)]
    if "alerts-per-day.png" in plots:
        parts.append("![alerts per day](alerts-per-day.png)")
    parts.append("## Engine command of the throughput run\n\n```sh\n%s\n```"
                 % doc["engine_command"])
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join(parts) + "\n")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--throughput", required=True,
                        help="JSON of hearth-bench-report")
    parser.add_argument("--persons", help="persons stage figures")
    parser.add_argument("--memory", help="memory figures")
    parser.add_argument("--samples", help="seconds and events_total, "
                        "one line per second of the throughput run")
    parser.add_argument("--latency", action="append", default=[],
                        help="JSON of bench/latency.py; repeatable")
    parser.add_argument("--scale", help="scale-out figures")
    parser.add_argument("--quality", help="JSON of truth.py --json")
    parser.add_argument("--quality-settings", default="")
    parser.add_argument("--truth", help="truth file of hearth-gen")
    parser.add_argument("--quality-alerts", help="alerts of the quality run")
    parser.add_argument("--results", required=True,
                        help="directory of latest.json, latest.md and plots")
    parser.add_argument("--work", required=True,
                        help="directory for the plot data")
    args = parser.parse_args(argv)

    doc = load(args.throughput)
    if args.persons:
        add_persons(doc, load(args.persons))
    if args.memory:
        doc["memory"] = load(args.memory)
        doc["redis_bytes_per_subject"] = doc["memory"][
            "redis_bytes_per_subject"]
        doc["rss_ratio_long_to_short"] = doc["memory"].get(
            "rss_ratio_long_to_short")
    add_latency(doc, [load(p) for p in args.latency])
    if args.scale:
        doc["scale_out"] = load(args.scale)
        doc["scale_out_ratio"] = doc["scale_out"]["scale_out_ratio"]
    else:
        doc["scale_out_ratio"] = None
    if args.quality:
        add_quality(doc, load(args.quality))
    doc["targets"] = targets(doc)
    plots = make_plots(args, doc)
    doc["plots"] = plots
    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    md = os.path.join(args.results, "latest.md")
    write_markdown(doc, plots, md, args)
    with open(md, encoding="utf-8") as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
