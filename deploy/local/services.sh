#!/usr/bin/env bash
# Start, stop or check the local Redis and Kafka servers together, with
# redis.sh and kafka.sh beside this file.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCRIPT_DIR="$HEARTH_REPO_DIR/deploy/local"

usage() {
    cat <<EOF
Usage: $HEARTH_SCRIPT_NAME up|down|status

  up      fetch the Kafka jars if needed, then start Redis and Kafka
  down    stop Kafka and Redis
  status  print the state of both; exit 0 when both run, 3 otherwise
EOF
}

cmd_up() {
    "$SCRIPT_DIR/fetch-kafka.sh" || die "fetching the Kafka jars failed; nothing was started"

    local redis_was_running=0
    if "$SCRIPT_DIR/redis.sh" status >/dev/null 2>&1; then
        redis_was_running=1
    fi
    "$SCRIPT_DIR/redis.sh" start || die "Redis failed to start; Kafka was not started"

    if ! "$SCRIPT_DIR/kafka.sh" start; then
        # Leave the machine as it was: stop Redis only if this command started it.
        if ((redis_was_running == 0)); then
            "$SCRIPT_DIR/redis.sh" stop || true
            die "Kafka failed to start; Redis was stopped again"
        fi
        die "Kafka failed to start; Redis was already running and is left running"
    fi
    log "Redis and Kafka are up"
}

cmd_down() {
    local failed=0
    "$SCRIPT_DIR/kafka.sh" stop || failed=1
    "$SCRIPT_DIR/redis.sh" stop || failed=1
    if ((failed)); then
        die "stopping the local services failed; see the messages above"
    fi
}

cmd_status() {
    local result=0
    "$SCRIPT_DIR/redis.sh" status || result=3
    "$SCRIPT_DIR/kafka.sh" status || result=3
    return "$result"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*)
    usage >&2
    exit 2
    ;;
esac
