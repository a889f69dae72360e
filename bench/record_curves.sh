#!/usr/bin/env bash
# record_curves.sh — records the learning-curve table that bench/search_sim replays: a grid
# over the seed space (Géron ch. 10: n_hidden 0-3, n_neurons 1-100, learning_rate 3e-4-3e-2
# log; SGD, batch 32) trained by ksearch on a subset of Fashion-MNIST, every configuration
# for the full 27 epochs without early stopping, and its val_accuracy after each epoch
# written as one line of a table.  Run once; the table is committed (bench/curves_seed_space.tsv).
#   bash bench/record_curves.sh [KSEARCH] [-o FILE]
#   env: CURVES_TRAIN_ROWS=10000 CURVES_EPOCHS=27 CURVES_NEURONS=10 CURVES_RATES=10
#        CURVES_PARALLEL=2 CURVES_SEED=1
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=
out=$here/curves_seed_space.tsv
while [[ $# -gt 0 ]]; do
    case $1 in
    -o) out=$2; shift ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "record_curves.sh: unknown option $1" >&2; exit 2 ;;
    *) bin=$1 ;;
    esac
    shift
done
[[ $out == /* ]] || out=$PWD/$out
train_rows=${CURVES_TRAIN_ROWS:-10000}
epochs=${CURVES_EPOCHS:-27}
neurons=${CURVES_NEURONS:-10}
rates=${CURVES_RATES:-10}
parallel=${CURVES_PARALLEL:-2}
seed=${CURVES_SEED:-1}

command -v sqlite3 >/dev/null || { echo "record_curves.sh: the sqlite3 command is missing (apt-get install sqlite3)" >&2; exit 1; }
if [[ -z $bin ]]; then
    make -C "$root" -j2 build/ksearch >/dev/null
    bin=$root/build/ksearch
fi
[[ $bin == /* ]] || bin=$PWD/$bin
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"

source "$here/seed_space.sh"
{
    seed_space curves "$seed" "$train_rows" 5000
    cat <<EOF
fit: {epochs: $epochs, batch_size: 32, verbose: 0}
search:
  method: grid
  metric: {name: val_accuracy, goal: maximize}
  parallel: $parallel
  parameters:
    n_hidden: {values: [0, 1, 2, 3]}
    n_neurons: {int: [1, 100], grid_points: $neurons}
    learning_rate: {float: [3.0e-4, 3.0e-2], log: true, grid_points: $rates}
EOF
} >curves.yaml
t0=$(date +%s)
"$bin" curves.yaml --fresh >curves.log 2>&1 || { tail -20 curves.log >&2; exit 1; }
t1=$(date +%s)
db=runs/curves/study.db
failed=$(sqlite3 "$db" "SELECT count(*) FROM trial WHERE status != 'complete' OR epochs != $epochs")
[[ $failed -eq 0 ]] || { echo "record_curves.sh: $failed trials did not train $epochs epochs" >&2; exit 1; }
{
    echo "# The seed space's learning curves, recorded by bench/record_curves.sh ($(date -u +%F), $((t1 - t0)) s):"
    echo "# ksearch grid study, Fashion-MNIST train rows [0, $train_rows), validation [55000, 60000), SGD,"
    echo "# batch 32, seed $seed, $epochs epochs, no early stopping.  One line per configuration:"
    echo "# n_hidden n_neurons learning_rate, then val_accuracy after epochs 1..$epochs."
    sqlite3 -batch -noheader -separator ' ' "$db" "
        SELECT json_extract(t.params, '\$.n_hidden'), json_extract(t.params, '\$.n_neurons'),
               printf('%.6g', json_extract(t.params, '\$.learning_rate')),
               group_concat(printf('%.4f', m.value), ' ')
        FROM trial t JOIN (SELECT * FROM metric WHERE name = 'val_accuracy' AND step = -1
                           ORDER BY trial_id, epoch) m ON m.trial_id = t.id
        GROUP BY t.id ORDER BY t.number"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "$(grep -vc '^#' "$out") configurations x $epochs epochs in $out ($((t1 - t0)) s)"
