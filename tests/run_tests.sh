#!/usr/bin/env bash
# Runs every test: the unit test programs (BUILD/tests/test_*) and the end-to-end
# scripts (tests/e2e_*.sh).  Each prints "N passed, N failed" as its last line; this
# adds them up and ends with the same line.  VALGRIND=1 runs the programs under
# valgrind (any leak or error fails); --unit-only skips the scripts.
set -u
build=${1:?usage: run_tests.sh BUILD_DIR [--unit-only]}
unit_only=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
export KSEARCH=${KSEARCH:-$(cd "$build" && pwd)/ksearch}
export KS_TEST_DATA="$here"
passed=0 failed=0 broken=()

run_one() {
    local name=$1; shift
    local out rc last p f
    out=$("$@" 2>&1); rc=$?
    last=$(printf '%s\n' "$out" | tail -n 1)
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ [0-9]+\ skipped)?$ ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]}
    else
        p=0 f=1
    fi
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [[ $f -ne 0 ]]; then
        broken+=("$name")
        printf '%s\n' "$out" | sed "s|^|  $name: |" | tail -n 40
    fi
    printf '%-28s %s\n' "$name" "$last"
}

for t in "$build"/tests/test_*; do
    [[ -x $t && ! $t == *.d && ! $t == *.o ]] || continue
    name=$(basename "$t")
    if [[ -n ${VALGRIND:-} ]]; then
        run_one "$name" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 "$t"
    else
        run_one "$name" "$t"
    fi
done
if [[ $unit_only != --unit-only ]]; then
    for s in "$here"/e2e_*.sh; do
        [[ -f $s ]] || continue
        run_one "$(basename "$s" .sh)" bash "$s"
    done
fi
if [[ ${#broken[@]} -gt 0 ]]; then echo "failing: ${broken[*]}"; fi
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
