#!/usr/bin/env python3
"""Independent oracle for the integration tests.

Reads a source CSV directly with Python's csv module and computes what the
pipeline must produce, without any hearth code:

  counts       records, domestic records, and records that must be rejected
  alerts       the (model, trigger incident id, priority, count) of every
               alert of the repeat-calls, special-circumstances and hotspot
               models, by the documented rules, after fusion: an alert on
               a household (an incident's alert counts for its household)
               that another model alerted on less than the fusion window
               before or after goes out one priority higher, never above 1;
               with --key-file also its alert_id

Usage: oracle.py counts SOURCE CSV
       oracle.py alerts SOURCE CSV [--short-hours 72 --short-threshold 2
                 --short-priority 3 --long-days 30 --long-threshold 3
                 --long-priority 2 --hotspot-threshold-x100 300
                 --hotspot-min-sigma-x100 100 --hotspot-baseline-days 7
                 --hotspot-guard-days 2 --hotspot-day-offset-minutes 0
                 --hotspot-priority 3 --fusion-hours 720]
                 [--key-file FILE --key-id k1]

The alert id is the hex of the first 16 bytes of SHA-256 over model,
subject, priority and trigger incident id, separated by NUL bytes. The
subject of a repeat-calls alert is "a:" and the household's pseudonym:
the key id, ":" and the unpadded base64url of the first 16 bytes of
HMAC-SHA-256(key file contents without one trailing newline,
"addr" NUL normalized address). A special-circumstances subject is "i:"
and the incident id, a hotspot subject "d:" and the district.

SOURCE is one of milwaukee, berkeley, orlando. The rules are restated here
on purpose rather than read from the connector profiles.
"""
import argparse
import base64
import csv
import hashlib
import hmac
import json
import re
import sys
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

SOURCES = {
    "milwaukee": {
        "id": "id",
        "domestic": lambda r: re.search(r"-DV|/DV| DV$|FAMILY TROUB",
                                        r["nature"]) is not None,
        "time": lambda r: (r["time"], "%Y-%m-%d %H:%M:%S"),
        "zone": "America/Chicago",
        "address": lambda r: r["location"],
        "strip": r" ?, ?MKE$",
        "ignored": {"2920 N 4TH ST", "2333 N 49TH ST", "3626 W FOND DU LAC AV",
                    "245 W LINCOLN AV", "749 W STATE ST"},
        "withheld": set(),
        # Natures that report a weapon, a firearm or a hostage situation:
        # each is a lethality factor, so each incident alerts once at P1.
        "lethal": r"WEAPON|RECK USE OF W|ARMED|GUN|CUT|HOSTAGE",
        # The hotspot model's area; the profile maps no grid cell.
        "district": "district",
    },
    "berkeley": {
        "id": "CASENO",
        "domestic": lambda r: r["OFFENSE"] == "DOMESTIC VIOLENCE",
        "time": lambda r: (r["EVENTDT"].split(" ")[0] + " " + r["EVENTTM"],
                           "%m/%d/%Y %H:%M"),
        "zone": "America/Los_Angeles",
        "address": lambda r: r["BLKADDR"],
        "strip": None,
        "ignored": set(),
        "withheld": set(),
    },
    "orlando": {
        "id": "",
        "domestic": lambda r: r["Description"] == "Domestic disturbance",
        "time": lambda r: (r["Date"], "%m/%d/%Y %H:%M"),
        "zone": "America/New_York",
        "address": lambda r: r["Location"],
        "strip": None,
        "ignored": {"NOT AVAILABLE", "1 BLOCK"},
        "withheld": {"RESTRICTED ADDRESS"},
    },
}


def read_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        for number, row in enumerate(csv.DictReader(f), start=1):
            yield number, row


def event_time_ms(src, row):
    text, fmt = src["time"](row)
    local = datetime.strptime(text.strip(), fmt)
    # fold=0 picks the earlier instant of a repeated hour, as the connector.
    aware = local.replace(tzinfo=ZoneInfo(src["zone"]), fold=0)
    return int(aware.timestamp() * 1000)


def household(src, row):
    address = re.sub(r"\s+", " ", src["address"](row).upper()).strip()
    if src["strip"]:
        address = re.sub(src["strip"], "", address).rstrip()
    if not address or address in src["ignored"] or address in src["withheld"]:
        return None
    return address


def counts(src, path):
    records = domestic = 0
    for _, row in read_rows(path):
        records += 1
        domestic += src["domestic"](row)
    return {"records": records, "domestic": domestic, "rejected": 0}


def repeat_calls(src, path, args):
    events = []
    for number, row in read_rows(path):
        if not src["domestic"](row):
            continue
        home = household(src, row)
        if home is None:
            continue
        events.append((event_time_ms(src, row), number,
                       row[src["id"]].strip(), home))
    events.sort()

    hour = 3600 * 1000
    rules = [  # (window ms, threshold, priority)
        (args.short_hours * hour, args.short_threshold, args.short_priority),
        (args.long_days * 24 * hour, args.long_threshold, args.long_priority),
    ]
    seen = {}        # household -> {incident id: time}
    last_alert = {}  # (household, priority) -> time
    alerts = []
    for t, _, incident, home in events:
        incidents = seen.setdefault(home, {})
        if incident in incidents:
            continue
        incidents[incident] = t
        best = None
        for window, threshold, priority in rules:
            n = sum(1 for s in incidents.values() if t - window < s <= t)
            if n < threshold:
                continue
            if (best is None or priority < best[2]
                    or (priority == best[2] and window > best[0])):
                best = (window, n, priority)
        if best is None:
            continue
        window, n, priority = best
        blocked = any(
            (home, p) in last_alert
            and abs(t - last_alert[(home, p)]) < window
            for p in range(1, priority + 1))
        if blocked:
            continue
        last_alert[(home, priority)] = t
        alerts.append({"model": "repeat_calls",
                       "trigger_incident_id": incident, "priority": priority,
                       "count": n, "_t": t, "_home": home,
                       "subject": ("addr", home)})
    return alerts


def special_circumstances(src, path):
    """One P1 per domestic incident whose category names a lethality
    factor. No source here carries four of the other flags."""
    if "lethal" not in src:
        return []
    seen = set()
    alerts = []
    for _, row in read_rows(path):
        incident = row[src["id"]].strip()
        if (not src["domestic"](row) or incident in seen
                or not re.search(src["lethal"], row["nature"])):
            continue
        seen.add(incident)
        alerts.append({"model": "special_circumstances",
                       "trigger_incident_id": incident, "priority": 1,
                       "count": 1, "_t": event_time_ms(src, row),
                       "_home": household(src, row),
                       "subject": (None, "i:" + incident)})
    return alerts


# The engine runs its models in this order on each event.
MODEL_ORDER = ["repeat_calls", "special_circumstances", "hotspot"]


def fuse(alerts, hours):
    """Raises each household alert one priority (never above 1) when another
    model alerted on the same household less than the window apart, or on
    the same event, in the order the engine processes them: event time, then
    model order."""
    window = hours * 3600 * 1000
    last = {}  # (household, model) -> event time of its last alert
    ordered = sorted(alerts, key=lambda a: (a["_t"],
                                            MODEL_ORDER.index(a["model"])))
    for i, a in enumerate(ordered):
        home = a.get("_home")
        if window <= 0 or home is None:
            continue
        earlier = any(h == home and m != a["model"]
                      and abs(a["_t"] - t) < window
                      for (h, m), t in last.items())
        # Another model's alert on the same event counts too.
        same_event = any(b.get("_home") == home and b["model"] != a["model"]
                         and b["_t"] == a["_t"]
                         and b["trigger_incident_id"]
                         == a["trigger_incident_id"]
                         for b in ordered[i + 1:])
        if earlier or same_event:
            a["priority"] = max(1, a["priority"] - 1)
        last[(home, a["model"])] = a["_t"]
    return [{k: v for k, v in a.items() if not k.startswith("_")}
            for a in ordered]


def hotspot(src, path, args):
    """EARS C2 per district and calendar day: a day alarms once, at the
    first incident whose day count exceeds the baseline mean by more than
    threshold times the baseline's sample standard deviation, floored at
    min_sigma. The baseline is the days d-9 to d-3 (by default), and the
    district must have had an incident on day d-9 or earlier. The stream
    is in event-time order, so no event is late."""
    if "district" not in src:
        return []
    events = []
    for number, row in read_rows(path):
        district = row[src["district"]].strip()
        if not src["domestic"](row) or not district:
            continue
        events.append((event_time_ms(src, row), number,
                       row[src["id"]].strip(), "d:" + district))
    events.sort()

    day_ms = 24 * 3600 * 1000
    offset_ms = args.hotspot_day_offset_minutes * 60 * 1000
    baseline_days, guard = args.hotspot_baseline_days, args.hotspot_guard_days
    threshold = Fraction(args.hotspot_threshold_x100, 100)
    min_sigma = Fraction(args.hotspot_min_sigma_x100, 100)
    counted = set()  # (area, incident id)
    days = {}        # area -> {day number: incidents}
    first = {}       # area -> day of its first incident
    alerted = set()  # (area, day number)
    alerts = []
    for t, _, incident, area in events:
        if (area, incident) in counted:
            continue
        counted.add((area, incident))
        day = (t + offset_ms) // day_ms
        per_day = days.setdefault(area, {})
        per_day[day] = per_day.get(day, 0) + 1
        first.setdefault(area, day)
        start = day - guard - baseline_days
        if (area, day) in alerted or first[area] > start:
            continue
        base = [per_day.get(d, 0) for d in range(start, start + baseline_days)]
        mean = Fraction(sum(base), baseline_days)
        variance = (sum((x - mean) ** 2 for x in base)
                    / (baseline_days - 1))
        excess = per_day[day] - mean
        # excess > threshold * max(sd, min_sigma), squared to stay exact.
        if excess <= 0 or (excess ** 2 <= threshold ** 2
                           * max(variance, min_sigma ** 2)):
            continue
        alerted.add((area, day))
        alerts.append({"model": "hotspot", "trigger_incident_id": incident,
                       "priority": args.hotspot_priority,
                       "count": per_day[day], "_t": t,
                       "subject": (None, area)})
    return alerts


def subject_key(subject, key, key_id):
    """Return the subject key of an alert, with an address replaced by the
    household's pseudonym."""
    kind, value = subject
    if kind is None:
        return value
    mac = hmac.new(key, kind.encode() + b"\0" + value.encode(),
                   hashlib.sha256).digest()
    code = base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()
    return "a:%s:%s" % (key_id, code)


def alert_id(alert, subject):
    text = "\0".join([alert["model"], subject, str(alert["priority"]),
                      alert["trigger_incident_id"]])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def read_key(path):
    with open(path, "rb") as f:
        key = f.read()
    return key[:-1] if key.endswith(b"\n") else key


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["counts", "alerts"])
    parser.add_argument("source", choices=sorted(SOURCES))
    parser.add_argument("csv")
    parser.add_argument("--short-hours", type=int, default=72)
    parser.add_argument("--short-threshold", type=int, default=2)
    parser.add_argument("--short-priority", type=int, default=3)
    parser.add_argument("--long-days", type=int, default=30)
    parser.add_argument("--long-threshold", type=int, default=3)
    parser.add_argument("--long-priority", type=int, default=2)
    parser.add_argument("--hotspot-threshold-x100", type=int, default=300)
    parser.add_argument("--hotspot-min-sigma-x100", type=int, default=100)
    parser.add_argument("--hotspot-baseline-days", type=int, default=7)
    parser.add_argument("--hotspot-guard-days", type=int, default=2)
    parser.add_argument("--hotspot-day-offset-minutes", type=int, default=0)
    parser.add_argument("--hotspot-priority", type=int, default=3)
    parser.add_argument("--fusion-hours", type=int, default=720)
    parser.add_argument("--key-file")
    parser.add_argument("--key-id", default="k1")
    args = parser.parse_args()
    src = SOURCES[args.source]
    if args.mode == "counts":
        json.dump(counts(src, args.csv), sys.stdout)
        print()
    else:
        key = read_key(args.key_file) if args.key_file else None
        for alert in fuse(repeat_calls(src, args.csv, args)
                          + special_circumstances(src, args.csv)
                          + hotspot(src, args.csv, args), args.fusion_hours):
            # The subject stays out of the output because it may be an address.
            subject = alert.pop("subject")
            if key is not None:
                alert["alert_id"] = alert_id(
                    alert, subject_key(subject, key, args.key_id))
            print(json.dumps(alert))


if __name__ == "__main__":
    main()
