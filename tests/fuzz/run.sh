#!/usr/bin/env bash
# Runs libFuzzer targets built by `make fuzz`: for each target, every input
# under tests/fuzz/regressions/TARGET/ once, then fuzzing for SECONDS
# starting from the seeds in tests/fuzz/corpus/TARGET/. New corpus entries
# go to BUILD/corpus/TARGET/, crashing inputs to BUILD/artifacts/TARGET/,
# and the full libFuzzer output to BUILD/logs/TARGET.log. Prints one summary
# line per target and exits 1 if any target crashed, leaked, timed out or
# ran out of memory.
#
# usage: run.sh BUILD SECONDS TARGET...
set -uo pipefail

if [ "$#" -lt 3 ]; then
        echo "usage: run.sh BUILD SECONDS TARGET..." >&2
        exit 2
fi
build=$1
seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)

# A UBSan report aborts (the code is built with -fno-sanitize-recover);
# the stack trace shows where.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

failed=()
# The first line of a sanitizer, libFuzzer or target report in a log.
report_start='^==[0-9]+==ERROR|runtime error|^ALARM|fuzz_[a-z]+: '

# Limits of one input, the same for regression inputs and for fuzzing.
limits=(-timeout=25 -rss_limit_mb=2048)

# Runs each regression input of target $1 once. Returns 1 if one fails.
run_regressions() {
        local target=$1 bin=$2 dir=$here/regressions/$1 input rc=0
        local log=$build/logs/$target.regressions.log

        [ -d "$dir" ] || return 0
        : > "$log"
        for input in "$dir"/*; do
                [ -f "$input" ] || continue
                case $input in *.md) continue ;; esac
                if ! "$bin" "${limits[@]}" "$input" >> "$log" 2>&1; then
                        echo "fuzz: $target: regression input" \
                                "${input#"$here"/} fails; see $log" >&2
                        rc=1
                fi
        done
        return "$rc"
}

# Prints "stat value" from libFuzzer's -print_final_stats lines.
final_stat() {
        sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

for target in "$@"; do
        bin=$build/bin/fuzz_$target
        seeds=$here/corpus/$target
        corpus=$build/corpus/$target
        artifacts=$build/artifacts/$target
        log=$build/logs/$target.log
        dict=$here/dict/$target.dict
        options=("${limits[@]}" -max_total_time="$seconds"
                 -print_final_stats=1 -artifact_prefix="$artifacts/")

        if [ ! -x "$bin" ]; then
                echo "fuzz: $target: $bin is missing; run make fuzz" >&2
                failed+=("$target")
                continue
        fi
        mkdir -p "$corpus" "$artifacts" "$build/logs"
        [ -f "$dict" ] && options+=(-dict="$dict")

        ok=1
        run_regressions "$target" "$bin" || ok=0

        echo "fuzz: $target: fuzzing for ${seconds} s"
        "$bin" "${options[@]}" "$corpus" "$seeds" > "$log" 2>&1
        rc=$?
        runs=$(final_stat number_of_executed_units "$log")
        speed=$(final_stat average_exec_per_sec "$log")
        added=$(final_stat new_units_added "$log")
        rss=$(final_stat peak_rss_mb "$log")
        cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
        echo "fuzz: $target: exit $rc, ${runs:-?} runs, ${speed:-?} exec/s," \
                "${cov:-cov: ?}, ${added:-?} new units, peak RSS" \
                "${rss:-?} MB"
        if [ "$rc" -ne 0 ]; then
                echo "fuzz: $target: FAILED; the report follows, the full" \
                        "output is in $log and the input in $artifacts/" >&2
                grep -m 1 -A 40 -E "$report_start" "$log" >&2 ||
                        tail -n 40 "$log" >&2
                ok=0
        fi
        [ "$ok" -eq 1 ] || failed+=("$target")
done

if [ "${#failed[@]}" -ne 0 ]; then
        echo "fuzz: failed targets: ${failed[*]}" >&2
        exit 1
fi
echo "fuzz: all targets passed"
