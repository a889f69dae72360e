#!/usr/bin/env bash
# Runs the fuzz targets built by `make fuzz`: run.sh BUILD SECONDS TARGET...
# Each target starts from its corpus in BUILD/corpus/TARGET (kept between runs), the
# seeds the program writes (BUILD/fuzz_seeds) and the inputs kept in
# tests/fuzz/regress/TARGET, and runs SECONDS seconds under ASan + UBSan.  A line per
# target gives the executions, exec/s, coverage (libFuzzer's cov: and ft:) and the crash,
# if any; a crashing input is copied to tests/fuzz/regress/TARGET/ (commit it with the
# fix: make test replays it).  FUZZ_FLAGS adds libFuzzer options (e.g. -fork=2
# -ignore_crashes=1 for a long campaign); FUZZ_JOBS runs that many targets at once [1].
# Exit status 1 when any target crashed.
set -u -o pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: run.sh BUILD SECONDS TARGET...}
seconds=${2:?usage: run.sh BUILD SECONDS TARGET...}
shift 2
jobs=${FUZZ_JOBS:-1}
logs=$build/fuzz-logs
mkdir -p "$logs" || exit 1
if ! "$build/fuzz_seeds" . "$build/seeds" "$@" >"$logs/seeds.log" 2>&1; then
    cat "$logs/seeds.log"
    echo "fuzz: the seed writer failed"
    exit 1
fi

# run_target NAME: one libFuzzer run; its output goes to $logs/NAME.log
run_target() {
    local t=$1 dict=()
    mkdir -p "$build/corpus/$t" "$build/crashes/$t" "tests/fuzz/regress/$t"
    [[ -f $build/seeds/$t.dict ]] && dict=(-dict="$build/seeds/$t.dict")
    # -timeout: one input may take 10 s (a slow input is a finding); -rss_limit_mb: 2 GiB
    # shared by the two cores' runs; -max_len: large enough for every seed
    # shellcheck disable=SC2086
    "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/crashes/$t/" \
        "${dict[@]}" ${FUZZ_FLAGS:-} \
        "$build/corpus/$t" "$build/seeds/$t" "tests/fuzz/regress/$t" >"$logs/$t.log" 2>&1
}

# summarize NAME STATUS: the table line; copies new crashing inputs into the repository
summarize() {
    local t=$1 rc=$2 log=$logs/$1.log execs rate cov ft crash="" kept=0 f
    execs=$(grep -ao 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{ s += $2 } END { print s + 0 }')
    rate=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{ s += $2 } END { print s + 0 }')
    # the last status line: "#N ... cov: C ft: F ..." (fork mode too)
    cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
    ft=$(grep -ao 'ft: [0-9]*' "$log" | tail -n 1 | awk '{ print $2 }')
    if [[ $execs -eq 0 ]]; then   # fork mode prints no final stats: the last "#N" line
        execs=$(grep -aoE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
        rate=$(( ${execs:-0} / (seconds > 0 ? seconds : 1) ))
    fi
    for f in "$build/crashes/$t"/*; do
        [[ -f $f ]] || continue
        if ! cmp -s "$f" "tests/fuzz/regress/$t/$(basename "$f")"; then
            cp "$f" "tests/fuzz/regress/$t/" && kept=$((kept + 1))
        fi
        rm -f "$f"
    done
    if [[ $rc -ne 0 || $kept -gt 0 ]]; then
        crash=$(grep -a -m 1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: FAILED|.*runtime error)' "$log" | cut -c 1-120)
        crash="CRASH (kept $kept in tests/fuzz/regress/$t): ${crash:-exit status $rc, see $log}"
    fi
    printf '%-14s %10s execs %7s/s  cov %-6s ft %-6s %s\n' "$t" "${execs:-0}" "${rate:-0}" \
        "${cov:-?}" "${ft:-?}" "${crash:-ok}"
    [[ -z $crash ]]
}

printf 'fuzzing %d targets, %s s each (logs in %s)\n' "$#" "$seconds" "$logs"
failed=0
targets=("$@")
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
    pids=()
    for ((j = i; j < i + jobs && j < ${#targets[@]}; j++)); do
        run_target "${targets[j]}" &
        pids+=($!)
    done
    for ((j = i; j < i + jobs && j < ${#targets[@]}; j++)); do
        wait "${pids[j - i]}"
        rc=$?
        summarize "${targets[j]}" "$rc" || failed=$((failed + 1))
    done
done
if [[ $failed -gt 0 ]]; then
    echo "fuzz: $failed of $# targets crashed"
    exit 1
fi
echo "fuzz: no crash in $# targets"
