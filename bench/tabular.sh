#!/usr/bin/env bash
# tabular.sh — the tabular studies (studies/debian_tabular_{binary,sections,
# size_regression}.yaml: Normalization and StringLookup inside the model) against
# scikit-learn's MLP on the same split with the same preprocessing outside the model
# (bench/sklearn_tabular.py).  Runs each study in a temporary directory and prints its
# best single trial's and its ensemble's test metric beside scikit-learn's.  Installs
# Debian's python3-sklearn once if missing (needs root).
#   bash bench/tabular.sh [KSEARCH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ks=$(realpath "${1:-$root/build/ksearch}")
. "$here/lib.sh"
if ! "$python" -c 'import sklearn' 2>/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "tabular.sh: scikit-learn is missing: run as root, or apt-get install python3-sklearn" >&2
        exit 1
    fi
    echo "installing python3-sklearn (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-sklearn >/dev/null
fi
tmp=$(mktemp -d /tmp/ks_bench_tabular.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf '%-16s %-9s %12s %12s %12s\n' task metric "ksearch best" "ks ensemble" "sklearn MLP"
"$python" "$here/sklearn_tabular.py" "$root/studies/data/debian_tabular.csv" > sklearn.log
for task in binary sections size_regression; do
    "$ks" "$root/studies/debian_tabular_$task.yaml" > "$task.log" 2>&1
    metric=accuracy
    [[ $task == size_regression ]] && metric=mae
    # the ensemble table (its rows start with a label of two words that the header lacks)
    # and the saved ensemble's line
    single=$(awk -v m="test_$metric" '/^ +val_loss/ { for (i = 1; i <= NF; i++) if ($i == m) c = i + 2 }
                                      /^best single/ && c { print $c }' "$task.log")
    ens=$(sed -nE "s/^saved the .* ensemble: .*$metric ([0-9.]+)\)$/\1/p" "$task.log")
    sk=$(awk -v k="sklearn_${task}_$metric" '$1 == "RESULT" && $2 == k { print $3 }' sklearn.log)
    printf '%-16s %-9s %12s %12s %12s\n' "$task" "$metric" "${single:-?}" "${ens:-?}" "${sk:-?}"
done
grep -v '^RESULT' sklearn.log
