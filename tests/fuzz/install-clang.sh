#!/usr/bin/env bash
# Installs clang and its libFuzzer runtime for `make fuzz` when the compiler
# named by $1 (default clang) cannot link a -fsanitize=fuzzer program. Does
# nothing when it can. Uses sudo when not run as root. Debian's clang package
# only recommends the compiler-rt runtime (libclang-rt-dev), so both are
# named: apt-get runs with --no-install-recommends, as in
# deploy/install-deps.sh.
set -euo pipefail

cc=${1:-clang}

# Succeeds when $cc links a fuzz target with ASan and UBSan.
can_link_fuzzer() {
        local dir rc
        command -v "$cc" >/dev/null 2>&1 || return 1
        dir=$(mktemp -d)
        printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
                'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)' \
                '{ (void)d; (void)n; return 0; }' > "$dir/probe.c"
        rc=0
        "$cc" -fsanitize=fuzzer,address,undefined "$dir/probe.c" \
                -o "$dir/probe" >/dev/null 2>&1 || rc=1
        rm -rf "$dir"
        return "$rc"
}

if can_link_fuzzer; then
        exit 0
fi

if [ "$cc" != clang ]; then
        echo "fuzz: $cc cannot link a -fsanitize=fuzzer program;" \
                "install its compiler-rt runtime, or unset FUZZ_CC" >&2
        exit 1
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
                echo "fuzz: clang or its libFuzzer runtime is missing" >&2
                echo "fuzz: run as root or install sudo, then retry" >&2
                exit 1
        fi
        sudo_cmd=(sudo)
fi

echo "fuzz: installing clang libclang-rt-dev"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        clang libclang-rt-dev >/dev/null

if ! can_link_fuzzer; then
        echo "fuzz: clang still cannot link a -fsanitize=fuzzer program" \
                "after installing clang and libclang-rt-dev" >&2
        exit 1
fi
echo "fuzz: clang is ready"
