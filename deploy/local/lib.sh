# shellcheck shell=bash
# Helpers shared by the scripts in deploy/local. Source it, do not run it.
# Every address used here is on loopback (127.0.0.1 or ::1).

HEARTH_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HEARTH_CACHE_DIR="${HEARTH_CACHE_DIR:-$HEARTH_REPO_DIR/.cache}"
HEARTH_RUN_DIR="${HEARTH_RUN_DIR:-$HEARTH_REPO_DIR/.run/local}"

# Prefix of every message, such as "kafka.sh".
HEARTH_SCRIPT_NAME="$(basename "$0")"

log() {
    printf '%s: %s\n' "$HEARTH_SCRIPT_NAME" "$*"
}

err() {
    printf '%s: error: %s\n' "$HEARTH_SCRIPT_NAME" "$*" >&2
}

die() {
    err "$@"
    exit 1
}

# Exit with an error unless $2 is a TCP port number (1-65535). $1 names the
# variable the value came from.
require_port() {
    local name="$1" value="$2"
    if [[ ! "$value" =~ ^[0-9]+$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
        die "invalid $name '$value': expected a TCP port number from 1 to 65535"
    fi
}

# Exit with an error unless $2 is a whole number of seconds above zero.
require_seconds() {
    local name="$1" value="$2"
    if [[ ! "$value" =~ ^[0-9]+$ ]] || ((10#$value < 1)); then
        die "invalid $name '$value': expected a whole number of seconds above 0"
    fi
}

# Succeed when something accepts TCP connections on loopback address $1
# (127.0.0.1 or ::1) at port $2.
port_open() {
    local host="$1" port="$2"
    # shellcheck disable=SC2016 # $1 and $2 expand in the inner shell.
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$host" "$port" 2>/dev/null
}

# Print the listening sockets on port $1 with their processes, as far as
# `ss` can see them, to show which process listens there.
describe_port_owner() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        ss -Hltnp "sport = :$port" 2>/dev/null | sed 's/^/    /' >&2 || true
    fi
}

# Exit with an error when port $2 on loopback is taken. $1 names the service
# and variable that chose the port, for the message.
require_port_free() {
    local what="$1" port="$2" host
    for host in 127.0.0.1 ::1; do
        if port_open "$host" "$port"; then
            err "port $port on $host ($what) is already in use by another process:"
            describe_port_owner "$port"
            die "stop that process or choose another port through $what"
        fi
    done
}

# Succeed when process $1 exists and its command line contains every further
# argument. This guards against a stale pid file whose pid was reused.
pid_matches() {
    local pid="$1" cmdline
    shift
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    local needle
    for needle in "$@"; do
        [[ "$cmdline" == *"$needle"* ]] || return 1
    done
}

# Print the pid stored in pid file $1, or nothing when the file is missing.
read_pid_file() {
    local file="$1"
    if [[ -f "$file" ]]; then
        tr -dc '0-9' <"$file"
    fi
}

# Send SIGTERM to process $1, wait up to $2 seconds for it to exit, then send
# SIGKILL and wait up to 10 seconds more. $3 names the service for messages.
# Fails only when the process still exists after SIGKILL.
terminate_pid() {
    local pid="$1" grace="$2" what="$3" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= grace * 10)); then
            err "$what (pid $pid) did not exit within ${grace}s of SIGTERM; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if ((waited >= 100)); then
            err "$what (pid $pid) still exists 10s after SIGKILL"
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

# Print to stderr, indented, the last $2 lines of file $1, counting only the
# bytes after offset $3 (default 0) so that older runs do not show up.
show_log_tail() {
    local file="$1" lines="$2" offset="${3:-0}"
    [[ -s "$file" ]] || return 0
    # A file smaller than the offset was truncated or rolled over.
    if (($(stat -c %s "$file") < offset)); then
        offset=0
    fi
    printf '%s: last lines of %s:\n' "$HEARTH_SCRIPT_NAME" "$file" >&2
    tail -c "+$((offset + 1))" "$file" | tail -n "$lines" | sed 's/^/    /' >&2
}

# Hold an exclusive lock on file $1 for the rest of the script, so that two
# start or stop commands on the same run directory do not interleave.
take_lock() {
    local file="$1"
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$file"
        if ! flock -w 120 9; then
            die "timed out after 120s waiting for the lock $file held by another command"
        fi
    fi
}

# Set JAVA to the java launcher ($JAVA_HOME/bin/java when JAVA_HOME is set,
# else java from PATH) and exit with an error when it is missing or older
# than Java 17, the minimum for a Kafka 4 broker.
require_java() {
    if [[ -n "${JAVA_HOME:-}" ]]; then
        JAVA="$JAVA_HOME/bin/java"
        [[ -x "$JAVA" ]] || die "java not found at $JAVA (from JAVA_HOME); fix JAVA_HOME or unset it"
    elif command -v java >/dev/null 2>&1; then
        JAVA="$(command -v java)"
    else
        die "java not found; Kafka 4 needs Java 17 or newer: apt-get install openjdk-17-jre-headless"
    fi

    local version major
    version="$("$JAVA" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
    major="${version%%.*}"
    if [[ ! "$major" =~ ^[0-9]+$ ]]; then
        die "could not read the version of $JAVA (output of -version: $("$JAVA" -version 2>&1 | head -n 1))"
    fi
    if ((major < 17)); then
        die "$JAVA is Java $version, but Kafka 4 needs Java 17 or newer: apt-get install openjdk-17-jre-headless"
    fi
}

# Set KAFKA_VERSION, KAFKA_HOME (the cache folder of that version) and
# LIBS_DIR (its jars) from HEARTH_KAFKA_VERSION and HEARTH_CACHE_DIR.
# shellcheck disable=SC2034 # The scripts that source this file use them.
set_kafka_paths() {
    KAFKA_VERSION="${HEARTH_KAFKA_VERSION:-4.1.1}"
    if [[ ! "$KAFKA_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
        die "invalid HEARTH_KAFKA_VERSION '$KAFKA_VERSION': expected a release such as 4.1.1"
    fi
    KAFKA_HOME="$HEARTH_CACHE_DIR/kafka-$KAFKA_VERSION"
    LIBS_DIR="$KAFKA_HOME/libs"
}
