#!/usr/bin/env bash
# Build librdkafka 2.12.1 into $HEARTH_CACHE_DIR/librdkafka-2.12.1 from the
# source that the crates.io crate rdkafka-sys 4.10.0+2.12.1 bundles.
# Debian 12 ships librdkafka 2.0.2, whose SCRAM login Kafka 4 rejects
# (deploy/README.md, section SASL/SCRAM), so SCRAM needs this build.
# Does nothing when the build is already complete.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../local/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../local/lib.sh"

VERSION=2.12.1
CRATE=rdkafka-sys-4.10.0+$VERSION
CRATE_URL="https://static.crates.io/crates/rdkafka-sys/$CRATE.crate"
INDEX_URL=https://index.crates.io/rd/ka/rdkafka-sys
# The "cksum" of version 4.10.0+2.12.1 in the crates.io index. The script
# also reads the live index and fails when the two differ.
CRATE_SHA256=e234cf318915c1059d4921ef7f75616b5219b10b46e9f3a511a15eb4b56a3f77
# OpenSSL provides SCRAM. GSSAPI (libsasl2-dev), the HTTP client for OIDC
# (libcurl) and zstd compression (libzstd-dev) are left out because hearth
# needs none of them. LZ4 comes from librdkafka's own copy.
CONFIGURE_FLAGS=(--no-download --enable-ssl --enable-zlib --disable-gssapi
    --disable-curl --disable-zstd --disable-lz4-ext)
# Packages the build needs beyond deploy/install-deps.sh's list.
BUILD_PACKAGES="zlib1g-dev curl"

mkdir -p "$HEARTH_CACHE_DIR"
# The prefix is written into rdkafka.pc and into the rpath of programs
# linked against it, so it names the cache folder without symbolic links.
# A worktree whose .cache links to a shared cache then leaves no path
# through itself in the files of that cache.
cache_dir="$(cd "$HEARTH_CACHE_DIR" && pwd -P)"
PREFIX="$cache_dir/librdkafka-$VERSION"
# Source tree and crate download, removed after a successful build.
WORK_DIR="$cache_dir/librdkafka-$VERSION.build"
# Written last. It stores the crate checksum and the configure flags, so a
# change of either builds again.
STAMP="$PREFIX/build-complete"
expected_stamp="librdkafka $VERSION crate-sha256 $CRATE_SHA256 configure ${CONFIGURE_FLAGS[*]}"

stamp_is_current() {
    [[ -f "$STAMP" && -f "$PREFIX/lib/pkgconfig/rdkafka.pc" ]] &&
        [[ "$(cat "$STAMP")" == "$expected_stamp" ]]
}

if stamp_is_current; then
    log "librdkafka $VERSION is already built in $PREFIX"
    exit 0
fi

take_lock "$cache_dir/.librdkafka-$VERSION.lock"
# Another build may have finished while this one waited for the lock.
if stamp_is_current; then
    log "librdkafka $VERSION is already built in $PREFIX"
    exit 0
fi

start_seconds=$SECONDS
HEARTH_EXTRA_PACKAGES="${HEARTH_EXTRA_PACKAGES:-} $BUILD_PACKAGES" \
    bash "$HEARTH_REPO_DIR/deploy/install-deps.sh"

rm -rf "$WORK_DIR"
mkdir -p "$WORK_DIR"
crate_file="$WORK_DIR/$CRATE.crate"

log "fetching $CRATE from crates.io"
index_sum="$(curl -sSfL --max-time 60 "$INDEX_URL" |
    python3 -c '
import json, sys
for line in sys.stdin:
    entry = json.loads(line)
    if entry["vers"] == sys.argv[1]:
        print(entry["cksum"])
' "${CRATE#rdkafka-sys-}")" ||
    die "reading the crates.io index $INDEX_URL failed"
[[ -n "$index_sum" ]] || die "the crates.io index $INDEX_URL has no version ${CRATE#rdkafka-sys-}"
if [[ "$index_sum" != "$CRATE_SHA256" ]]; then
    die "the crates.io index lists SHA-256 $index_sum for $CRATE, not $CRATE_SHA256 as this script expects"
fi
curl -sSfL --max-time 300 -o "$crate_file" "$CRATE_URL" ||
    die "download of $CRATE_URL failed"
crate_sum="$(sha256sum "$crate_file" | cut -d ' ' -f 1)"
if [[ "$crate_sum" != "$CRATE_SHA256" ]]; then
    die "$crate_file has SHA-256 $crate_sum, but the crates.io index lists $CRATE_SHA256"
fi

tar -xzf "$crate_file" -C "$WORK_DIR" "$CRATE/librdkafka"
src="$WORK_DIR/$CRATE/librdkafka"
build_log="$WORK_DIR/build.log"

log "building librdkafka $VERSION in $src (log: $build_log)"
if ! (cd "$src" && ./configure --prefix="$PREFIX" "${CONFIGURE_FLAGS[@]}") \
    >"$build_log" 2>&1; then
    show_log_tail "$build_log" 30
    die "configure of librdkafka $VERSION failed (full log in $build_log)"
fi
# SCRAM needs OpenSSL, so check that configure enabled it.
grep -q '^#define WITH_SASL_SCRAM 1' "$src/config.h" ||
    die "librdkafka $VERSION was configured without SASL/SCRAM; is libssl-dev installed? (log: $build_log)"

rm -rf "$PREFIX"
if ! make -C "$src/src" -j "$(nproc)" >>"$build_log" 2>&1 ||
    ! make -C "$src/src" install >>"$build_log" 2>&1; then
    show_log_tail "$build_log" 30
    die "build of librdkafka $VERSION failed (full log in $build_log)"
fi
[[ -f "$PREFIX/lib/pkgconfig/rdkafka.pc" ]] ||
    die "the build installed no $PREFIX/lib/pkgconfig/rdkafka.pc (log: $build_log)"

printf '%s\n' "$expected_stamp" >"$STAMP"
rm -rf "$WORK_DIR"
log "built librdkafka $VERSION into $PREFIX in $((SECONDS - start_seconds))s"
