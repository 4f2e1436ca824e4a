#!/usr/bin/env bash
# The main job, end to end on the shipped Milwaukee call log. It starts
# Kafka and Redis in .run/demo with a fresh state each time, and replays the
# log in event-time order through hearth-connect. hearth-engine then runs
# until it has consumed everything, and hearth-watch collects the alerts.
# The script prints a summary, writes every alert to demo-out/alerts.jsonl
# and stops the services. Ports: Kafka 24092 (controller 24093), Redis
# 24379.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=$root/build/bin
input=${HEARTH_DEMO_INPUT:-tests/data/real/milwaukee_mpd_2018/data.csv}
profile=${HEARTH_DEMO_PROFILE:-connectors/profiles/milwaukee_mpd.json}
out=$root/demo-out

export HEARTH_RUN_DIR=$root/.run/demo
export HEARTH_KAFKA_PORT=${HEARTH_KAFKA_PORT:-24092}
export HEARTH_KAFKA_CONTROLLER_PORT=${HEARTH_KAFKA_CONTROLLER_PORT:-24093}
export HEARTH_REDIS_PORT=${HEARTH_REDIS_PORT:-24379}
brokers=127.0.0.1:$HEARTH_KAFKA_PORT

stop() {
        bash deploy/local/services.sh down >/dev/null 2>&1 || true
}

step() {
        printf '\n== %s\n' "$*"
}

stop
rm -rf "$HEARTH_RUN_DIR" "$out"
mkdir -p "$HEARTH_RUN_DIR" "$out"
trap stop EXIT

step "Starting Kafka and Redis"
bash deploy/local/services.sh up
"$bin/hearth-admin" create-topics -b "$brokers" --partitions 8

# A fresh pseudonymization key for this run; production keeps one key
# (mode 600) so pseudonyms stay comparable across runs.
key=$HEARTH_RUN_DIR/hmac.key
(umask 077 && head -c 32 /dev/urandom | base64 >"$key")

step "Replaying $(basename "$input") in event-time order"
"$bin/hearth-connect" -b "$brokers" -p "$profile" -k "$key" \
        --summary-json "$out/connect.json" "$input"

step "Running hearth-engine until the input is consumed"
"$bin/hearth-engine" --exit-at-end --stats-json "$out/engine.json" \
        --set kafka.brokers="$brokers" --set redis.port="$HEARTH_REDIS_PORT"

# The persons stage reads the copies that the incidents stage made for each
# suspect and victim. The Milwaukee log names no parties, so it has little
# to do there; the Chinese 110 sample gives it work.
step "Running the persons stage of hearth-engine"
"$bin/hearth-engine" --exit-at-end --stats-json "$out/engine-persons.json" \
        --set engine.stage=persons --set kafka.brokers="$brokers" \
        --set redis.port="$HEARTH_REDIS_PORT"

step "Alerts (province-wide feed, most urgent first, at most 15 shown)"
"$bin/hearth-watch" -b "$brokers" --from-beginning --until-end --json \
        >"$out/alerts.jsonl"
"$bin/hearth-watch" -b "$brokers" --from-beginning --until-end --summary \
        --color never >"$out/watch.txt"
# sed reads to the end, so sort never meets a closed pipe (head would
# close it, and pipefail would turn sort's SIGPIPE into a failed demo).
grep -E '^P[1-4] ' "$out/watch.txt" | sort -s -k1,1 | sed -n '1,15p'
echo "... $(grep -cE '^P[1-4] ' "$out/watch.txt") alerts in all"

step "Summary"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
c = json.load(open(out + "/connect.json"))
e = json.load(open(out + "/engine.json"))
ep = json.load(open(out + "/engine-persons.json"))
for k in ("alerts", "alerts_by_priority"):
    e[k] = (e[k] + ep[k] if k == "alerts"
            else [a + b for a, b in zip(e[k], ep[k])])
print("records read        %8d  (%d rejected to the dead-letter topic)"
      % (c["records_read"], c["rejected"]))
print("events in           %8d" % e["events"])
print("domestic events     %8d" % e["domestic"])
print("alerts              %8d  (P1 %d, P2 %d, P3 %d, P4 %d)"
      % ((e["alerts"],) + tuple(e["alerts_by_priority"])))
rate = e["events"] / e["elapsed_s"] if e["elapsed_s"] else 0
print("engine time         %8.2f s  (%.0f events/s, including the "
      "consumer group join)" % (e["elapsed_s"], rate))
PY
sed -n '/^Alerts by model/,$p' "$out/watch.txt"
echo
echo "Every alert is in $out/alerts.jsonl"
