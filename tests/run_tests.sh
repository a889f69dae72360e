#!/usr/bin/env bash
# Runs every test: the unit test programs (BUILD/tests/test_*) and the end-to-end
# scripts (tests/e2e_*.sh).  Each prints "N passed, N failed, N skipped" as its last line
# (the older "N passed, N failed" is read as nothing skipped); this adds them up, shows
# why checks were skipped, and ends with the same line.  A check that cannot run here
# (a missing tool or data set) is skipped, never passed.  VALGRIND=1 runs the programs
# under valgrind (any leak or error fails); --unit-only leaves out the scripts;
# --only NAME... runs only the programs and scripts named (test_db e2e_study_parallel).
set -u
build=${1:?usage: run_tests.sh BUILD_DIR [--unit-only | --only NAME...]}
shift
unit_only= only=()
case ${1:-} in
--unit-only) unit_only=1 ;;
--only) shift; only=("$@") ;;
"") ;;
*) echo "run_tests.sh: unknown option $1" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
export KSEARCH=${KSEARCH:-$(cd "$build" && pwd)/ksearch}
export KS_TEST_DATA="$here"
passed=0 failed=0 skipped=0 broken=() skips=() ran=" "

wanted() {
    [[ ${#only[@]} -eq 0 ]] && return 0
    local n
    for n in "${only[@]}"; do [[ $n == "$1" ]] && return 0; done
    return 1
}

run_one() {
    local name=$1; shift
    local out rc last p f s
    ran+="$name "
    out=$("$@" 2>&1); rc=$?
    last=$(printf '%s\n' "$out" | tail -n 1)
    if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed(,\ ([0-9]+)\ skipped)?$ ]]; then
        p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[4]:-0}
    else
        p=0 f=1 s=0
    fi
    if [[ $rc -ne 0 && $f -eq 0 ]]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [[ $f -ne 0 ]]; then
        broken+=("$name")
        printf '%s\n' "$out" | sed "s|^|  $name: |" | tail -n 40
    elif [[ $s -ne 0 ]]; then
        skips+=("$name")
        printf '%s\n' "$out" | grep -i 'skipped' | grep -v "^$last\$" | sed "s|^|  $name: |" | head -n 10
    fi
    printf '%-28s %s\n' "$name" "$last"
}

for t in "$build"/tests/test_*; do
    [[ -x $t && ! $t == *.d && ! $t == *.o ]] || continue
    name=$(basename "$t")
    wanted "$name" || continue
    if [[ -n ${VALGRIND:-} ]]; then
        run_one "$name" valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
            --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99 "$t"
    else
        run_one "$name" "$t"
    fi
done
if [[ -z $unit_only ]]; then
    for s in "$here"/e2e_*.sh; do
        [[ -f $s ]] || continue
        wanted "$(basename "$s" .sh)" || continue
        run_one "$(basename "$s" .sh)" bash "$s"
    done
fi
for n in "${only[@]}"; do   # a name asked for that does not exist is not a pass
    if [[ $ran != *" $n "* ]]; then
        echo "no test program or script named $n"
        failed=$((failed + 1)) broken+=("$n")
    fi
done
if [[ ${#broken[@]} -gt 0 ]]; then echo "failing: ${broken[*]}"; fi
if [[ ${#skips[@]} -gt 0 ]]; then echo "with skipped checks: ${skips[*]}"; fi
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
