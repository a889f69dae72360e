#!/usr/bin/env bash
# A run directory read back.  `ksearch ensemble RUNDIR` reads the study's relative data
# paths from the study file's folder, as the study did (kept in study.db), from any
# current directory, and writes into that RUNDIR.  Its report compares like with like:
# every row is scored from predictions, without regularization penalties, and says so;
# the best single trial's own val_loss (with its penalty) is given beside, equal to the
# one study.db holds for its best epoch.  A run folder nobody may write (chattr +i, as
# root ignores permissions; skipped where that is not allowed) is still read by ls,
# show, compare and ensemble's reading, without a file created in it.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup rundir

# proj/data/{train,valid}.csv: two classes from 4 features; proj/studies/s.yaml reads
# them as ../data/…, relative to its own folder
mkdir -p proj/data proj/studies elsewhere
for f in train:400:1 valid:200:7; do
    IFS=: read -r name rows seed <<<"$f"
    awk -v n="$rows" -v seed="$seed" 'BEGIN { srand(seed); print "a,b,c,d,y";
        for (i = 0; i < n; i++) { a = rand(); b = rand(); c = rand(); d = rand();
            printf "%.4f,%.4f,%.4f,%.4f,%d\n", a, b, c, d, (a + b - c + 0.3 * (rand() - 0.5) > 0.5) } }' \
        > "proj/data/$name.csv"
done
cat > proj/studies/s.yaml <<'YAML'
name: rundir
seed: 3
data:
  train:      {csv: ../data/train.csv, target: y}
  validation: {csv: ../data/valid.csv, target: y}
model:
  - Dense: {units: $units, activation: relu, input_shape: [4], kernel_regularizer: {l2: 0.01}}
  - Dense: {units: 2, activation: softmax, kernel_regularizer: {l2: 0.01}}
compile:
  optimizer: {Adam: {learning_rate: 0.01}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 6, batch_size: 32, verbose: 0}
search:
  method: grid
  metric: val_loss
  parameters:
    units: {values: [4, 8, 16]}
ensemble: {top: 2, weights: [uniform, greedy]}
YAML
(cd proj && "$ks" studies/s.yaml >out 2>err)
check "the study (run from proj/, its file in proj/studies/) exits 0" $? "$(cat proj/err)"
run=proj/runs/rundir
[[ $(q "$run/study.db" "SELECT dir FROM study;") == "$(realpath proj/studies)" ]]
check "study.db keeps the study file's folder" $? "($(q "$run/study.db" "SELECT dir FROM study;"))"

# --- ksearch ensemble RUNDIR from the project and from anywhere else
(cd proj && "$ks" ensemble runs/rundir >ens_out 2>ens_err)
check "ensemble RUNDIR from proj/: its data found from the study's folder (exit 0)" $? "$(cat proj/ens_err)"
(cd elsewhere && "$ks" ensemble "$tmp/$run" -o best2.ksm >ens_out 2>ens_err)
check "ensemble RUNDIR from another folder: exit 0" $? "$(cat elsewhere/ens_err)"
[[ -s elsewhere/best2.ksm && ! -e elsewhere/runs ]]
check "ensemble RUNDIR from another folder: nothing written beside it but the -o file" $? "($(ls elsewhere))"
[[ $(q "$run/study.db" "SELECT count(*) FROM ensemble;") == 2 ]]
check "ensemble RUNDIR from another folder: the ensembles go into RUNDIR's study.db" $?

# --- the report: like with like, said in its header
report=proj/ens_out
grep -q "without regularization penalties" "$report"
check "the report says its losses leave out the regularization penalties" $? "$(head -5 "$report")"
best=$(awk '/^best single/ { for (i = 1; i <= NF; i++) if ($i == "trial") print $(i + 1) }' "$report")
own=$(sed -n 's/.*(val_loss \([0-9.]*\) with its regularization penalty).*/\1/p' "$report")
rec=$(q "$run/study.db" "SELECT printf('%.4f', m.value) FROM metric m JOIN trial t ON t.id = m.trial_id
                          WHERE t.number = ${best:-0} AND m.name = 'val_loss' AND m.step = -1
                            AND m.epoch = t.best_epoch;")
[[ -n $best && -n $own && $own == "$rec" ]]
check "best single (trial $best): its own val_loss with the penalty ($own) is study.db's ($rec)" $? \
    "$(grep '^best single' "$report")"
row=$(awk '/^best single/ { print $3 }' "$report")
awk -v a="$row" -v b="$own" 'BEGIN { exit !(a + 0 < b + 0) }'
check "best single: the row's val_loss ($row) is the predictions' alone, below it ($own)" $?

# --- evaluate and predict of a CSV without --target: the model knows its columns
sed -e '/^search:/,$d' -e 's/\$units/4/' -e 's/name: rundir/name: csvfit/' proj/studies/s.yaml \
    > proj/studies/fit.yaml
(cd proj && "$ks" fit studies/fit.yaml >fit_out 2>fit_err)
check "ksearch fit of the CSV run file: exit 0" $? "$(cat proj/fit_err)"
(cd proj && "$ks" evaluate runs/csvfit/model.ksm data/valid.csv --target y 2>cmd_err | tail -1 >with_out)
check "evaluate with --target y: exit 0" $? "$(cat proj/cmd_err)"
(cd proj && "$ks" evaluate runs/csvfit/model.ksm data/valid.csv 2>cmd_err | tail -1 >without_out)
rc=$?
[[ $rc -eq 0 && -s proj/without_out ]] && cmp -s proj/with_out proj/without_out
check "evaluate without --target reads the target column the model was trained with" $? \
    "(rc $rc: $(cat proj/cmd_err) $(cat proj/without_out) vs $(cat proj/with_out))"
(cd proj && "$ks" predict runs/csvfit/model.ksm data/valid.csv -o p.csv >/dev/null 2>cmd_err)
rc=$?
[[ $rc -eq 0 && $(head -1 proj/p.csv) == y,y_prob_0,y_prob_1 ]]
check "predict without --target: exit 0, the class and probabilities named after the target" $? \
    "(rc $rc: $(cat proj/cmd_err) $(head -1 proj/p.csv 2>/dev/null))"

# --- a run folder nobody may write: still read
ro=ro_run
cp -r "$run" "$ro"
rm -f "$ro"/study.db-wal "$ro"/study.db-shm
if chattr +i "$ro/study.db" 2>/dev/null && chattr +i "$ro"; then
    immutable+=("$ro" "$ro/study.db")
    before=$(ls -A "$ro" | paste -sd' ')
    "$ks" ls "$ro" >ls_out 2>ls_err
    rc=$?
    [[ $rc -eq 0 ]] && grep -q "study rundir: 3 trials" ls_out
    check "read-only folder: ksearch ls reads it" $? "(rc $rc: $(cat ls_err))"
    "$ks" show "$ro" 1 >/dev/null 2>ls_err
    check "read-only folder: ksearch show" $? "$(cat ls_err)"
    "$ks" compare "$ro" 0 1 >/dev/null 2>ls_err
    check "read-only folder: ksearch compare" $? "$(cat ls_err)"
    [[ $(ls -A "$ro" | paste -sd' ') == "$before" ]]
    check "read-only folder: no file created in it (no -wal, no -shm)" $? "($(ls -A "$ro"))"
    "$ks" ensemble "$ro" >ro_out 2>ro_err
    rc=$?
    [[ $rc -ne 0 && $(grep -c . ro_err) -eq 1 ]]
    check "read-only folder: ensemble, which writes into it, is refused with one message" $? "(rc $rc: $(cat ro_err))"
else
    skip "a run folder nobody may write (chattr +i is not allowed here)"
fi
finish
