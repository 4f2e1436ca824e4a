#!/usr/bin/env bash
# Fetch the Apache Kafka broker jars from Maven Central into
# $HEARTH_CACHE_DIR/kafka-$HEARTH_KAFKA_VERSION/libs, using deploy/kafka/pom.xml.
# Does nothing when that folder is already complete for the current pom.xml.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

POM="$HEARTH_REPO_DIR/deploy/kafka/pom.xml"

# --quiet drops the message that the jars are already in place.
QUIET=0
case "${1:-}" in
"") ;;
--quiet) QUIET=1 ;;
*) die "unknown argument '$1'; usage: $HEARTH_SCRIPT_NAME [--quiet]" ;;
esac

set_kafka_paths
# Written last, after every jar is in place. It stores the version and the
# checksum of pom.xml, so an edited pom.xml triggers a new fetch.
STAMP="$KAFKA_HOME/fetch-complete"

pom_sum="$(sha256sum "$POM" | cut -d ' ' -f 1)"
expected_stamp="kafka_2.13 $KAFKA_VERSION pom-sha256 $pom_sum"

stamp_is_current() {
    [[ -f "$STAMP" && -d "$LIBS_DIR" ]] && [[ "$(cat "$STAMP")" == "$expected_stamp" ]]
}

if stamp_is_current; then
    ((QUIET)) || log "Kafka $KAFKA_VERSION jars are already in $LIBS_DIR"
    exit 0
fi

command -v mvn >/dev/null 2>&1 || die "mvn not found; it downloads the Kafka jars: apt-get install maven"
require_java

mkdir -p "$KAFKA_HOME"
take_lock "$KAFKA_HOME/.fetch.lock"

# Another fetch may have finished while this one waited for the lock.
if stamp_is_current; then
    ((QUIET)) || log "Kafka $KAFKA_VERSION jars are already in $LIBS_DIR"
    exit 0
fi

staging="$KAFKA_HOME/libs.partial"
mvn_log="$KAFKA_HOME/fetch.log"
rm -rf "$staging"
rm -f "$STAMP"

log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR"
start_seconds=$SECONDS
if ! mvn -B -q -f "$POM" \
    -Dstyle.color=never \
    -Dkafka.version="$KAFKA_VERSION" \
    -DoutputDirectory="$staging" \
    dependency:copy-dependencies >"$mvn_log" 2>&1; then
    show_log_tail "$mvn_log" 30
    rm -rf "$staging"
    die "download of Kafka $KAFKA_VERSION jars failed (mvn output above, full log in $mvn_log); check that Maven Central is reachable and that version $KAFKA_VERSION exists"
fi

for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar"; do
    if [[ ! -f "$staging/$jar" ]]; then
        rm -rf "$staging"
        die "download of Kafka $KAFKA_VERSION jars is incomplete: $jar is missing (mvn log in $mvn_log)"
    fi
done
if ! compgen -G "$staging/log4j-core-*.jar" >/dev/null; then
    rm -rf "$staging"
    die "download of Kafka $KAFKA_VERSION jars is incomplete: log4j-core is missing (mvn log in $mvn_log)"
fi

rm -rf "$LIBS_DIR"
mv "$staging" "$LIBS_DIR"
printf '%s\n' "$expected_stamp" >"$STAMP"

jar_count="$(find "$LIBS_DIR" -maxdepth 1 -name '*.jar' | wc -l)"
log "fetched $jar_count jars in $((SECONDS - start_seconds))s"
