#!/usr/bin/env bash
# Integration tests against a real Kafka broker and a real Redis server,
# which this script starts on loopback ports of its own (19092, 19093,
# 19379: below Linux's ephemeral range, so no client connection takes
# them) in .run/test and stops on exit. Expected values come from
# oracle.py, which reads the source files directly.
#
# Needs: make all, python3, Java 17 and Maven (for the broker's jars).
# Prints "N passed, N failed" last; exits non-zero if any test failed.
# Arguments name tests to run (without "test_"); none runs them all.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$root/build/bin
here=$root/tests/integration
real=$root/tests/data/real

export HEARTH_RUN_DIR=${HEARTH_TEST_RUN_DIR:-$root/.run/test}
export HEARTH_KAFKA_PORT=${HEARTH_TEST_KAFKA_PORT:-19092}
export HEARTH_KAFKA_CONTROLLER_PORT=${HEARTH_TEST_KAFKA_CONTROLLER_PORT:-19093}
export HEARTH_REDIS_PORT=${HEARTH_TEST_REDIS_PORT:-19379}
brokers=127.0.0.1:$HEARTH_KAFKA_PORT
work=$HEARTH_RUN_DIR/work
passed=0
failed=0
failures=()

stop_services() {
        local pid
        # Engines a failed test left running in the background.
        if [ -f "$work/engine.pids" ]; then
                while read -r pid; do
                        kill -KILL "$pid" 2>/dev/null || true
                done <"$work/engine.pids"
        fi
        bash deploy/local/services.sh down >/dev/null 2>&1 || true
        # The SCRAM test's broker, when a failed run left it behind.
        if [ -d "$work/scram/run" ]; then
                scram_kafka stop >/dev/null 2>&1 || true
        fi
}

start_services() {
        stop_services
        rm -rf "$HEARTH_RUN_DIR"
        mkdir -p "$work"
        bash deploy/local/services.sh up
        (umask 077 && head -c 32 /dev/urandom | base64 >"$work/hmac.key")
        "$bin/hearth-admin" create-topics -b "$brokers" --partitions 8
}

redis() {
        redis-cli -p "$HEARTH_REDIS_PORT" "$@"
}

# run_test NAME: runs test_NAME, counting and reporting the result.
run_test() {
        local name=$1
        echo "=== $name"
        # Not in an if: errexit must stay active inside the test.
        set +e
        (set -e; "test_$name") >"$work/$name.log" 2>&1
        local rc=$?
        set -e
        if [ "$rc" -eq 0 ]; then
                passed=$((passed + 1))
                tail -n 5 "$work/$name.log"
                echo "--- PASS $name"
        else
                failed=$((failed + 1))
                failures+=("$name")
                tail -n 40 "$work/$name.log"
                echo "--- FAIL $name (log: $work/$name.log)"
        fi
}

engine() {
        "$bin/hearth-engine" --set kafka.brokers="$brokers" \
                --set redis.port="$HEARTH_REDIS_PORT" "$@"
}

connect() {
        "$bin/hearth-connect" --no-progress -b "$brokers" \
                -k "$work/hmac.key" "$@"
}

dump() {
        "$bin/hearth-admin" dump -b "$brokers" "$@"
}

# connector_case SOURCE PROFILE FILE: loads one real file into topics of its
# own and compares the counts with the oracle's.
connector_case() {
        local source=$1 profile=$2 file=$3 expected
        local topic=it.$source.incidents dlq=it.$source.dlq
        connect -p "connectors/profiles/$profile.json" -t "$topic" \
                --dlq-topic "$dlq" --summary-json "$work/$source.summary" \
                "$file"
        dump --topic "$topic" --type incident >"$work/$source.events"
        dump --topic "$dlq" --type dlq >"$work/$source.dlq"
        expected=$(python3 "$here/oracle.py" counts "$source" "$file" |
                python3 -c 'import json,sys; d=json.load(sys.stdin);
d["delivered"]=d["records"]; print(json.dumps(d))')
        python3 "$here/check.py" connector "$work/$source.summary" \
                "$work/$source.events" "$work/$source.dlq" "$expected"
}

test_connector_milwaukee() {
        connector_case milwaukee milwaukee_mpd \
                "$real/milwaukee_mpd_2018/data.csv"
}

test_connector_berkeley() {
        connector_case berkeley berkeley_pd \
                "$real/berkeley_pd/calls_for_service.csv"
}

test_connector_orlando() {
        connector_case orlando orlando_pd "$real/orlando_pd/police_calls.csv"
        # Withheld addresses must not become one shared household.
        python3 - "$work/orlando.events" <<'PY'
import json, sys
events = [json.loads(l) for l in open(sys.argv[1])]
dv = [e for e in events if e.get("is_domestic")]
withheld = [e for e in dv if e.get("location_withheld")]
keyed = [e for e in dv if e.get("address_key")]
print("orlando: %d domestic, %d withheld, %d with an address key"
      % (len(dv), len(withheld), len(keyed)))
sys.exit(0 if len(withheld) == 96 and not keyed else 1)
PY
}

test_connector_bad_input() {
        local expected
        expected=$(python3 "$here/check.py" make-bad-input "$work/bad.csv")
        connect -p connectors/profiles/milwaukee_mpd.json -t it.bad.incidents \
                --dlq-topic it.bad.dlq --summary-json "$work/bad.summary" \
                "$work/bad.csv"
        dump --topic it.bad.incidents --type incident >"$work/bad.events"
        dump --topic it.bad.dlq --type dlq >"$work/bad.dlq"
        python3 "$here/check.py" connector "$work/bad.summary" \
                "$work/bad.events" "$work/bad.dlq" "$expected"
}

# Nothing the pipeline writes (topics, logs at debug level, audit log,
# metrics, Redis keys) may contain an identifier or narrative of the input.
test_connector_privacy() {
        local sample=tests/data/cn_110/sample.csv secrets settings topic file p
        connect -p connectors/profiles/cn_110.json -t it.cn.incidents \
                --dlq-topic it.cn.dlq "$sample" 2>"$work/cn.stderr"
        dump --topic it.cn.incidents --type raw >"$work/cn.raw"
        dump --topic it.cn.incidents --type incident >"$work/cn.events"
        # Every ID number, phone number and narrative of the sample.
        mapfile -t secrets < <(python3 - "$sample" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8-sig")):
    for part in row["当事人身份证号"].split(";"):
        if ":" in part:
            print(part.split(":", 1)[1].strip())
    for col in ("报警电话", "简要案情", "事发地址"):
        if row[col].strip():
            print(row[col].strip())
PY
)
        test "${#secrets[@]}" -gt 10
        # The scan finds what is there: the input itself must fail it.
        ! python3 "$here/check.py" no-secrets "$sample" "${secrets[@]}"
        # Both engine stages at debug level, with audit log and metrics.
        settings=(--exit-at-end --set log.level=debug
                --set kafka.group_id=privacy --set redis.key_prefix=privacy:
                --set topics.input=it.cn.incidents --set topics.dlq=it.cn.dlq
                --set topics.persons=it.cn.persons --set topics.tags=it.cn.tags
                --set topics.priority_template='it.cn.alerts.p{priority}'
                --set topics.region_template='it.cn.region.{city}'
                --set audit.log="$work/cn.audit"
                --set metrics.file="$work/cn.metrics"
                --set engine.idle_advance_ms=0)
        engine "${settings[@]}" 2>"$work/cn.engine.log"
        engine "${settings[@]}" --set engine.stage=persons \
                2>"$work/cn.persons.log"
        for topic in it.cn.persons it.cn.tags it.cn.alerts.p1 \
                it.cn.alerts.p2 it.cn.alerts.p3 it.cn.region.330100; do
                dump --topic "$topic" --type raw
        done >"$work/cn.outputs"
        for p in 1 2 3; do
                dump --topic "it.cn.alerts.p$p" --type alert
        done >"$work/cn.alerts"
        dump --topic it.cn.tags --type tag >"$work/cn.tags"
        test -s "$work/cn.alerts"
        test -s "$work/cn.tags"
        redis --scan --pattern 'privacy:*' >"$work/cn.redis-keys"
        for file in cn.raw cn.events cn.stderr cn.engine.log cn.persons.log \
                cn.outputs cn.alerts cn.tags cn.audit cn.metrics \
                cn.redis-keys; do
                python3 "$here/check.py" no-secrets "$work/$file" \
                        "${secrets[@]}"
        done
}

alert_topics=(hearth.alerts.p1 hearth.alerts.p2 hearth.alerts.p3
        hearth.alerts.p4)

dump_alerts() {
        local prefix=$1 out=$2 p
        : >"$out"
        for p in 1 2 3 4; do
                dump --topic "$prefix$p" --type alert >>"$out"
        done
}

test_engine_oracle() {
        connect -p connectors/profiles/milwaukee_mpd.json \
                "$real/milwaukee_mpd_2018/data.csv"
        engine --exit-at-end --stats-json "$work/engine1.stats" \
                --set audit.log="$work/audit.jsonl" \
                --set metrics.file="$work/metrics.prom" \
                --set topics.create_partitions=2
        dump_alerts hearth.alerts.p "$work/alerts1.jsonl"
        python3 "$here/check.py" audit "$work/alerts1.jsonl" \
                "$work/audit.jsonl" "$work/metrics.prom" 33968
        python3 "$here/oracle.py" alerts milwaukee \
                "$real/milwaukee_mpd_2018/data.csv" >"$work/oracle.jsonl"
        python3 "$here/check.py" alerts "$work/oracle.jsonl" \
                "$work/alerts1.jsonl"
        # The city's regional feed carries the same alerts.
        dump --topic hearth.alerts.region.5553000 --type alert \
                >"$work/region.jsonl"
        python3 "$here/check.py" same-ids "$work/alerts1.jsonl" \
                "$work/region.jsonl"
        # The engine created the regional topic itself, with 2 partitions;
        # the broker's own default is 1.
        dump --topic hearth.alerts.region.5553000 --type raw \
                >"$work/region.raw"
        python3 - "$work/region.raw" <<'PY'
import json, sys
parts = {json.loads(l)["partition"] for l in open(sys.argv[1])}
print("regional topic partitions used: %s" % sorted(parts))
sys.exit(0 if parts == {0, 1} else 1)
PY
}

zcard_total() {
        local prefix=$1 total=0 key n
        while read -r key; do
                [ -n "$key" ] || continue
                n=$(redis ZCARD "$key")
                total=$((total + n))
        done < <(redis --scan --pattern "$prefix{p*}:rc:*")
        echo "$total"
}

test_replay_twice() {
        local before after
        before=$(zcard_total hearth:)
        # The same file again: new offsets, same incident ids.
        connect -p connectors/profiles/milwaukee_mpd.json \
                "$real/milwaukee_mpd_2018/data.csv"
        engine --exit-at-end --stats-json "$work/engine2.stats"
        after=$(zcard_total hearth:)
        echo "household sorted sets: $before members before, $after after"
        test "$before" -gt 0
        test "$before" -eq "$after"
        python3 - "$work/engine2.stats" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
print("second run: %d events, %d alerts" % (s["events"], s["alerts"]))
sys.exit(0 if s["events"] == 33968 and s["alerts"] == 0 else 1)
PY
        # A fresh state replaying both copies yields the same alert ids.
        engine --exit-at-end --set redis.key_prefix=replay: \
                --set kafka.group_id=replay \
                --set topics.priority_template='replay.alerts.p{priority}' \
                --set topics.region_template=
        dump_alerts replay.alerts.p "$work/replay.jsonl"
        python3 "$here/check.py" same-ids "$work/alerts1.jsonl" \
                "$work/replay.jsonl"
}

progress_total() {
        local total=0 key n
        while read -r key; do
                [ -n "$key" ] || continue
                n=$(redis HGET "$key" offset)
                total=$((total + ${n:-0}))
        done < <(redis --scan --pattern 'kill:{p*}:progress')
        echo "$total"
}

test_kill_restart() {
        local kills=0 last=0 now pid waited step
        local opts=(--set redis.key_prefix=kill: --set kafka.group_id=kill
                --set kafka.group_instance_id=kill-1
                --set engine.batch_max_events=50
                --set topics.priority_template='kill.alerts.p{priority}'
                --set topics.region_template=)
        while [ "$kills" -lt 8 ]; do
                # Started directly, not through engine(), so $! is the
                # engine's own pid and SIGKILL reaches it.
                "$bin/hearth-engine" --set kafka.brokers="$brokers" \
                        --set redis.port="$HEARTH_REDIS_PORT" "${opts[@]}" \
                        >>"$work/kill.engine.log" 2>&1 &
                pid=$!
                echo "$pid" >>"$work/engine.pids"
                waited=0
                # Kill once the engine has applied a few more batches, so
                # the kills spread over the 67,936 input messages.
                step=$((5000 + RANDOM % 2000))
                while now=$(progress_total) &&
                        [ "$now" -lt $((last + step)) ] &&
                        [ "$waited" -lt 150 ]; do
                        sleep 0.1
                        waited=$((waited + 1))
                done
                kill -KILL "$pid"
                wait "$pid" 2>/dev/null || true
                if kill -0 "$pid" 2>/dev/null; then
                        echo "engine $pid survived SIGKILL"
                        return 1
                fi
                kills=$((kills + 1))
                last=$(progress_total)
                echo "kill $kills: $last input offsets applied"
        done
        engine "${opts[@]}" --exit-at-end >>"$work/kill.engine.log" 2>&1
        dump_alerts kill.alerts.p "$work/kill.jsonl"
        python3 "$here/check.py" same-ids "$work/replay.jsonl" \
                "$work/kill.jsonl"
        # The state matches the uninterrupted replay's: nothing counted
        # twice, nothing lost.
        local killed replayed
        killed=$(zcard_total kill:)
        replayed=$(zcard_total replay:)
        echo "household sorted sets: $killed members, $replayed without kills"
        test "$killed" -gt 0
        test "$killed" -eq "$replayed"
}

# wait_for_log FILE TEXT: waits up to 30 s for TEXT to appear in FILE.
wait_for_log() {
        local i
        for i in $(seq 300); do
                grep -q -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.1
        done
        echo "timed out waiting for \"$2\" in $1"
        return 1
}

test_reload_on_sighup() {
        local conf=$work/reload.json log=$work/reload.log pid
        echo '{"engine": {"rule_version": "r1"}}' >"$conf"
        "$bin/hearth-engine" --config "$conf" --set kafka.brokers="$brokers" \
                --set redis.port="$HEARTH_REDIS_PORT" \
                --set kafka.group_id=reload >"$log" 2>&1 &
        pid=$!
        echo "$pid" >>"$work/engine.pids"
        wait_for_log "$log" "rule_version=r1"
        # An invalid file is rejected and the engine keeps running.
        echo '{"models": {"special_circumstances": {"lethal_flags": "x"}}}' \
                >"$conf"
        kill -HUP "$pid"
        wait_for_log "$log" "reload rejected"
        kill -0 "$pid"
        echo '{"engine": {"rule_version": "r2"}}' >"$conf"
        kill -HUP "$pid"
        wait_for_log "$log" "configuration reloaded: rule_version=r2"
        kill -TERM "$pid"
        wait "$pid"
        grep -E "reload|stopped" "$log"
}

# Builds a helper of tests/integration against libhearth.a: build_helper NAME.
build_helper() {
        cc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ibuild/gen -I. \
                "$here/$1.c" build/libhearth.a -lrdkafka -lprotobuf-c \
                -o "$work/$1"
}

# Malformed and out-of-range messages between valid events: each goes to
# the dead-letter topic with its reason, and the valid events give the
# same alerts as they do alone.
test_engine_hostile_input() {
        local sample=tests/data/cn_110/sample.csv
        local clean=it.hostile.clean hostile=it.hostile.incidents
        local dlq=it.hostile.dlq
        build_helper hostile_producer
        "$bin/hearth-admin" create-topics -b "$brokers" --partitions 2 \
                --extra "$clean:2" --extra "$hostile:2" --extra "$dlq:1"
        connect -p connectors/profiles/cn_110.json -t "$clean" \
                --dlq-topic it.hostile.connect-dlq "$sample"
        # Bad messages before, between and after two copies of the events.
        "$work/hostile_producer" "$brokers" "$hostile" >"$work/hostile.expected"
        connect -p connectors/profiles/cn_110.json -t "$hostile" \
                --dlq-topic it.hostile.connect-dlq "$sample"
        "$work/hostile_producer" "$brokers" "$hostile" >>"$work/hostile.expected"
        connect -p connectors/profiles/cn_110.json -t "$hostile" \
                --dlq-topic it.hostile.connect-dlq "$sample"
        "$work/hostile_producer" "$brokers" "$hostile" >>"$work/hostile.expected"

        engine --exit-at-end --stats-json "$work/hostile-clean.stats" \
                --set topics.input="$clean" --set kafka.group_id=hclean \
                --set redis.key_prefix=hclean: \
                --set topics.priority_template='hclean.alerts.p{priority}' \
                --set topics.region_template=
        engine --exit-at-end --stats-json "$work/hostile.stats" \
                --set topics.input="$hostile" --set topics.dlq="$dlq" \
                --set kafka.group_id=hhostile --set redis.key_prefix=hhostile: \
                --set engine.max_message_bytes=4096 \
                --set topics.priority_template='hhostile.alerts.p{priority}' \
                --set topics.region_template=
        dump_alerts hclean.alerts.p "$work/hostile-clean.jsonl"
        dump_alerts hhostile.alerts.p "$work/hostile-alerts.jsonl"
        dump --topic "$dlq" --type dlq >"$work/hostile.dlq"
        test -s "$work/hostile-clean.jsonl"
        python3 "$here/check.py" same-ids "$work/hostile-clean.jsonl" \
                "$work/hostile-alerts.jsonl"
        python3 - "$work/hostile.expected" "$work/hostile.dlq" \
                "$work/hostile-clean.stats" "$work/hostile.stats" <<'PY'
import collections, json, sys
expected = collections.Counter(l.strip() for l in open(sys.argv[1]))
got = collections.Counter(json.loads(l)["reason"] for l in open(sys.argv[2]))
clean = json.load(open(sys.argv[3]))
hostile = json.load(open(sys.argv[4]))
print("expected dead letters: %s" % dict(sorted(expected.items())))
print("dead-letter topic:     %s" % dict(sorted(got.items())))
print("clean run: %d events, %d alerts; hostile run: %d events, %d alerts, "
      "%d dead letters" % (clean["events"], clean["alerts"], hostile["events"],
                           hostile["alerts"], hostile["dead_letters"]))
ok = (expected == got
      and hostile["dead_letters"] == sum(expected.values())
      and hostile["events"] == 2 * clean["events"]
      and hostile["alerts"] == clean["alerts"] and clean["alerts"] > 0)
sys.exit(0 if ok else 1)
PY
}

# test_replay_speed: hearth-replay paces a 300-call slice of the
# Milwaukee log so that its event-time span takes about 4 s, and keeps
# event-time order in every partition. A file that hearth-connect
# --output wrote replays to the same number of events.
test_replay_speed() {
        local csv=$work/replay.csv topic=it.replay.incidents speed
        local started ended expected
        head -n 301 "$real/milwaukee_mpd_2018/data.csv" >"$csv"
        # Record count and event-time span, from the oracle's parsing.
        read -r expected speed < <(python3 - "$here" "$csv" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import oracle
src = oracle.SOURCES["milwaukee"]
times = [oracle.event_time_ms(src, row)
         for _, row in oracle.read_rows(sys.argv[2])]
span_s = (max(times) - min(times)) / 1000
print(len(times), span_s / 4.0)
PY
)
        echo "input: $expected records, speed $speed for a 4 s replay"
        "$bin/hearth-admin" create-topics -b "$brokers" --partitions 8 \
                --input "$topic" --dlq it.replay.dlq >/dev/null
        started=$(date +%s.%N)
        "$bin/hearth-replay" --no-progress -b "$brokers" \
                -p connectors/profiles/milwaukee_mpd.json \
                -k "$work/hmac.key" -t "$topic" --dlq-topic it.replay.dlq \
                --speed "$speed" --summary-json "$work/replay.summary" "$csv"
        ended=$(date +%s.%N)
        dump --topic "$topic" --type raw >"$work/replay.raw"
        python3 - "$work/replay.raw" "$expected" "$started" "$ended" \
                "$work/replay.summary" <<'PY'
import base64, json, sys

def event_time_ms(payload):
    """Field 3 (event_time_ms, varint) of a packed IncidentEvent."""
    def varint(i):
        value = shift = 0
        while True:
            b = payload[i]
            value |= (b & 0x7f) << shift
            i, shift = i + 1, shift + 7
            if not b & 0x80:
                return value, i
    i = 0
    while i < len(payload):
        tag, i = varint(i)
        field, wire = tag >> 3, tag & 7
        if wire == 0:
            value, i = varint(i)
            if field == 3:
                return value
        elif wire == 1:
            i += 8
        elif wire == 2:
            n, i = varint(i)
            i += n
        elif wire == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wire)
    return 0

raw, expected = sys.argv[1], int(sys.argv[2])
wall = float(sys.argv[4]) - float(sys.argv[3])
summary = json.load(open(sys.argv[5]))
last, backwards, count = {}, 0, 0
for line in open(raw):
    m = json.loads(line)
    t = event_time_ms(base64.b64decode(m["value"]))
    if t < last.get(m["partition"], 0):
        backwards += 1
    last[m["partition"]] = t
    count += 1
print("topic: %d events in %d partitions, %d out of event-time order"
      % (count, len(last), backwards))
print("wall time %.2f s for a 4 s schedule; sending took %.2f s"
      % (wall, summary["send_s"]))
ok = (count == expected and backwards == 0 and len(last) > 1
      and 4.0 * 0.7 <= wall <= 4.0 * 1.3)
sys.exit(0 if ok else 1)
PY
        # Round trip through a length-delimited file.
        connect -p connectors/profiles/milwaukee_mpd.json --no-kafka \
                --output "$work/replay.pb" "$csv"
        "$bin/hearth-replay" --no-progress -b "$brokers" \
                --protobuf "$work/replay.pb" -t it.replay.pb \
                --summary-json "$work/replay-pb.summary"
        local from_file
        from_file=$("$bin/hearth-admin" count -b "$brokers" \
                --topic it.replay.pb)
        echo "round trip: $from_file events from the protobuf file"
        test "$from_file" -eq "$expected"
}

# A live engine fires a dispatch timer of an idle partition by the wall
# clock: one call gets no dispatch, and no event follows it, so only the
# idle advance of the watermark can make the alert. A dispatched call on
# the same partition must raise nothing.
test_idle_watermark_live() {
        local csv=$work/live.csv log=$work/live.log pid now called dispatched
        local header
        header=$(head -n 1 tests/data/cn_110/sample.csv)
        now=$(date +%s)
        called=$(TZ=Asia/Shanghai date -d "@$((now - 5))" '+%F %T')
        dispatched=$(TZ=Asia/Shanghai date -d "@$((now - 3))" '+%F %T')
        {
                echo "$header"
                python3 - "$called" "$dispatched" "$header" <<'PY'
import sys
called, dispatched, header = sys.argv[1:4]
columns = header.split(",")
for number, dispatch in (("JQLIVE0001", ""), ("JQLIVE0002", dispatched)):
    row = dict.fromkeys(columns, "")
    row.update({"警情编号": number, "报警时间": called, "派警时间": dispatch,
                "报警电话": "13900000000", "标准地址编码": number + "A",
                "行政区划代码": "330106", "派出所": "测试派出所",
                "警情类别": "纠纷", "警情细类": "家庭暴力",
                "简要案情": "邻居报称争吵。"})
    print(",".join(row[c] for c in columns))
PY
        } >"$csv"
        connect -p connectors/profiles/cn_110.json -t it.live.incidents \
                --dlq-topic it.live.dlq "$csv"
        "$bin/hearth-engine" --set kafka.brokers="$brokers" \
                --set redis.port="$HEARTH_REDIS_PORT" \
                --set kafka.group_id=live --set redis.key_prefix=live: \
                --set topics.input=it.live.incidents \
                --set topics.priority_template='it.live.alerts.p{priority}' \
                --set topics.region_template= --set topics.persons= \
                --set engine.allowed_lateness_ms=0 \
                --set engine.idle_advance_ms=1000 \
                --set models.dispatch_overdue.due_minutes=1 \
                >"$log" 2>&1 &
        pid=$!
        echo "$pid" >>"$work/engine.pids"
        for _ in $(seq 120); do
                [ "$("$bin/hearth-admin" count -b "$brokers" \
                        --topic it.live.alerts.p2 2>/dev/null)" -ge 1 ] &&
                        break
                sleep 1
        done
        sleep 2
        kill -TERM "$pid"
        wait "$pid"
        dump --topic it.live.alerts.p2 --type alert >"$work/live.alerts"
        python3 - "$work/live.alerts" "$now" <<'PY'
import json, sys
alerts = [json.loads(line) for line in open(sys.argv[1])]
now_ms = int(sys.argv[2]) * 1000
assert len(alerts) == 1, alerts
a = alerts[0]
assert a["model"] == "dispatch_overdue", a
assert a["subject_key"] == "i:JQLIVE0001", a
due = now_ms - 5000 + 60000
assert a["event_time_ms"] == due, (a["event_time_ms"], due)
# Fired by the wall clock after the deadline, not by a later event.
assert a["emitted_at_ms"] >= due, (a["emitted_at_ms"], due)
print("dispatch_overdue fired at", a["event_time"], "emitted",
      a["emitted_at_ms"] - due, "ms after the deadline")
PY
}

# A generated province stream with injected patterns, through both engine
# stages with two instances each: every injected pattern must alert with
# the expected priority (truth.py exits 1 otherwise), and alerts outside
# them are reported.
test_injected_patterns() {
        local csv=$work/gen.csv truth=$work/truth.jsonl alerts=$work/gen.alerts
        local p settings pids
        "$bin/hearth-gen" --seed 11 --days 120 --calls-per-day 60 \
                --duplicate-fraction 0.005 --late-fraction 0.01 \
                --out "$csv" --truth "$truth" --key-file "$work/hmac.key"
        "$bin/hearth-admin" create-topics -b "$brokers" --partitions 8 \
                --input it.gen.incidents --dlq it.gen.dlq \
                --extra it.gen.persons:8 >/dev/null
        connect -p connectors/profiles/cn_110.json -t it.gen.incidents \
                --dlq-topic it.gen.dlq "$csv"
        settings=(--exit-at-end --set kafka.group_id=gen
                --set redis.key_prefix=gen: --set topics.input=it.gen.incidents
                --set topics.persons=it.gen.persons --set topics.tags=it.gen.tags
                --set topics.priority_template='it.gen.alerts.p{priority}'
                --set topics.region_template= --set engine.idle_advance_ms=0)
        # Two instances per stage share the partitions, as in production.
        engine "${settings[@]}" & pids=("$!")
        engine "${settings[@]}" & pids+=("$!")
        echo "${pids[@]}" | tr ' ' '\n' >>"$work/engine.pids"
        wait "${pids[@]}"
        engine "${settings[@]}" --set engine.stage=persons & pids=("$!")
        engine "${settings[@]}" --set engine.stage=persons & pids+=("$!")
        echo "${pids[@]}" | tr ' ' '\n' >>"$work/engine.pids"
        wait "${pids[@]}"
        for p in 1 2 3 4; do
                dump --topic "it.gen.alerts.p$p" --type alert
        done >"$alerts"
        python3 "$here/truth.py" "$truth" "$alerts" --json "$work/gen.quality"
        dump --topic it.gen.tags --type tag >"$work/gen.tags"
        python3 - "$work/gen.tags" <<'PY'
import json, sys
labels = {}
for line in open(sys.argv[1]):
    tag = json.loads(line)
    labels[tag["label"]] = labels.get(tag["label"], 0) + 1
print("tags by label:", labels)
for label in ("warned_person", "repeat_offender", "order_subject",
              "high_risk_victim"):
    assert labels.get(label, 0) > 0, "no %s tag" % label
PY
}

# scram_kafka start|stop: the SCRAM test's own broker, on the suite's
# ports plus 100 (PLAINTEXT), 101 (controller) and 102 (SASL_PLAINTEXT)
# in its own run directory, so the suite's broker stays untouched.
scram_kafka() {
        local base=$HEARTH_KAFKA_PORT
        HEARTH_RUN_DIR=$work/scram/run HEARTH_KAFKA_PORT=$((base + 100)) \
                HEARTH_KAFKA_CONTROLLER_PORT=$((base + 101)) \
                HEARTH_KAFKA_SASL=scram \
                HEARTH_KAFKA_SASL_PORT=$((base + 102)) \
                HEARTH_KAFKA_SCRAM_USERS=$work/scram/users \
                bash deploy/local/kafka.sh "$1"
}

# scram_properties FILE PASSWORD: a client properties file, mode 600.
scram_properties() {
        (umask 077 && printf '%s\n' security.protocol=SASL_PLAINTEXT \
                sasl.mechanisms=SCRAM-SHA-512 sasl.username=hearth-it \
                "sasl.password=$2" >"$1")
}

# expect_auth_failure NAME COMMAND...: COMMAND must exit non-zero within
# 30 s and log that Kafka authentication failed.
expect_auth_failure() {
        local name=$1 log=$work/scram/$1.bad.log started elapsed rc=0
        shift
        started=$(date +%s%N)
        timeout 60 "$@" >"$log" 2>&1 || rc=$?
        elapsed=$((($(date +%s%N) - started) / 1000000))
        echo "$name with a wrong password: exit $rc after $elapsed ms"
        grep -m 1 "Kafka authentication failed" "$log"
        test "$rc" -ne 0
        test "$rc" -ne 124
        test "$elapsed" -le 30000
}

# SASL/SCRAM-SHA-512 over SASL_PLAINTEXT, with the programs built against
# librdkafka 2.12.1 (make rdkafka212), because Kafka 4 rejects the SCRAM
# login of librdkafka before 2.6.1. The whole pipeline runs with the
# right password, and each program exits with an authentication error
# with a wrong one. Needs crates.io on the first run.
test_sasl_scram() {
        local dir=$work/scram bin212=$root/build-rdkafka212/bin
        local brokers212=127.0.0.1:$((HEARTH_KAFKA_PORT + 102))
        local props=$dir/client.properties bad=$dir/bad.properties
        local password started alerts
        local common=(-b "$brokers212" --kafka-config "$props")
        local engine_opts=(--set kafka.brokers="$brokers212"
                --set kafka.config_file="$props"
                --set redis.port="$HEARTH_REDIS_PORT"
                --set redis.key_prefix=scram: --set kafka.group_id=scram)

        started=$SECONDS
        make -s rdkafka212
        echo "librdkafka 2.12.1 build ready after $((SECONDS - started)) s"
        rm -rf "$dir"
        mkdir -p "$dir"
        password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
        (umask 077 && echo "hearth-it $password" >"$dir/users")
        scram_properties "$props" "$password"
        scram_properties "$bad" \
                "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
        trap 'scram_kafka stop' EXIT
        scram_kafka start

        "$bin212/hearth-admin" "${common[@]}" create-topics --partitions 2
        "$bin212/hearth-connect" --no-progress "${common[@]}" \
                -k "$work/hmac.key" -p connectors/profiles/cn_110.json \
                --summary-json "$dir/connect.summary" \
                tests/data/cn_110/sample.csv
        "$bin212/hearth-engine" "${engine_opts[@]}" --exit-at-end \
                --stats-json "$dir/engine.stats"
        "$bin212/hearth-watch" "${common[@]}" --from-beginning --until-end \
                --timeout 60000 --json >"$dir/alerts.jsonl"
        alerts=$(wc -l <"$dir/alerts.jsonl")
        python3 - "$dir/connect.summary" "$dir/engine.stats" "$alerts" <<'PY'
import json, sys
connect = json.load(open(sys.argv[1]))
engine = json.load(open(sys.argv[2]))
alerts = int(sys.argv[3])
print("over SCRAM: %d events delivered, %d consumed by the engine, %d "
      "alerts published, %d read by hearth-watch"
      % (connect["delivered"], engine["messages"], engine["alerts"], alerts))
assert connect["delivered"] > 0, connect
assert engine["messages"] == connect["delivered"], (engine, connect)
assert engine["alerts"] > 0, engine
assert alerts >= 1, alerts
PY

        expect_auth_failure hearth-connect "$bin212/hearth-connect" \
                --no-progress -b "$brokers212" --kafka-config "$bad" \
                -k "$work/hmac.key" -p connectors/profiles/cn_110.json \
                tests/data/cn_110/sample.csv
        expect_auth_failure hearth-engine "$bin212/hearth-engine" \
                "${engine_opts[@]}" --set kafka.config_file="$bad" \
                --exit-at-end
        expect_auth_failure hearth-watch "$bin212/hearth-watch" \
                -b "$brokers212" --kafka-config "$bad" --from-beginning \
                --until-end
        expect_auth_failure hearth-admin "$bin212/hearth-admin" \
                -b "$brokers212" --kafka-config "$bad" count \
                --topic hearth.incidents
        # The programs built against Debian's librdkafka stop the same way.
        expect_auth_failure hearth-connect-debian "$bin/hearth-connect" \
                --no-progress -b "$brokers212" --kafka-config "$bad" \
                -k "$work/hmac.key" -p connectors/profiles/cn_110.json \
                tests/data/cn_110/sample.csv
        expect_auth_failure hearth-engine-debian "$bin/hearth-engine" \
                "${engine_opts[@]}" --set kafka.config_file="$bad" \
                --exit-at-end

        # Neither the broker's logs nor the programs' output contain the
        # password.
        if grep -rlF "$password" "$dir" --exclude=users \
                --exclude=client.properties; then
                echo "the password appears in the files above"
                return 1
        fi
}

# Every test, in order; "run.sh NAME..." runs only the named ones.
all_tests=(connector_milwaukee connector_berkeley connector_orlando
        connector_bad_input connector_privacy engine_oracle replay_twice
        kill_restart reload_on_sighup idle_watermark_live replay_speed
        engine_hostile_input injected_patterns sasl_scram)

main() {
        local name
        trap stop_services EXIT
        start_services
        for name in "${@:-${all_tests[@]}}"; do
                run_test "$name"
        done
        echo
        if [ "$failed" -gt 0 ]; then
                echo "failed: ${failures[*]}"
        fi
        echo "integration: $passed passed, $failed failed"
        [ "$failed" -eq 0 ]
}

main "$@"
