#!/usr/bin/env bash
# Benchmark of hearth-engine against a real Kafka broker and a real Redis
# server. The script starts both on its own loopback ports and run
# directory (.run/bench) and stops them, and every program it started, on
# every exit, failures included.
#
# One run measures, in this order: throughput and CPU of both engine
# stages over BENCH_EVENTS synthetic events, and Redis memory per tracked
# subject after them. Then engine peak RSS over two history lengths,
# event-to-alert latency at two offered rates, scale-out to two engine
# instances, and detection quality on a hearth-gen stream. Each part after
# the first uses its own topics, consumer group and Redis key prefix.
# bench/README.md describes the figures and the settings.
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_DIR"

BENCH_EVENTS="${BENCH_EVENTS:-1000000}"
BENCH_SEED="${BENCH_SEED:-1}"
BENCH_HOUSEHOLDS="${BENCH_HOUSEHOLDS:-100000}"
BENCH_DOMESTIC_RATIO="${BENCH_DOMESTIC_RATIO:-0.3}"
BENCH_PARTITIONS="${BENCH_PARTITIONS:-8}"
BENCH_RAW_RUNS="${BENCH_RAW_RUNS:-3}"
BENCH_MEMORY_EVENTS="${BENCH_MEMORY_EVENTS:-300000}"
BENCH_MEMORY_DIVISOR="${BENCH_MEMORY_DIVISOR:-10}"
BENCH_MEMORY_PREFETCH_KB="${BENCH_MEMORY_PREFETCH_KB:-4096}"
BENCH_LATENCY_RATE="${BENCH_LATENCY_RATE:-1000}"
BENCH_LATENCY_HIGH_PERCENT="${BENCH_LATENCY_HIGH_PERCENT:-80}"
BENCH_LATENCY_SECONDS="${BENCH_LATENCY_SECONDS:-15}"
BENCH_LATENCY_HOUSEHOLDS="${BENCH_LATENCY_HOUSEHOLDS:-2000}"
BENCH_LATENCY_BATCH_WAIT_MS="${BENCH_LATENCY_BATCH_WAIT_MS:-5}"
BENCH_LATENCY_DRAIN_S="${BENCH_LATENCY_DRAIN_S:-3}"
BENCH_LATENCY_WARMUP_S="${BENCH_LATENCY_WARMUP_S:-5}"
BENCH_SCALE_OUT="${BENCH_SCALE_OUT:-1}"
BENCH_QUALITY_DAYS="${BENCH_QUALITY_DAYS:-365}"
BENCH_QUALITY_PATTERN_SCALE="${BENCH_QUALITY_PATTERN_SCALE:-5}"
BENCH_QUALITY_CALLS_PER_DAY="${BENCH_QUALITY_CALLS_PER_DAY:-100}"
BENCH_QUALITY_SEED="${BENCH_QUALITY_SEED:-1}"

# Our own servers: ports and a run directory that no other script uses.
export HEARTH_RUN_DIR="$REPO_DIR/.run/bench"
export HEARTH_KAFKA_PORT=29092
export HEARTH_KAFKA_CONTROLLER_PORT=29093
export HEARTH_REDIS_PORT=26379
BROKERS="127.0.0.1:$HEARTH_KAFKA_PORT"
INPUT_TOPIC=hearth.incidents
PERSONS_TOPIC=hearth.persons
CITY_CODE=330100        # the only city_code hearth-bench produce writes
KEY_PREFIX="hearth:"    # the engine's default redis.key_prefix

BIN="$REPO_DIR/build/bin"
RESULTS_DIR="$REPO_DIR/bench/results"
WORK_DIR="$HEARTH_RUN_DIR/work"
SERVICES=(bash "$REPO_DIR/deploy/local/services.sh")
REDIS_CLI=(redis-cli -h 127.0.0.1 -p "$HEARTH_REDIS_PORT")

# Programs started in the background, stopped by pid on exit.
BACKGROUND_PIDS=()

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
    require_integer BENCH_MEMORY_EVENTS "$BENCH_MEMORY_EVENTS" 0
    require_integer BENCH_MEMORY_DIVISOR "$BENCH_MEMORY_DIVISOR" 1
    require_integer BENCH_MEMORY_PREFETCH_KB "$BENCH_MEMORY_PREFETCH_KB" 1
    require_integer BENCH_LATENCY_RATE "$BENCH_LATENCY_RATE" 0
    require_integer BENCH_LATENCY_HIGH_PERCENT "$BENCH_LATENCY_HIGH_PERCENT" 0
    require_integer BENCH_LATENCY_SECONDS "$BENCH_LATENCY_SECONDS" 1
    require_integer BENCH_LATENCY_HOUSEHOLDS "$BENCH_LATENCY_HOUSEHOLDS" 1
    require_integer BENCH_LATENCY_BATCH_WAIT_MS "$BENCH_LATENCY_BATCH_WAIT_MS" 0
    require_integer BENCH_LATENCY_DRAIN_S "$BENCH_LATENCY_DRAIN_S" 1
    require_integer BENCH_LATENCY_WARMUP_S "$BENCH_LATENCY_WARMUP_S" 0
    require_integer BENCH_SCALE_OUT "$BENCH_SCALE_OUT" 0
    require_integer BENCH_QUALITY_DAYS "$BENCH_QUALITY_DAYS" 0
    require_integer BENCH_QUALITY_PATTERN_SCALE "$BENCH_QUALITY_PATTERN_SCALE" 0
    require_integer BENCH_QUALITY_CALLS_PER_DAY "$BENCH_QUALITY_CALLS_PER_DAY" 1
    require_integer BENCH_QUALITY_SEED "$BENCH_QUALITY_SEED" 0
    if [[ ! "$BENCH_DOMESTIC_RATIO" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]]; then
        die "invalid BENCH_DOMESTIC_RATIO '$BENCH_DOMESTIC_RATIO': expected a number from 0 to 1"
    fi
    local program
    for program in hearth-bench hearth-bench-report hearth-engine \
        hearth-admin hearth-gen hearth-connect; do
        [[ -x "$BIN/$program" ]] || die "$BIN/$program not found; build it with 'make all' or run 'make bench'"
    done
    command -v redis-cli >/dev/null || die "redis-cli not found; install redis-tools (make deps)"
    command -v python3 >/dev/null || die "python3 not found; install it (make deps)"
}

stop_background() {
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BACKGROUND_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BACKGROUND_PIDS=()
}

stop_services() {
    local status=$?
    stop_background
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

# Creates the topics of the main run: hearth.incidents and hearth.persons
# with BENCH_PARTITIONS partitions, the alert topics with one.
create_topics() {
    "$BIN/hearth-admin" --brokers "$BROKERS" create-topics \
        --partitions "$BENCH_PARTITIONS" \
        --extra "hearth.alerts.region.$CITY_CODE:1"
}

# Creates the topics of one part of the run, named "$1.*": the input and
# person topics with BENCH_PARTITIONS partitions, alert and tag topics
# with one.
create_part_topics() {
    local name="$1"
    "$BIN/hearth-bench" create-topics --brokers "$BROKERS" \
        --partitions "$BENCH_PARTITIONS" "$name.incidents" "$name.persons" >/dev/null
    "$BIN/hearth-bench" create-topics --brokers "$BROKERS" --partitions 1 \
        "$name.alerts.p1" "$name.alerts.p2" "$name.alerts.p3" \
        "$name.alerts.p4" "$name.tags" "$name.dlq" >/dev/null
}

# Prints the engine options that send every topic and key of a part of
# the run, named $1, to its own names.
part_settings() {
    local name="$1"
    printf '%s\n' --set "topics.input=$name.incidents" \
        --set "topics.persons=$name.persons" --set "topics.tags=$name.tags" \
        --set "topics.dlq=$name.dlq" \
        --set "topics.priority_template=$name.alerts.p{priority}" \
        --set "topics.region_template=$name.alerts.region.{city}" \
        --set "redis.key_prefix=$name:" --set "kafka.group_id=$name"
}

# Prints the message count of topic $1.
topic_count() {
    "$BIN/hearth-admin" --brokers "$BROKERS" --log-level warn count --topic "$1"
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
    if [[ "$count" != "$BENCH_EVENTS" ]]; then
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

# Prints the CPU seconds between two tick counts $1 and $2.
ticks_to_s() {
    awk -v a="$1" -v b="$2" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%.2f", (b - a) / hz }'
}

# Prints the time of the first line of log $1 that matches $2, in seconds
# since the epoch, or nothing when no line matches.
log_time() {
    local stamp
    stamp="$(grep -m 1 -e "$2" "$1" | cut -d ' ' -f 1)" || true
    if [[ -n "$stamp" ]]; then
        date -u -d "$stamp" +%s.%N
    fi
}

# Prints the integer field $2 of the stats JSON $1, or nothing.
stats_integer() {
    grep -o "\"$2\": *[0-9]*" "$1" | head -n 1 | grep -o '[0-9]*$' || true
}

# Prints the engine's base command with the servers of this run.
engine_base() {
    printf '%s\n' "$BIN/hearth-engine" --set "redis.port=$HEARTH_REDIS_PORT" \
        --set "kafka.brokers=$BROKERS"
}

# Runs one engine stage with --exit-at-end and fails when it fails. $1 is
# the name of its log and stats files in WORK_DIR; the rest are options.
run_engine_to_end() {
    local name="$1" cmd
    shift
    mapfile -t cmd < <(engine_base)
    cmd+=(--exit-at-end --stats-json "$WORK_DIR/$name-stats.json" "$@")
    log "running: ${cmd[*]//$REPO_DIR\//}"
    if ! "${cmd[@]}" >"$WORK_DIR/$name.log" 2>&1; then
        tail -n 20 "$WORK_DIR/$name.log" | sed 's/^/    /' >&2
        die "hearth-engine failed; its log is $WORK_DIR/$name.log"
    fi
    [[ -s "$WORK_DIR/$name-stats.json" ]] || die "hearth-engine wrote no $WORK_DIR/$name-stats.json"
}

# Writes "seconds-since-start events_total" of the engine's metrics file
# $1 to file $2 once a second until killed.
sample_metrics() {
    local metrics="$1" out="$2" start now events
    start="$(date +%s.%N)"
    while :; do
        sleep 1
        now="$(date +%s.%N)"
        events="$(awk '$1 == "hearth_engine_events_total" { print $2 }' "$metrics" 2>/dev/null)" || true
        printf '%s %s\n' "$(awk -v a="$start" -v b="$now" 'BEGIN { printf "%.2f", b - a }')" \
            "${events:-0}" >>"$out"
    done
}

# Runs the incidents stage over hearth.incidents, reading the CPU time of
# Redis and Kafka from /proc before and after, and its event count from
# the metrics file every second.
run_engine() {
    local redis_before kafka_before sampler
    REDIS_PID="$(tr -dc '0-9' <"$HEARTH_RUN_DIR/redis/redis.pid")"
    KAFKA_PID="$(tr -dc '0-9' <"$HEARTH_RUN_DIR/kafka/kafka.pid")"
    GROUP="bench-$(date -u +%Y%m%dT%H%M%SZ)"
    mapfile -t ENGINE_CMD < <(engine_base)
    ENGINE_CMD+=(--exit-at-end --set "kafka.group_id=$GROUP")
    redis_before="$(cpu_ticks "$REDIS_PID")"
    kafka_before="$(cpu_ticks "$KAFKA_PID")"
    : >"$WORK_DIR/throughput-samples.txt"
    sample_metrics "$WORK_DIR/metrics.prom" "$WORK_DIR/throughput-samples.txt" &
    sampler=$!
    BACKGROUND_PIDS+=("$sampler")
    run_engine_to_end engine --set "kafka.group_id=$GROUP" \
        --set "metrics.file=$WORK_DIR/metrics.prom" \
        --set metrics.interval_ms=500
    kill -TERM "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    BACKGROUND_PIDS=()
    REDIS_CPU_S="$(ticks_to_s "$redis_before" "$(cpu_ticks "$REDIS_PID")")"
    KAFKA_CPU_S="$(ticks_to_s "$kafka_before" "$(cpu_ticks "$KAFKA_PID")")"
}

# Prints the seconds from the first "partitions assigned" line to the last
# "stopped:" line over the engine logs given, or nothing.
active_seconds() {
    local log assigned stopped first="" last=""
    for log in "$@"; do
        assigned="$(log_time "$log" 'partitions assigned')"
        stopped="$(log_time "$log" '\] stopped: ')"
        [[ -n "$assigned" && -n "$stopped" ]] || return 0
        if [[ -z "$first" ]] || awk -v a="$assigned" -v b="$first" 'BEGIN { exit !(a < b) }'; then
            first="$assigned"
        fi
        if [[ -z "$last" ]] || awk -v a="$stopped" -v b="$last" 'BEGIN { exit !(a > b) }'; then
            last="$stopped"
        fi
    done
    awk -v a="$first" -v b="$last" 'BEGIN { printf "%.3f", b - a }'
}

# Sets TIMING_ARGS to --active-s (partition assignment to stop) and
# --join-s (first log line to assignment) from the engine log. When the
# log lacks those lines, the report uses the whole run time and states it.
engine_timing() {
    local log="$WORK_DIR/engine.log" first assigned
    TIMING_ARGS=()
    ACTIVE_S="$(active_seconds "$log")"
    if [[ -z "$ACTIVE_S" ]]; then
        log "the engine log has no 'partitions assigned' or 'stopped:' line; engine events/s includes start-up and group join"
        return
    fi
    TIMING_ARGS+=(--active-s "$ACTIVE_S")
    first="$(date -u -d "$(head -n 1 "$log" | cut -d ' ' -f 1)" +%s.%N 2>/dev/null)" || first=""
    assigned="$(log_time "$log" 'partitions assigned')"
    if [[ -n "$first" ]]; then
        TIMING_ARGS+=(--join-s "$(awk -v a="$first" -v b="$assigned" 'BEGIN { printf "%.3f", b - a }')")
    fi
}

# Fails when the engine did not count every event, and warns when the alert
# topics do not contain the alerts that the engine reports.
check_engine_output() {
    local stats="$WORK_DIR/engine-stats.json" events alerts published=0 regional priority count
    events="$(stats_integer "$stats" events)"
    alerts="$(stats_integer "$stats" alerts)"
    if [[ "$events" != "$BENCH_EVENTS" ]]; then
        die "hearth-engine counted ${events:-no} events of $BENCH_EVENTS; see $WORK_DIR/engine.log"
    fi
    for priority in 1 2 3 4; do
        count="$(topic_count "hearth.alerts.p$priority")"
        published=$((published + count))
    done
    regional="$(topic_count "hearth.alerts.region.$CITY_CODE")"
    if [[ "$published" != "$alerts" || "$regional" != "$alerts" ]]; then
        log "warning: the engine reports $alerts alerts, but hearth.alerts.p1..p4 contain $published and hearth.alerts.region.$CITY_CODE contains $regional"
    fi
}

# Runs the persons stage over hearth.persons, which the incidents stage
# filled, and writes its figures to persons.json.
run_persons() {
    local expected redis_before events active
    expected="$(topic_count "$PERSONS_TOPIC")"
    log "persons stage over $expected messages of $PERSONS_TOPIC"
    redis_before="$(cpu_ticks "$REDIS_PID")"
    run_engine_to_end persons --set "kafka.group_id=$GROUP" \
        --set engine.stage=persons
    events="$(stats_integer "$WORK_DIR/persons-stats.json" messages)"
    if [[ "$events" != "$expected" ]]; then
        log "warning: the persons stage read ${events:-no} messages of the $expected in $PERSONS_TOPIC"
    fi
    active="$(active_seconds "$WORK_DIR/persons.log")"
    python3 - "$WORK_DIR/persons-stats.json" "$expected" "${active:-0}" \
        "$(ticks_to_s "$redis_before" "$(cpu_ticks "$REDIS_PID")")" \
        >"$WORK_DIR/persons.json" <<'PY'
import json, sys
stats = json.load(open(sys.argv[1]))
stats.update(topic_messages=int(sys.argv[2]), active_s=float(sys.argv[3]),
             redis_cpu_s=float(sys.argv[4]))
json.dump(stats, sys.stdout, indent=2)
PY
}

# Prints Redis used_memory in bytes.
redis_used_memory() {
    "${REDIS_CLI[@]}" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}

# Counts the keys under prefix $1 by kind (the part after "}:" up to the
# next ":") and the distinct households and persons they track, into
# redis-keys.json.
count_redis_keys() {
    local prefix="$1"
    "${REDIS_CLI[@]}" --scan --pattern "$prefix*" >"$WORK_DIR/redis-keys.txt"
    python3 - "$WORK_DIR/redis-keys.txt" >"$WORK_DIR/redis-keys.json" <<'PY'
import collections, json, sys
# Key kinds per subject, from the headers of models/*.c and engine/state.h.
HOUSEHOLD = {"rc", "rc.sup", "rd", "rd.sup"}
PERSON = {"ro", "ro.h", "ov", "ov.c", "fu", "labels"}
INCIDENT = {"inc"}
kinds = collections.Counter()
households, persons, incidents = set(), set(), set()
for line in open(sys.argv[1]):
    rest = line.rstrip("\n").split("}:", 1)[-1]
    kind, _, subject = rest.partition(":")
    kinds[kind] += 1
    if kind in HOUSEHOLD:
        households.add(subject)
    elif kind in PERSON:
        persons.add(subject)
    elif kind in INCIDENT:
        incidents.add(subject)
json.dump({"keys": sum(kinds.values()), "keys_by_kind": dict(kinds),
           "households": len(households), "persons": len(persons),
           "incidents": len(incidents)}, sys.stdout, indent=2)
PY
}

# Produces $2 events to "$1.incidents" and runs the incidents stage over
# them with the consumer's prefetch capped, for its peak RSS.
run_memory_history() {
    local part="$1" events="$2" settings
    log "memory: incidents stage over $events events, prefetch $BENCH_MEMORY_PREFETCH_KB KiB"
    create_part_topics "$part"
    "$BIN/hearth-bench" produce --brokers "$BROKERS" \
        --topic "$part.incidents" --events "$events" \
        --seed "$BENCH_SEED" --households "$BENCH_HOUSEHOLDS" \
        --domestic-ratio "$BENCH_DOMESTIC_RATIO" \
        --json "$WORK_DIR/$part-produce.json" >/dev/null
    mapfile -t settings < <(part_settings "$part")
    run_engine_to_end "$part" "${settings[@]}" \
        --set "kafka.config_file=$WORK_DIR/memory-kafka.properties"
}

# Writes memory.json: Redis memory per tracked subject of the main run,
# and the incidents stage's peak RSS over BENCH_MEMORY_EVENTS events and
# over BENCH_MEMORY_DIVISOR times fewer, whose event times span as many
# times less. Both runs cap the consumer's prefetch queue at
# BENCH_MEMORY_PREFETCH_KB, because by default librdkafka buffers up to
# 64 MiB of a backlog, which would make RSS follow the backlog instead of
# the history.
measure_memory() {
    local after short_events=0
    after="$(redis_used_memory)"
    count_redis_keys "$KEY_PREFIX"
    ((BENCH_MEMORY_EVENTS > 0)) || return 0
    printf 'queued.max.messages.kbytes=%s\n' "$BENCH_MEMORY_PREFETCH_KB" \
        >"$WORK_DIR/memory-kafka.properties"
    short_events=$((BENCH_MEMORY_EVENTS / BENCH_MEMORY_DIVISOR))
    if ((short_events > 0)); then
        run_memory_history bench-short "$short_events"
    fi
    run_memory_history bench-long "$BENCH_MEMORY_EVENTS"
    python3 - "$REDIS_MEMORY_BEFORE" "$after" "$WORK_DIR/redis-keys.json" \
        "$WORK_DIR/bench-long-stats.json" "$WORK_DIR/persons-stats.json" \
        "$short_events" "$WORK_DIR/bench-short-stats.json" "$BENCH_MEMORY_EVENTS" \
        "$BENCH_MEMORY_PREFETCH_KB" "$WORK_DIR/engine-stats.json" \
        >"$WORK_DIR/memory.json" <<'PY'
import json, os, sys
before, after = int(sys.argv[1]), int(sys.argv[2])
keys = json.load(open(sys.argv[3]))
full = json.load(open(sys.argv[4]))
persons = json.load(open(sys.argv[5]))
short_events, short_path = int(sys.argv[6]), sys.argv[7]
subjects = keys["households"] + keys["persons"]
doc = {
    "redis_used_memory_before_bytes": before,
    "redis_used_memory_after_bytes": after,
    "redis_keys": keys,
    "tracked_subjects": subjects,
    "redis_bytes_per_subject": (after - before) / subjects if subjects else None,
    "redis_bytes_per_key": (after - before) / keys["keys"] if keys["keys"] else None,
    "prefetch_kb": int(sys.argv[9]),
    "events_long": int(sys.argv[8]),
    "peak_rss_mb_long": full["max_rss_kb"] / 1024.0,
    "peak_rss_mb_throughput_run": json.load(open(sys.argv[10]))["max_rss_kb"] / 1024.0,
    "persons_peak_rss_mb": persons["max_rss_kb"] / 1024.0,
}
if short_events and os.path.exists(short_path):
    short = json.load(open(short_path))
    doc["events_short"] = short_events
    doc["peak_rss_mb_short"] = short["max_rss_kb"] / 1024.0
    doc["rss_ratio_long_to_short"] = full["max_rss_kb"] / short["max_rss_kb"]
json.dump(doc, sys.stdout, indent=2)
PY
}

# Waits up to 30 s for engine log $1 to show a partition assignment.
wait_assigned() {
    local i
    for ((i = 0; i < 150; i++)); do
        grep -q 'partitions assigned' "$1" 2>/dev/null && return 0
        sleep 0.2
    done
    die "the engine of $1 got no partitions within 30 s"
}

# Measures event-to-alert latency at offered rate $1 events/s of events
# over $3 households into latency-$2.json: a live engine (stopped with
# SIGTERM), a live alert reader, and hearth-bench produce --rate.
run_latency() {
    local rate="$1" name="$2" households="$3" part="bench-lat-$2"
    local events engine_pid reader_pid settings cmd
    events=$((rate * (BENCH_LATENCY_SECONDS + BENCH_LATENCY_WARMUP_S)))
    log "latency: $events events at $rate events/s into $part.incidents, engine.batch_max_wait_ms=$BENCH_LATENCY_BATCH_WAIT_MS"
    create_part_topics "$part"
    mapfile -t settings < <(part_settings "$part")
    mapfile -t cmd < <(engine_base)
    cmd+=("${settings[@]}" --set "engine.batch_max_wait_ms=$BENCH_LATENCY_BATCH_WAIT_MS"
        --stats-json "$WORK_DIR/latency-$name-stats.json")
    "${cmd[@]}" >"$WORK_DIR/latency-$name.log" 2>&1 &
    engine_pid=$!
    BACKGROUND_PIDS+=("$engine_pid")
    "$BIN/hearth-bench" alert-times --brokers "$BROKERS" \
        --out "$WORK_DIR/latency-$name.tsv" "$part.alerts.p1" \
        "$part.alerts.p2" "$part.alerts.p3" "$part.alerts.p4" \
        2>"$WORK_DIR/latency-$name-reader.log" &
    reader_pid=$!
    BACKGROUND_PIDS+=("$reader_pid")
    wait_assigned "$WORK_DIR/latency-$name.log"
    "$BIN/hearth-bench" produce --brokers "$BROKERS" --topic "$part.incidents" \
        --events "$events" --seed $((BENCH_SEED + 1)) \
        --households "$households" \
        --domestic-ratio "$BENCH_DOMESTIC_RATIO" --rate "$rate" \
        --linger-ms 0 --json "$WORK_DIR/latency-$name-produce.json" >/dev/null
    sleep "$BENCH_LATENCY_DRAIN_S"
    kill -TERM "$engine_pid"
    wait "$engine_pid" || die "the latency engine failed; see $WORK_DIR/latency-$name.log"
    sleep 1
    kill -TERM "$reader_pid"
    wait "$reader_pid" || die "hearth-bench alert-times failed; see $WORK_DIR/latency-$name-reader.log"
    BACKGROUND_PIDS=()
    python3 bench/latency.py --rate "$rate" \
        --batch-wait-ms "$BENCH_LATENCY_BATCH_WAIT_MS" \
        --warmup-s "$BENCH_LATENCY_WARMUP_S" --households "$households" \
        --produce "$WORK_DIR/latency-$name-produce.json" \
        --engine "$WORK_DIR/latency-$name-stats.json" \
        "$WORK_DIR/latency-$name.tsv" >"$WORK_DIR/latency-$name.json"
}

# Latency at BENCH_LATENCY_RATE over BENCH_LATENCY_HOUSEHOLDS households,
# which gives many alerts, and at BENCH_LATENCY_HIGH_PERCENT of the engine
# throughput measured above, over the throughput run's BENCH_HOUSEHOLDS.
measure_latency() {
    local high
    LATENCY_ARGS=()
    if ((BENCH_LATENCY_RATE > 0)); then
        run_latency "$BENCH_LATENCY_RATE" fixed "$BENCH_LATENCY_HOUSEHOLDS"
        LATENCY_ARGS+=(--latency "$WORK_DIR/latency-fixed.json")
    fi
    high="$(awk -v n="$BENCH_EVENTS" -v s="${ACTIVE_S:-0}" -v p="$BENCH_LATENCY_HIGH_PERCENT" \
        'BEGIN { if (s > 0) printf "%d", n / s * p / 100; else print 0 }')"
    if ((BENCH_LATENCY_HIGH_PERCENT > 0 && high > 0)); then
        run_latency "$high" high "$BENCH_HOUSEHOLDS"
        LATENCY_ARGS+=(--latency "$WORK_DIR/latency-high.json")
    fi
}

# Runs two incidents-stage instances in one consumer group over
# hearth.incidents and compares their events/s with the single instance
# of the throughput run, which had the same settings but its topic and
# key names.
measure_scale_out() {
    local settings cmd pids=() i events=0 n active redis_before kafka_before
    SCALE_ARGS=()
    ((BENCH_SCALE_OUT > 0)) || return 0
    log "scale-out: two engine instances in one group over $INPUT_TOPIC"
    create_part_topics bench-scale
    mapfile -t settings < <(part_settings bench-scale)
    redis_before="$(cpu_ticks "$REDIS_PID")"
    kafka_before="$(cpu_ticks "$KAFKA_PID")"
    for i in 1 2; do
        mapfile -t cmd < <(engine_base)
        cmd+=(--exit-at-end "${settings[@]}" --set "topics.input=$INPUT_TOPIC"
            --stats-json "$WORK_DIR/scale-$i-stats.json")
        "${cmd[@]}" >"$WORK_DIR/scale-$i.log" 2>&1 &
        pids+=($!)
        BACKGROUND_PIDS+=($!)
    done
    for i in 0 1; do
        wait "${pids[$i]}" || die "scale-out engine $((i + 1)) failed; see $WORK_DIR/scale-$((i + 1)).log"
    done
    BACKGROUND_PIDS=()
    redis_before="$(ticks_to_s "$redis_before" "$(cpu_ticks "$REDIS_PID")")"
    kafka_before="$(ticks_to_s "$kafka_before" "$(cpu_ticks "$KAFKA_PID")")"
    for i in 1 2; do
        n="$(stats_integer "$WORK_DIR/scale-$i-stats.json" events)"
        events=$((events + ${n:-0}))
    done
    active="$(active_seconds "$WORK_DIR/scale-1.log" "$WORK_DIR/scale-2.log")"
    [[ -n "$active" ]] || die "the scale-out engine logs lack 'partitions assigned' or 'stopped:'"
    python3 - "$events" "$active" "$BENCH_EVENTS" "${ACTIVE_S:-0}" \
        "$redis_before" "$kafka_before" \
        "$WORK_DIR/scale-1-stats.json" "$WORK_DIR/scale-2-stats.json" \
        >"$WORK_DIR/scale.json" <<'PY'
import json, os, sys
events, active, n, one_active = (int(sys.argv[1]), float(sys.argv[2]),
                                  int(sys.argv[3]), float(sys.argv[4]))
redis_cpu, kafka_cpu = float(sys.argv[5]), float(sys.argv[6])
stats = [json.load(open(p)) for p in sys.argv[7:]]
two = n / active
one = n / one_active if one_active > 0 else None
json.dump({
    "instances": 2,
    "events_counted_by_both": events,
    "active_s_two": active,
    "events_per_s_one": one,
    "events_per_s_two": two,
    "scale_out_ratio": two / one if one else None,
    "events_by_instance": [s["events"] for s in stats],
    "cpu_s_by_instance": [s["cpu_s"] for s in stats],
    "redis_cpu_s_two": redis_cpu,
    "kafka_cpu_s_two": kafka_cpu,
    "nproc": os.cpu_count(),
}, sys.stdout, indent=2)
PY
    SCALE_ARGS+=(--scale "$WORK_DIR/scale.json")
}

# Generates a hearth-gen stream with known patterns, runs the connector and
# both stages over it and scores the alerts with truth.py.
measure_quality() {
    local part=bench-quality settings p key="$WORK_DIR/gen-hmac.key"
    QUALITY_ARGS=()
    ((BENCH_QUALITY_DAYS > 0)) || return 0
    log "quality: hearth-gen --days $BENCH_QUALITY_DAYS --pattern-scale $BENCH_QUALITY_PATTERN_SCALE --calls-per-day $BENCH_QUALITY_CALLS_PER_DAY"
    (umask 077 && head -c 32 /dev/urandom | base64 >"$key")
    "$BIN/hearth-gen" --seed "$BENCH_QUALITY_SEED" --days "$BENCH_QUALITY_DAYS" \
        --pattern-scale "$BENCH_QUALITY_PATTERN_SCALE" \
        --calls-per-day "$BENCH_QUALITY_CALLS_PER_DAY" \
        --out "$WORK_DIR/gen.csv" --truth "$WORK_DIR/truth.jsonl" \
        --key-file "$key"
    create_part_topics "$part"
    "$BIN/hearth-connect" --brokers "$BROKERS" -p connectors/profiles/cn_110.json \
        -k "$key" -t "$part.incidents" --dlq-topic "$part.dlq" \
        "$WORK_DIR/gen.csv" >"$WORK_DIR/connect.log" 2>&1 ||
        die "hearth-connect failed; see $WORK_DIR/connect.log"
    mapfile -t settings < <(part_settings "$part")
    run_engine_to_end quality-incidents "${settings[@]}" --set engine.idle_advance_ms=0
    run_engine_to_end quality-persons "${settings[@]}" --set engine.idle_advance_ms=0 \
        --set engine.stage=persons
    for p in 1 2 3 4; do
        "$BIN/hearth-admin" --brokers "$BROKERS" --log-level warn dump \
            --topic "$part.alerts.p$p" --type alert
    done >"$WORK_DIR/quality-alerts.jsonl"
    # truth.py exits 1 when a must-alert is missing; the report shows it.
    python3 tests/integration/truth.py "$WORK_DIR/truth.jsonl" \
        "$WORK_DIR/quality-alerts.jsonl" --json "$WORK_DIR/quality.json" ||
        log "truth.py reports failures; see $WORK_DIR/quality.json"
    QUALITY_ARGS+=(--quality "$WORK_DIR/quality.json"
        --truth "$WORK_DIR/truth.jsonl" --quality-alerts "$WORK_DIR/quality-alerts.jsonl")
}

# The command line that reproduces this run, with every knob spelled out.
describe_command() {
    local runner="bash bench/run.sh" name
    if [[ -n "${MAKELEVEL:-}" ]]; then
        runner="make bench"
    fi
    for name in BENCH_EVENTS BENCH_SEED BENCH_HOUSEHOLDS BENCH_DOMESTIC_RATIO \
        BENCH_PARTITIONS BENCH_RAW_RUNS BENCH_MEMORY_EVENTS BENCH_MEMORY_DIVISOR \
        BENCH_MEMORY_PREFETCH_KB \
        BENCH_LATENCY_RATE BENCH_LATENCY_HIGH_PERCENT BENCH_LATENCY_SECONDS \
        BENCH_LATENCY_HOUSEHOLDS BENCH_LATENCY_BATCH_WAIT_MS \
        BENCH_LATENCY_DRAIN_S BENCH_LATENCY_WARMUP_S BENCH_SCALE_OUT BENCH_QUALITY_DAYS \
        BENCH_QUALITY_PATTERN_SCALE BENCH_QUALITY_CALLS_PER_DAY \
        BENCH_QUALITY_SEED; do
        printf '%s=%s ' "$name" "${!name}"
    done
    printf '%s' "$runner"
}

report() {
    local engine_cmd="${ENGINE_CMD[*]}"
    "$BIN/hearth-bench-report" --produce "$WORK_DIR/produce.json" \
        "${RAW_ARGS[@]}" --engine "$WORK_DIR/engine-stats.json" \
        "${TIMING_ARGS[@]}" --redis-cpu-s "$REDIS_CPU_S" \
        --kafka-cpu-s "$KAFKA_CPU_S" --command "$(describe_command)" \
        --engine-command "${engine_cmd//$REPO_DIR\//}" \
        --json "$WORK_DIR/throughput.json" \
        --markdown "$WORK_DIR/throughput.md" >/dev/null
    python3 bench/report.py --throughput "$WORK_DIR/throughput.json" \
        --persons "$WORK_DIR/persons.json" --memory "$WORK_DIR/memory.json" \
        --samples "$WORK_DIR/throughput-samples.txt" \
        "${LATENCY_ARGS[@]}" \
        "${SCALE_ARGS[@]}" "${QUALITY_ARGS[@]}" \
        --quality-settings "hearth-gen --seed $BENCH_QUALITY_SEED --days $BENCH_QUALITY_DAYS --pattern-scale $BENCH_QUALITY_PATTERN_SCALE --calls-per-day $BENCH_QUALITY_CALLS_PER_DAY" \
        --results "$RESULTS_DIR" --work "$WORK_DIR"
    log "wrote $RESULTS_DIR/latest.json and $RESULTS_DIR/latest.md"
}

main() {
    check_settings
    start_services
    create_topics
    produce
    raw_consume
    REDIS_MEMORY_BEFORE="$(redis_used_memory)"
    run_engine
    engine_timing
    check_engine_output
    run_persons
    measure_memory
    measure_latency
    measure_scale_out
    measure_quality
    report
}

main "$@"
