#!/usr/bin/env bash
# Bad input, end to end: every tests/bad_models/NN-*.yaml given to `ksearch fit`
# must exit with status 2 and print exactly the one-line message in NN-*.expected
# (file, line:column where there is one, what is wrong and what was expected).
# KS_UPDATE_GOLDEN=1 rewrites the .expected files (review the diff before committing).
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=${KSEARCH:-./build/ksearch}
passed=0 failed=0
files=(tests/bad_models/*.yaml)
if [[ ! -f ${files[0]} ]]; then
    echo "FAILED: no tests/bad_models/*.yaml"
    echo "0 passed, 1 failed, 0 skipped"
    exit 1
fi
for f in "${files[@]}"; do
    want=${f%.yaml}.expected
    got=$("$ks" fit "$f" --no-save --epochs 1 2>&1 >/dev/null); rc=$?
    if [[ -n ${KS_UPDATE_GOLDEN:-} ]]; then printf '%s\n' "$got" > "$want"; fi
    if [[ $rc -eq 2 && -f $want && "$got" == "$(cat "$want")" ]]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $f: exit $rc"
        echo "  got:  $got"
        [[ -f $want ]] && echo "  want: $(cat "$want")"
    fi
done
echo "$passed passed, $failed failed, 0 skipped"
