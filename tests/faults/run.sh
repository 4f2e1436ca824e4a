#!/usr/bin/env bash
# Fault tests: the engine against a real Kafka broker (KRaft) and a real
# Redis server (append-only file on). This script starts both on loopback
# ports of its own, 18092, 18093 and 18379, in .run/faults, and stops them
# on exit. HEARTH_FAULTS_KAFKA_PORT, HEARTH_FAULTS_CONTROLLER_PORT,
# HEARTH_FAULTS_REDIS_PORT and HEARTH_FAULTS_RUN_DIR change them. It kills the
# engine, Redis and the broker at chosen points and checks that the alert
# ids on the alert topics equal the oracle's (tests/integration/oracle.py)
# and that the state in Redis counts every input message once. A duplicate
# (one alert id delivered twice) is reported, not failed.
#
# Each test has its own consumer group, Redis key prefix and alert topics.
# Needs: make all, python3, redis-server, Java 17 and the Kafka jars.
# Usage: run.sh [TEST...], by default every test. Prints "N passed,
# N failed" last; exits non-zero if any test failed.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
bin=$root/build/bin
here=$root/tests/faults
oracle=$root/tests/integration/oracle.py
csv=$root/tests/data/real/milwaukee_mpd_2018/data.csv

export HEARTH_RUN_DIR=${HEARTH_FAULTS_RUN_DIR:-$root/.run/faults}
export HEARTH_KAFKA_PORT=${HEARTH_FAULTS_KAFKA_PORT:-18092}
export HEARTH_KAFKA_CONTROLLER_PORT=${HEARTH_FAULTS_CONTROLLER_PORT:-18093}
export HEARTH_REDIS_PORT=${HEARTH_FAULTS_REDIS_PORT:-18379}
brokers=127.0.0.1:$HEARTH_KAFKA_PORT
work=$HEARTH_RUN_DIR/work
chunks=10
passed=0
failed=0
failures=()

stop_services() {
        local pid
        # Engines and connectors a failed test left running.
        if [ -f "$work/pids" ]; then
                while read -r pid; do
                        kill -CONT "$pid" 2>/dev/null || true
                        kill -KILL "$pid" 2>/dev/null || true
                done <"$work/pids"
        fi
        # A Redis server stopped by test_redis_stop must get SIGTERM.
        pid=$(cat "$HEARTH_RUN_DIR/redis/redis.pid" 2>/dev/null || true)
        [ -z "$pid" ] || kill -CONT "$pid" 2>/dev/null || true
        bash deploy/local/services.sh down >/dev/null 2>&1 || true
}

start_services() {
        stop_services
        rm -rf "$HEARTH_RUN_DIR"
        mkdir -p "$work/chunks"
        bash deploy/local/services.sh up
        (umask 077 && head -c 32 /dev/urandom | base64 >"$work/hmac.key")
        "$bin/hearth-admin" create-topics -b "$brokers" --partitions 8 \
                --extra fb.incidents:8 --extra fc.incidents:8 \
                --extra fd.incidents:8 --extra fe.incidents:8 \
                --extra ff.incidents:1
}

# run_test NAME: runs test_NAME, counting and reporting the result.
run_test() {
        local name=$1 started=$SECONDS rc
        echo "=== $name"
        # Not in an if: errexit must stay active inside the test.
        set +e
        (set -e; "test_$name") >"$work/$name.log" 2>&1
        rc=$?
        set -e
        if [ "$rc" -eq 0 ]; then
                passed=$((passed + 1))
                tail -n 6 "$work/$name.log"
                echo "--- PASS $name ($((SECONDS - started)) s)"
        else
                failed=$((failed + 1))
                failures+=("$name")
                tail -n 40 "$work/$name.log"
                echo "--- FAIL $name ($((SECONDS - started)) s," \
                        "log: $work/$name.log)"
        fi
}

redis() {
        redis-cli -h 127.0.0.1 -p "$HEARTH_REDIS_PORT" "$@"
}

redis_pid() {
        cat "$HEARTH_RUN_DIR/redis/redis.pid"
}

# redis_sum PATTERN EXPR: sums the Lua expression EXPR (of key k) over the
# keys matching PATTERN.
redis_sum() {
        redis EVAL "local t = 0
for _, k in ipairs(redis.call('KEYS', ARGV[1])) do t = t + ($2) end
return t" 0 "$1"
}

# progress NAME: input messages the engine of test NAME has applied, the
# sum of the next offsets stored in Redis.
progress() {
        redis_sum "$1:{p*}:progress" \
                "tonumber(redis.call('HGET', k, 'offset') or 0)"
}

# wait_progress NAME TARGET SECONDS: waits until NAME applied TARGET
# input messages.
wait_progress() {
        local now deadline=$((SECONDS + $3))
        while now=$(progress "$1") && [ "$now" -lt "$2" ]; do
                if [ "$SECONDS" -ge "$deadline" ]; then
                        echo "timed out after $3 s: $now of $2 input" \
                                "messages applied"
                        return 1
                fi
                sleep 0.2
        done
        echo "$now input messages applied"
}

# engine_opts NAME: sets opts to the options of test NAME's engines: its
# own consumer group, key prefix and alert topics, short batch waits and a
# Redis timeout of 1 s.
engine_opts() {
        opts=(--set kafka.brokers="$brokers"
                --set redis.port="$HEARTH_REDIS_PORT"
                --set redis.key_prefix="$1:" --set kafka.group_id="$1"
                --set "topics.priority_template=$1.alerts.p{priority}"
                --set topics.region_template=
                --set engine.batch_max_wait_ms=5
                --set redis.timeout_ms=1000)
}

# start_engine LOG OPTION...: starts an engine in the background with
# HEARTH_CRASH_POINT=$crash_point and sets engine_pid.
start_engine() {
        local log=$1
        shift
        HEARTH_CRASH_POINT=${crash_point:-} "$bin/hearth-engine" "$@" \
                >>"$log" 2>&1 &
        engine_pid=$!
        echo "$engine_pid" >>"$work/pids"
}

# stop_engine PID: SIGTERM, then waits; fails when it does not exit
# within 60 s or exits with an error.
stop_engine() {
        local i
        kill -TERM "$1"
        for i in $(seq 600); do
                kill -0 "$1" 2>/dev/null || break
                sleep 0.1
        done
        if kill -0 "$1" 2>/dev/null; then
                echo "engine $1 did not exit within 60 s of SIGTERM"
                kill -KILL "$1"
                return 1
        fi
        wait "$1"
}

connect() {
        "$bin/hearth-connect" --no-progress -b "$brokers" \
                -k "$work/hmac.key" -p connectors/profiles/milwaukee_mpd.json \
                "$@"
}

# produce_chunks TOPIC FIRST LAST: produces chunk files FIRST to LAST.
produce_chunks() {
        local k
        for k in $(seq "$2" "$3"); do
                connect --order file -t "$1" "$work/chunks/chunk.$k" \
                        2>>"$work/connect.log"
        done
}

# dump_alerts NAME: writes the alerts of NAME's topics to NAME.alerts.jsonl.
# A priority without alerts has no topic, which dump reports on stderr.
dump_alerts() {
        local p
        : >"$work/$1.alerts.jsonl"
        for p in 1 2 3 4; do
                "$bin/hearth-admin" dump -b "$brokers" --type alert \
                        --topic "$1.alerts.p$p" \
                        >>"$work/$1.alerts.jsonl" 2>/dev/null
        done
}

# check_final NAME RECORDS: the alert ids of NAME's topics equal the
# oracle's; Redis counts RECORDS input messages, every household incident
# once, and no unpublished outbox.
check_final() {
        local name=$1 records=$2 applied members outbox
        dump_alerts "$name"
        applied=$(progress "$name")
        members=$(redis_sum "$name:{p*}:rc:*" "redis.call('ZCARD', k)")
        outbox=$(redis_sum "$name:{p*}:outbox" "redis.call('LLEN', k)")
        echo "state: $applied of $records input messages applied," \
                "$members of $household_incidents household incidents," \
                "$outbox outbox messages left"
        python3 "$here/faults.py" ids "$work/oracle.jsonl" \
                "$work/$name.alerts.jsonl"
        test "$applied" -eq "$records"
        test "$members" -eq "$household_incidents"
        test "$outbox" -eq 0
}

# wait_for_log FILE TEXT: waits up to 30 s for TEXT to appear in FILE.
wait_for_log() {
        local i
        for i in $(seq 1500); do
                grep -q -- "$2" "$1" 2>/dev/null && return 0
                sleep 0.02
        done
        echo "timed out waiting for \"$2\" in $1"
        return 1
}

# crash_run LOG POINT: runs an engine with HEARTH_CRASH_POINT=POINT and
# fails unless it kills itself there within 60 s.
crash_run() {
        local log=$1 point=$2 rc
        crash_point=$point start_engine "$log" "${opts[@]}"
        set +e
        timeout 60 tail --pid="$engine_pid" -f /dev/null
        # Still running after 60 s: the point was missed.
        kill -KILL "$engine_pid" 2>/dev/null
        wait "$engine_pid"
        rc=$?
        set -e
        if [ "$rc" -ne 137 ] ||
                ! grep -q "crash point ${point%:*} reached" "$log"; then
                echo "engine exited with status $rc, not at $point"
                return 1
        fi
}

# a: SIGKILLs until the input is consumed (at least 20, at most 80), then
# a clean run to the end. Every other kill is a crash point, in turn. The
# others come at a random moment: one in four 0 to 1.5 s after the start,
# often during the resynchronization, and the rest 0 to 1.5 s after the
# partitions are assigned. The first fetch of a partition without a stored
# offset comes only after the consumer's 500 ms fetch wait
# (fetch.wait.max.ms), so shorter delays would kill before any progress.
test_engine_kills() {
        local name=fa kills=0 crashes=0 point delay_ms log rc
        local points=(after_poll:1 before_redis_commit:1 after_redis_commit:1
                after_produce:1 after_poll:40 before_redis_commit:25
                after_redis_commit:60 after_produce:3 after_produce:2)
        engine_opts "$name"
        # Static membership: a restarted engine takes its partitions back
        # without waiting for the session timeout. Batches of 5 messages
        # spread the kills over the input.
        opts+=(--set kafka.group_instance_id=fa-1
                --set engine.batch_max_events=5)

        # An invalid crash point stops the engine before it connects.
        set +e
        HEARTH_CRASH_POINT=after_pol:2 "$bin/hearth-engine" "${opts[@]}" \
                2>"$work/fa.invalid.log"
        rc=$?
        set -e
        cat "$work/fa.invalid.log"
        test "$rc" -eq 2
        grep -q "unknown crash point 'after_pol'" "$work/fa.invalid.log"

        while [ "$(progress "$name")" -lt "$records" ] &&
                [ "$kills" -lt 80 ]; do
                log=$work/fa.engine.$kills.log
                if [ $((kills % 2)) -eq 1 ] &&
                        [ "$crashes" -lt "${#points[@]}" ]; then
                        point=${points[$crashes]}
                        crash_run "$log" "$point"
                        crashes=$((crashes + 1))
                else
                        start_engine "$log" "${opts[@]}"
                        delay_ms=$((RANDOM % 1500))
                        if [ $((RANDOM % 4)) -eq 0 ]; then
                                point="random, $delay_ms ms after the start"
                        else
                                wait_for_log "$log" "partitions assigned"
                                point="random, $delay_ms ms after"
                                point+=" the assignment"
                        fi
                        sleep "$((delay_ms / 1000)).$(printf '%03d' \
                                $((delay_ms % 1000)))"
                        kill -KILL "$engine_pid"
                        wait "$engine_pid" 2>/dev/null || true
                fi
                kills=$((kills + 1))
                echo "kill $kills ($point): $(progress "$name") input" \
                        "messages applied"
        done

        test "$kills" -ge 20
        test "$crashes" -eq "${#points[@]}"
        "$bin/hearth-engine" "${opts[@]}" --exit-at-end \
                >>"$work/fa.engine.log" 2>&1
        check_final "$name" "$records"
}

# start_midstream NAME OPTION...: starts test NAME's engine on the topic
# NAME.incidents with batches of 20 messages, produces the first 3 chunks
# and waits for the engine's first batch.
start_midstream() {
        local name=$1
        shift
        engine_opts "$name"
        opts+=(--set topics.input="$name.incidents"
                --set engine.batch_max_events=20 "$@")
        start_engine "$work/$name.engine.log" "${opts[@]}"
        produce_chunks "$name.incidents" 1 3
        wait_progress "$name" 1 30
}

# produce_async TOPIC K: produces chunk K in the background; sets
# producer_pid.
produce_async() {
        connect --order file -t "$1" "$work/chunks/chunk.$2" \
                2>>"$work/connect.log" &
        producer_pid=$!
        echo "$producer_pid" >>"$work/pids"
}

# finish_midstream NAME: produces the other chunks and waits until the
# engine of start_midstream, still running, applied every message.
finish_midstream() {
        produce_chunks "$1.incidents" 5 "$chunks"
        wait_progress "$1" "$records" 120
        kill -0 "$engine_pid"
}

# b: Redis killed with SIGKILL while input flows, then restarted from its
# append-only file. The engine reconnects by itself.
test_redis_kill() {
        local log=$work/fb.engine.log
        start_midstream fb
        produce_async fb.incidents 4
        sleep 0.2
        kill -KILL "$(redis_pid)"
        echo "Redis killed at $(date +%T.%N | cut -c1-12)"
        wait "$producer_pid"

        sleep 2
        bash deploy/local/redis.sh start
        finish_midstream fb
        grep -E "Redis|resynchronized" "$log" | cut -c1-150 | sort -k3 |
                uniq -c -f 2 | head -n 8
        grep -q "resynchronized from Redis offsets" "$log"

        stop_engine "$engine_pid"
        check_final fb "$records"
}

# c: Redis stopped (SIGSTOP) for 4 s, longer than redis.timeout_ms, while
# input flows. The engine times out, reconnects once Redis runs again,
# and catches up.
test_redis_stop() {
        local log=$work/fc.engine.log metrics=$work/fc.prom pid
        start_midstream fc --set metrics.file="$metrics" \
                --set metrics.interval_ms=200
        pid=$(redis_pid)
        produce_async fc.incidents 4
        sleep 0.2
        kill -STOP "$pid"
        echo "Redis stopped at $(date +%T.%N | cut -c1-12)"
        wait "$producer_pid"
        sleep 4
        kill -CONT "$pid"
        echo "Redis continued at $(date +%T.%N | cut -c1-12)"

        finish_midstream fc
        grep -E "Redis|resynchronized" "$log" | cut -c1-150 | head -n 8
        # hiredis reports a read timeout as EAGAIN's message.
        grep -q "Resource temporarily unavailable" "$log"
        grep -q "resynchronized from Redis offsets" "$log"
        # The metrics file is rewritten every 200 ms.
        sleep 1
        python3 "$here/faults.py" metrics "$metrics" lag=0

        stop_engine "$engine_pid"
        check_final fc "$records"
}

# d: the broker stopped and restarted on the same log directory while the
# engine runs and while the connector produces.
test_broker_restart() {
        start_midstream fd
        bash deploy/local/kafka.sh stop
        # The connector starts while the broker is down and must deliver
        # once it is back.
        produce_async fd.incidents 4
        sleep 3
        bash deploy/local/kafka.sh start
        wait "$producer_pid"

        finish_midstream fd
        stop_engine "$engine_pid"
        check_final fd "$records"
}

# e: a second engine of the same group joins and leaves 6 times while the
# input is produced in chunks. Two of the leaves are SIGKILLs, which the
# group notices after the 6 s session timeout.
test_rebalance_churn() {
        local name=fe log=$work/fe.engine.log log2=$work/fe.engine2.log
        local first second i
        engine_opts "$name"
        opts+=(--set topics.input=fe.incidents --set engine.batch_max_events=50
                --set kafka.config_file="$work/fe.kafka.properties")
        printf 'session.timeout.ms=6000\nheartbeat.interval.ms=500\n' \
                >"$work/fe.kafka.properties"
        start_engine "$log" "${opts[@]}"
        first=$engine_pid

        for i in 1 2 3 4 5 6; do
                start_engine "$log2" "${opts[@]}"
                second=$engine_pid
                produce_chunks fe.incidents "$i" "$i"
                sleep 2
                if [ $((i % 3)) -eq 0 ]; then
                        kill -KILL "$second"
                        wait "$second" 2>/dev/null || true
                        echo "churn $i: second engine killed"
                else
                        stop_engine "$second"
                        echo "churn $i: second engine left"
                fi
        done
        produce_chunks fe.incidents 7 "$chunks"
        echo "rebalances seen by the first engine:" \
                "$(grep -c "partitions assigned" "$log")"
        wait_progress "$name" "$records" 120
        stop_engine "$first"
        check_final "$name" "$records"
}

# f: events far behind the watermark and a reporting clock one day ahead,
# on a small invented input. Late events are counted and raise no alert.
# The inline oracle has no fusion, so fusion is off here; the Milwaukee
# oracle of the other tests applies it.
test_late_events() {
        local name=ff log=$work/ff.engine.log expected
        engine_opts "$name"
        opts+=(--set topics.input=ff.incidents
                --set engine.allowed_lateness_ms=3600000
                --set models.hotspot.enabled=false
                --set engine.fusion_window_hours=0
                --set metrics.file="$work/ff.prom")
        expected=$(python3 "$here/faults.py" late-input "$work/late.csv" \
                "$work/hmac.key" 3600000)
        python3 -c 'import json, sys
d = json.loads(sys.argv[1])
for a in d["alerts"]:
    print(json.dumps(a))' "$expected" >"$work/ff.oracle.jsonl"
        connect --order file -t ff.incidents "$work/late.csv"
        "$bin/hearth-engine" "${opts[@]}" --exit-at-end \
                --stats-json "$work/ff.stats" >>"$log" 2>&1
        python3 "$here/faults.py" stats "$work/ff.stats" \
                '{"events": 12, "late": 4, "alerts": 5}'
        python3 "$here/faults.py" metrics "$work/ff.prom" events=12 \
                late_events=4 lag=0
        dump_alerts "$name"
        python3 "$here/faults.py" ids "$work/ff.oracle.jsonl" \
                "$work/ff.alerts.jsonl"
}

main() {
        local started=$SECONDS expected name tests=("$@")
        [ "${#tests[@]}" -gt 0 ] || tests=(engine_kills redis_kill redis_stop
                broker_restart rebalance_churn late_events)
        trap stop_services EXIT
        start_services
        connect "$csv"
        records=$("$bin/hearth-admin" count -b "$brokers" \
                --topic hearth.incidents)
        python3 "$oracle" alerts milwaukee "$csv" \
                --key-file "$work/hmac.key" >"$work/oracle.jsonl"
        expected=$(python3 "$here/faults.py" expect-state milwaukee "$csv")
        household_incidents=$(python3 -c 'import json, sys
print(json.loads(sys.argv[1])["household_incidents"])' "$expected")
        python3 "$here/faults.py" chunks milwaukee "$csv" "$work/chunks" \
                "$chunks"
        echo "input: $records messages, $(wc -l <"$work/oracle.jsonl")" \
                "expected alerts, $household_incidents household incidents"
        for name in "${tests[@]}"; do
                run_test "$name"
        done
        echo
        if [ "$failed" -gt 0 ]; then
                echo "failed: ${failures[*]}"
        fi
        echo "faults: $passed passed, $failed failed in" \
                "$((SECONDS - started)) s"
        [ "$failed" -eq 0 ]
}

main "$@"
