#!/usr/bin/env bash
# Installs the Debian packages hearth needs to build, test and run its local
# services. Idempotent: packages already installed are skipped, and nothing
# runs apt when everything is present. Uses sudo when not run as root.
set -euo pipefail

packages=(
        gcc make pkg-config
        librdkafka-dev libhiredis-dev libprotobuf-c-dev protobuf-c-compiler
        libjansson-dev check libssl-dev
        redis-server redis-tools
        maven openjdk-17-jre-headless
        python3 tzdata valgrind gnuplot-nox
)
# Tools only some targets need (make format) are added by name.
# shellcheck disable=SC2206
packages+=(${HEARTH_EXTRA_PACKAGES:-})

missing=()
for pkg in "${packages[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
                grep -q 'install ok installed'; then
                missing+=("$pkg")
        fi
done

# A JDK of any vendor is enough to run the broker: skip the Debian JRE when
# a Java 17 or newer is already on PATH.
if command -v java >/dev/null 2>&1; then
        java_major=$(java -XshowSettings:properties -version 2>&1 |
                awk -F'= ' '/java.specification.version/ {print $2}')
        if [ "${java_major%%.*}" -ge 17 ] 2>/dev/null; then
                missing=("${missing[@]/openjdk-17-jre-headless/}")
        fi
fi
for i in "${!missing[@]}"; do
        [ -n "${missing[$i]}" ] || unset 'missing[i]'
done

if [ "${#missing[@]}" -eq 0 ]; then
        echo "deps: all Debian packages present"
        exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
                echo "deps: missing packages: ${missing[*]}" >&2
                echo "deps: run as root or install sudo, then retry" >&2
                exit 1
        fi
        sudo_cmd=(sudo)
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >/dev/null
echo "deps: installed ${#missing[@]} packages"
