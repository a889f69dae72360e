#!/usr/bin/env bash
# Ensembles end to end: a small study with an ensemble section builds every weighting,
# stores them in study.db and saves the best as one file; `ksearch evaluate` of that file
# reproduces the test metrics the study reported, exactly; predict writes probabilities;
# `ksearch ensemble RUNDIR` rebuilds on demand; damaged files, a bad method and a too
# large K each get one clear message (exit 2, or a warning for K).
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_ensemble.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
if [[ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]]; then
    echo "skipped: ensembles end to end (a study on Fashion-MNIST, not installed: make deps)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

cat > "$tmp/ens.yaml" <<'YAML'
name: ens
seed: 3
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/train, scale: 255, rows: [0, 3000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/train, scale: 255, rows: [55000, 56000]}
  test:       {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 2000]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: $units, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: $lr}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 3, batch_size: 64, verbose: 0}
search:
  method: random
  metric: {name: val_accuracy, goal: maximize}
  max_trials: 6
  parallel: 2
  parameters:
    units: {int: [8, 64]}
    lr: {float: [1.0e-3, 1.0e-2], log: true}
ensemble: {top: 4, weights: all}
YAML
cd "$tmp"
out=$("$ks" ens.yaml 2>&1); rc=$?
check "the study with an ensemble section runs" $rc "$out"
line=$(grep '^saved the ' <<<"$out")
[[ $line =~ ensembles/best.ksm\ \(test\ loss\ ([0-9.]+),\ accuracy\ ([0-9.]+)\) ]]
check "the study reports the saved ensemble's test metrics" $? "$line"
loss=${BASH_REMATCH[1]:-x} acc=${BASH_REMATCH[2]:-x}
for m in "best single" uniform random nelder-mead greedy; do
    grep -q "^$m " <<<"$out"; check "the report has a $m row" $?
done
ev=$("$ks" evaluate runs/ens/ensembles/best.ksm ens.yaml 2>&1); rc=$?
[[ $rc -eq 0 && $ev == "loss: $loss - accuracy: $acc" ]]
check "evaluate of the ensemble file reproduces the study's test metrics" $? "(rc $rc: $ev vs $loss $acc)"
n=$(sqlite3 runs/ens/study.db "SELECT count(*) || '/' || count(file) FROM ensemble;" 2>&1)
[[ $? -eq 0 && $n == 4/1 ]]; check "four ensembles in study.db, the saved one with its file ($n)" $?
w=$(sqlite3 runs/ens/study.db "SELECT json FROM ensemble WHERE file IS NOT NULL;" 2>&1)
[[ $? -eq 0 && $w == *'"members": ['*'"weights": ['* ]]; check "the stored ensemble lists members and weights" $? "$w"

"$ks" predict runs/ens/ensembles/best.ksm /usr/share/datasets/fashion-mnist/t10k -o p.csv >/dev/null 2>&1
check "predict with an ensemble file" $?
bad=$(awk -F, 'NR > 1 { s = 0; for (i = 2; i <= NF; i++) s += $i; if (s < 0.9999 || s > 1.0001) n++ }
               END { print NR - 1 "/" n + 0 }' p.csv)
[[ $? -eq 0 && $bad == 10000/0 ]]; check "10,000 rows of probabilities summing to 1 (rows/bad: $bad)" $?

# on demand, from the run directory; K larger than the complete trials: a warning
out=$("$ks" ensemble runs/ens --top 50 --weights greedy -o g.ksm 2>&1); rc=$?
check "ksearch ensemble RUNDIR --top 50" $rc "$out"
grep -q "warning: 6 complete trials, fewer than top 50" <<<"$out"; check "K too large: a warning" $? "$out"
"$ks" evaluate g.ksm /usr/share/datasets/fashion-mnist/t10k >/dev/null 2>&1; check "the greedy file evaluates" $?

# damaged and truncated files, a bad method, a directory without a study
cp runs/ens/ensembles/best.ksm bad.ksm; check "copy the ensemble file" $?
size=$(stat -c %s bad.ksm)
printf '\x55' | dd of=bad.ksm bs=1 seek=$((size / 2)) conv=notrunc status=none
err=$("$ks" evaluate bad.ksm ens.yaml 2>&1); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$err") -eq 1 && $err == *bad.ksm* ]]
check "a damaged ensemble file: one message, exit 2" $? "(rc $rc: $err)"
head -c $((size / 3)) runs/ens/ensembles/best.ksm > cut.ksm
err=$("$ks" predict cut.ksm ens.yaml 2>&1); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$err") -eq 1 && $err == *truncated* ]]
check "a truncated ensemble file: one message, exit 2" $? "(rc $rc: $err)"
err=$("$ks" ensemble runs/ens --weights simplex 2>&1); rc=$?
[[ $rc -eq 2 && $err == *simplex* ]]; check "an unknown weighting: exit 2" $? "(rc $rc: $err)"
mkdir empty
err=$("$ks" ensemble empty 2>&1); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$err") -eq 1 ]]; check "a directory without study.db: one message, exit 2" $? "(rc $rc: $err)"
echo "$passed passed, $failed failed, 0 skipped"
