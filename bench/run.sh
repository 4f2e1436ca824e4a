#!/usr/bin/env bash
# Throughput benchmark of hearth-engine against a real Kafka broker and a
# real Redis server. The script starts both on its own loopback ports and
# run directory (.run/bench) and stops them on every exit, failures included.
#
# It produces BENCH_EVENTS synthetic events, times a plain librdkafka
# consumer and then hearth-engine over them, and writes
# bench/results/latest.json and latest.md. bench/README.md describes the
# figures and the settings.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"

BENCH_EVENTS="${BENCH_EVENTS:-1000000}"
BENCH_SEED="${BENCH_SEED:-1}"
BENCH_HOUSEHOLDS="${BENCH_HOUSEHOLDS:-100000}"
BENCH_DOMESTIC_RATIO="${BENCH_DOMESTIC_RATIO:-0.3}"
BENCH_PARTITIONS="${BENCH_PARTITIONS:-8}"
BENCH_RAW_RUNS="${BENCH_RAW_RUNS:-3}"

# Our own servers: ports and a run directory that no other script uses.
export HEARTH_RUN_DIR="$REPO_DIR/.run/bench"
export HEARTH_KAFKA_PORT=29092
export HEARTH_KAFKA_CONTROLLER_PORT=29093
export HEARTH_REDIS_PORT=26379
BROKERS="127.0.0.1:$HEARTH_KAFKA_PORT"
INPUT_TOPIC=hearth.incidents
CITY_CODE=330100        # the only city_code hearth-bench produce writes

BIN="$REPO_DIR/build/bin"
RESULTS_DIR="$REPO_DIR/bench/results"
WORK_DIR="$HEARTH_RUN_DIR/work"
SERVICES=(bash "$REPO_DIR/deploy/local/services.sh")

log() {
    printf 'bench: %s\n' "$*"
}

die() {
    printf 'bench: error: %s\n' "$*" >&2
    exit 1
}

require_integer() {
    local name="$1" value="$2" min="$3"
    if [[ ! "$value" =~ ^[0-9]+$ ]] || ((10#$value < min)); then
        die "invalid $name '$value': expected a whole number of at least $min"
    fi
}

check_settings() {
    require_integer BENCH_EVENTS "$BENCH_EVENTS" 1
    require_integer BENCH_SEED "$BENCH_SEED" 0
    require_integer BENCH_HOUSEHOLDS "$BENCH_HOUSEHOLDS" 1
    require_integer BENCH_PARTITIONS "$BENCH_PARTITIONS" 1
    require_integer BENCH_RAW_RUNS "$BENCH_RAW_RUNS" 1
    if [[ ! "$BENCH_DOMESTIC_RATIO" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]]; then
        die "invalid BENCH_DOMESTIC_RATIO '$BENCH_DOMESTIC_RATIO': expected a number from 0 to 1"
    fi
    local program
    for program in hearth-bench hearth-bench-report hearth-engine; do
        [[ -x "$BIN/$program" ]] || die "$BIN/$program not found; build it with 'make all' or run 'make bench'"
    done
}

stop_services() {
    local status=$?
    log "stopping Kafka and Redis of $HEARTH_RUN_DIR"
    "${SERVICES[@]}" down || log "stopping the services failed; see the messages above"
    exit "$status"
}

# Starts both servers from an empty run directory, so no topic, offset or
# engine state of an earlier run is left.
start_services() {
    "${SERVICES[@]}" down >/dev/null || die "cannot stop the servers of an earlier run in $HEARTH_RUN_DIR"
    rm -rf "${HEARTH_RUN_DIR:?}"
    trap stop_services EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    "${SERVICES[@]}" up
    mkdir -p "$WORK_DIR" "$RESULTS_DIR"
}

create_topics() {
    if [[ -x "$BIN/hearth-admin" ]]; then
        "$BIN/hearth-admin" --brokers "$BROKERS" create-topics \
            --partitions "$BENCH_PARTITIONS" \
            --extra "hearth.alerts.region.$CITY_CODE:1"
    else
        "$BIN/hearth-bench" create-topics --brokers "$BROKERS" \
            --partitions "$BENCH_PARTITIONS" "$INPUT_TOPIC"
        "$BIN/hearth-bench" create-topics --brokers "$BROKERS" \
            --partitions 1 hearth.incidents.dlq hearth.alerts.p1 \
            hearth.alerts.p2 hearth.alerts.p3 hearth.alerts.p4 \
            "hearth.alerts.region.$CITY_CODE"
    fi
}

# Prints the message count of topic $1, or nothing without hearth-admin.
topic_count() {
    if [[ -x "$BIN/hearth-admin" ]]; then
        "$BIN/hearth-admin" --brokers "$BROKERS" --log-level warn count --topic "$1"
    fi
}

produce() {
    local count
    log "producing $BENCH_EVENTS events (seed $BENCH_SEED, $BENCH_HOUSEHOLDS households, domestic ratio $BENCH_DOMESTIC_RATIO)"
    "$BIN/hearth-bench" produce --brokers "$BROKERS" --topic "$INPUT_TOPIC" \
        --events "$BENCH_EVENTS" --seed "$BENCH_SEED" \
        --households "$BENCH_HOUSEHOLDS" \
        --domestic-ratio "$BENCH_DOMESTIC_RATIO" \
        --json "$WORK_DIR/produce.json"
    count="$(topic_count "$INPUT_TOPIC")"
    if [[ -n "$count" && "$count" != "$BENCH_EVENTS" ]]; then
        die "$INPUT_TOPIC contains $count messages after producing $BENCH_EVENTS; expected $BENCH_EVENTS"
    fi
}

raw_consume() {
    local run
    RAW_ARGS=()
    for ((run = 1; run <= BENCH_RAW_RUNS; run++)); do
        log "raw consume, run $run of $BENCH_RAW_RUNS"
        "$BIN/hearth-bench" consume --brokers "$BROKERS" --topic "$INPUT_TOPIC" \
            --expect "$BENCH_EVENTS" --json "$WORK_DIR/raw-$run.json"
        RAW_ARGS+=(--raw "$WORK_DIR/raw-$run.json")
    done
}

# Prints the user + system CPU ticks of process $1 and its waited-for
# children (fields 14 to 17 of /proc/PID/stat).
cpu_ticks() {
    # The command name in field 2 may contain spaces: cut up to its ')'.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'
}

# Prints the time of the first engine log line that matches $1, in seconds
# since the epoch, or nothing when no line matches.
log_time() {
    local stamp
    stamp="$(grep -m 1 -e "$1" "$WORK_DIR/engine.log" | cut -d ' ' -f 1)" || true
    if [[ -n "$stamp" ]]; then
        date -u -d "$stamp" +%s.%N
    fi
}

run_engine() {
    local redis_pid kafka_pid redis_before kafka_before group
    redis_pid="$(tr -dc '0-9' <"$HEARTH_RUN_DIR/redis/redis.pid")"
    kafka_pid="$(tr -dc '0-9' <"$HEARTH_RUN_DIR/kafka/kafka.pid")"
    group="bench-$(date -u +%Y%m%dT%H%M%SZ)"
    ENGINE_CMD=("$BIN/hearth-engine" --exit-at-end
        --stats-json "$WORK_DIR/engine-stats.json"
        --set "redis.port=$HEARTH_REDIS_PORT"
        --set "kafka.brokers=$BROKERS"
        --set "kafka.group_id=$group")
    log "running: ${ENGINE_CMD[*]}"
    redis_before="$(cpu_ticks "$redis_pid")"
    kafka_before="$(cpu_ticks "$kafka_pid")"
    if ! "${ENGINE_CMD[@]}" >"$WORK_DIR/engine.log" 2>&1; then
        tail -n 20 "$WORK_DIR/engine.log" | sed 's/^/    /' >&2
        die "hearth-engine failed; its log is $WORK_DIR/engine.log"
    fi
    REDIS_CPU_S="$(awk -v a="$redis_before" -v b="$(cpu_ticks "$redis_pid")" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    KAFKA_CPU_S="$(awk -v a="$kafka_before" -v b="$(cpu_ticks "$kafka_pid")" \
        -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')"
    [[ -s "$WORK_DIR/engine-stats.json" ]] || die "hearth-engine wrote no $WORK_DIR/engine-stats.json"
}

# Sets TIMING_ARGS to --active-s (partition assignment to stop) and
# --join-s (first log line to assignment) from the engine log. When the
# log lacks those lines, the report uses the whole run time and states it.
engine_timing() {
    local first assigned stopped
    TIMING_ARGS=()
    first="$(date -u -d "$(head -n 1 "$WORK_DIR/engine.log" | cut -d ' ' -f 1)" +%s.%N 2>/dev/null)" || first=""
    assigned="$(log_time 'partitions assigned')"
    stopped="$(log_time '\] stopped: ')"
    if [[ -z "$assigned" || -z "$stopped" ]]; then
        log "the engine log has no 'partitions assigned' or 'stopped:' line; engine events/s includes start-up and group join"
        return
    fi
    TIMING_ARGS+=(--active-s "$(awk -v a="$assigned" -v b="$stopped" 'BEGIN { printf "%.3f", b - a }')")
    if [[ -n "$first" ]]; then
        TIMING_ARGS+=(--join-s "$(awk -v a="$first" -v b="$assigned" 'BEGIN { printf "%.3f", b - a }')")
    fi
}

# Prints the integer field $1 of the engine's stats JSON, or nothing.
stats_integer() {
    grep -o "\"$1\": *[0-9]*" "$WORK_DIR/engine-stats.json" | head -n 1 | grep -o '[0-9]*$' || true
}

# Fails when the engine did not count every event, and warns when the alert
# topics do not contain the alerts that the engine reports.
check_engine_output() {
    local events alerts published=0 regional priority count
    events="$(stats_integer events)"
    alerts="$(stats_integer alerts)"
    if [[ "$events" != "$BENCH_EVENTS" ]]; then
        die "hearth-engine counted ${events:-no} events of $BENCH_EVENTS; see $WORK_DIR/engine.log"
    fi
    [[ -x "$BIN/hearth-admin" ]] || return 0
    for priority in 1 2 3 4; do
        count="$(topic_count "hearth.alerts.p$priority")"
        published=$((published + count))
    done
    regional="$(topic_count "hearth.alerts.region.$CITY_CODE")"
    if [[ "$published" != "$alerts" || "$regional" != "$alerts" ]]; then
        log "warning: the engine reports $alerts alerts, but hearth.alerts.p1..p4 contain $published and hearth.alerts.region.$CITY_CODE contains $regional"
    fi
}

# The command line that reproduces this run, with every knob spelled out.
describe_command() {
    local runner="bash bench/run.sh"
    if [[ -n "${MAKELEVEL:-}" ]]; then
        runner="make bench"
    fi
    printf 'BENCH_EVENTS=%s BENCH_SEED=%s BENCH_HOUSEHOLDS=%s BENCH_DOMESTIC_RATIO=%s BENCH_PARTITIONS=%s BENCH_RAW_RUNS=%s %s' \
        "$BENCH_EVENTS" "$BENCH_SEED" "$BENCH_HOUSEHOLDS" \
        "$BENCH_DOMESTIC_RATIO" "$BENCH_PARTITIONS" "$BENCH_RAW_RUNS" "$runner"
}

report() {
    local engine_cmd="${ENGINE_CMD[*]}"
    "$BIN/hearth-bench-report" --produce "$WORK_DIR/produce.json" \
        "${RAW_ARGS[@]}" --engine "$WORK_DIR/engine-stats.json" \
        "${TIMING_ARGS[@]}" --redis-cpu-s "$REDIS_CPU_S" \
        --kafka-cpu-s "$KAFKA_CPU_S" --command "$(describe_command)" \
        --engine-command "${engine_cmd//$REPO_DIR\//}" \
        --json "$RESULTS_DIR/latest.json" --markdown "$RESULTS_DIR/latest.md"
    log "wrote $RESULTS_DIR/latest.json and $RESULTS_DIR/latest.md"
}

main() {
    check_settings
    start_services
    create_topics
    produce
    raw_consume
    run_engine
    engine_timing
    check_engine_output
    report
}

main "$@"
