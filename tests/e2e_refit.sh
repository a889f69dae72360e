#!/usr/bin/env bash
# After the search, end to end, on a small regression study (tests/data/f200.csv, some of
# whose trials fail with a NaN loss): `ksearch ls --status/--top` filters the rows;
# `ksearch refit` retrains the best trial on training + validation rows, reports its test
# metrics beside the trial's, saves the model — the same file twice — and `evaluate`
# reproduces its numbers; `ksearch export RUNDIR TRIAL` writes a trial's best checkpoint
# as a model file that predict and evaluate take, and as ONNX.  Refits of failed,
# interrupted and epoch-less pruned trials, unknown statuses and trials, each get one
# message, exit 2, and write nothing.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
data=$(realpath "${KS_TEST_DATA:-tests}")/data/f200.csv
tmp=$(mktemp -d /tmp/ks_e2e_refit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
cd "$tmp" || exit 1
# a snapshot of everything under a run: what "nothing written" compares
snapshot() { find "$1" -type f -printf '%p %s %T@\n' | sort; }
# "one message, exit 2, nothing written": $1 what, $2 the exit status, $3 stderr, $4 the
# run's snapshot before, $5 the text the message must hold
refused() {
    local after
    after=$(snapshot runs/r)
    [[ $2 -eq 2 && $(wc -l <<<"$3") -eq 1 && $3 == *"$5"* && $after == "$4" ]]
    check "$1: one message, exit 2, nothing written" $? "(rc $2: $3)"
}

cat > study.yaml <<YAML
name: r
seed: 11
data:
  train:      {csv: $data, target: y, rows: [0, 120]}
  validation: {csv: $data, target: y, rows: [120, 160]}
  test:       {csv: $data, target: y, rows: [160, 200]}
model:
  - Dense: {units: \$units, activation: relu}
  - Dense: {units: 1}
compile:
  optimizer: {SGD: {learning_rate: \$lr}}
  loss: mse
  metrics: [mae]
fit: {epochs: 5, batch_size: 32, verbose: 0}
callbacks:
  - EarlyStopping: {monitor: val_loss, patience: 2}
search:
  method: grid
  metric: {name: val_loss, goal: minimize}
  parallel: 2
  parameters:
    units: {values: [4, 8]}
    lr: {values: [0.01, 0.003, 1.0e+9]}
YAML
out=$("$ks" study.yaml 2>&1); rc=$?
check "the study runs" $rc "$out"
n_failed=$(sqlite3 runs/r/study.db "SELECT count(*) FROM trial WHERE status = 'failed';")
n_complete=$(sqlite3 runs/r/study.db "SELECT count(*) FROM trial WHERE status = 'complete';")
[[ $n_failed -eq 2 && $n_complete -eq 4 ]]
check "four complete trials, two failed (a NaN loss)" $? "($n_complete, $n_failed)"
best=$(sqlite3 runs/r/study.db "SELECT number FROM trial WHERE status = 'complete'
                                ORDER BY objective, number LIMIT 1;")
bad=$(sqlite3 runs/r/study.db "SELECT number FROM trial WHERE status = 'failed' ORDER BY number LIMIT 1;")
rows=$(sqlite3 runs/r/study.db "SELECT best_epoch + 1 FROM trial WHERE number = $best;")

# ---------------------------------------------------------------- ls filters
out=$("$ks" ls runs/r --status complete --csv); rc=$?
st=$(tail -n +2 <<<"$out" | cut -d, -f2 | sort -u)
[[ $rc -eq 0 && $(tail -n +2 <<<"$out" | wc -l) -eq 4 && $st == complete ]]
check "ls --status complete: the four complete trials" $? "($rc: $out)"
out=$("$ks" ls runs/r --status failed,complete --top 3 --json); rc=$?
[[ $rc -eq 0 && $(grep -c '"number"' <<<"$out") -eq 3 && $out == *"\"number\": $best,"* ]]
check "ls --status failed,complete --top 3 --json: three rows, the best among them" $? "($rc: $out)"
out=$("$ks" ls runs/r --top 1); rc=$?
[[ $rc -eq 0 && $(wc -l <<<"$out") -eq 3 && $out == *"6 trials"*"1 shown (top 1)"* &&
   $(sed -n 3p <<<"$out") =~ ^\ +$best\ +complete ]]
check "ls --top 1: the best trial, and how many are shown" $? "($rc: $out)"
out=$("$ks" ls runs/r --status=failed); rc=$?
[[ $rc -eq 0 && $(grep -c ' failed ' <<<"$out") -eq 2 && $out != *" complete "* ]]
check "ls --status=failed" $? "($rc: $out)"
out=$("$ks" ls runs/r --status complet,pruned 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *'unknown trial status "complet" (did you mean "complete"?)'* ]]
check "ls --status with an unknown status: did you mean, exit 2" $? "($rc: $out)"
out=$("$ks" ls runs/r --top 0 2>&1); rc=$?
[[ $rc -eq 2 && $out == *"--top must be 1 or more"* ]]; check "ls --top 0: exit 2" $? "($rc: $out)"
out=$("$ks" ls --help); rc=$?
[[ $rc -eq 0 && $out == *"--status LIST"* && $out == *"--top K"* ]]; check "ls --help names the filters" $? "$out"

# ------------------------------------------------------ refit: what is refused
before=$(snapshot runs/r)
out=$("$ks" refit runs/r "$bad" 2>&1 >/dev/null); rc=$?
refused "refit of a failed trial" $rc "$out" "$before" "trial $bad failed (TerminateOnNaN"
out=$("$ks" refit runs/r 99 2>&1 >/dev/null); rc=$?
refused "refit of a trial that is not there" $rc "$out" "$before" "trial 99: no such trial"
out=$("$ks" refit runs/r x1 2>&1 >/dev/null); rc=$?
refused "refit of TRIAL x1" $rc "$out" "$before" "TRIAL must be a trial number"
out=$("$ks" refit runs/none 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && ! -e runs/none ]]; check "refit of a run that is not there: exit 2, nothing made" $? "($rc: $out)"
# interrupted, and pruned before its first epoch: in a copy of the run
cp -r runs/r runs/c && check "copy the run" $?
sqlite3 runs/c/study.db "UPDATE trial SET status = 'interrupted' WHERE number = $best;
                         UPDATE trial SET status = 'pruned', objective = NULL, best_epoch = -1,
                                          epochs = 0 WHERE number = 0 AND number != $best;
                         UPDATE trial SET status = 'pruned', objective = NULL, best_epoch = -1,
                                          epochs = 0 WHERE number = 1 AND number != $best;"
check "mark trials interrupted and pruned" $?
pruned=$(sqlite3 runs/c/study.db "SELECT number FROM trial WHERE status = 'pruned' LIMIT 1;")
c_before=$(snapshot runs/c)
out=$("$ks" refit runs/c "$best" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *"trial $best was interrupted"* && $(snapshot runs/c) == "$c_before" ]]
check "refit of an interrupted trial: one message, exit 2, nothing written" $? "($rc: $out)"
out=$("$ks" refit runs/c "$pruned" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == *"trial $pruned (pruned) has no best epoch"* && $(snapshot runs/c) == "$c_before" ]]
check "refit of a pruned trial without epochs: one message, exit 2, nothing written" $? "($rc: $out)"
sqlite3 runs/c/study.db "UPDATE trial SET status = 'failed' WHERE status = 'complete';"
out=$("$ks" refit runs/c 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $out == *"no complete trial with a val_loss value to refit"* ]]
check "refit of a study without a complete trial: exit 2" $? "($rc: $out)"

# ---------------------------------------------------------------- refit the best
out=$("$ks" refit runs/r --verbose 0 2>&1); rc=$?
check "refit of the best trial" $rc "$out"
[[ $out == *"refit of trial $best of study r: "*"$rows epoch"*"on 160 rows (training + validation)"* ]]
check "refit says which trial, how many epochs (its best), on how many rows" $? "$out"
refit_line=$(grep '^test (refit): ' <<<"$out")
trial_line=$(grep "^test (trial $best, best checkpoint, epoch $rows): " <<<"$out")
[[ -n $refit_line && -n $trial_line ]]
check "the refit model's test metrics beside the trial's" $? "$out"
saved=$(printf 'runs/r/refit/trial-%04d.ksm' "$best")
[[ -f $saved && $out == *"saved $saved"* ]]; check "saved as $saved" $? "$out"
ev=$("$ks" evaluate "$saved" study.yaml 2>&1 | tail -n 1); rc=$?
[[ $rc -eq 0 && "test (refit): $ev" == "$refit_line" ]]
check "evaluate of the saved model gives the test metrics refit printed" $? "($rc: $ev vs $refit_line)"
out=$("$ks" refit runs/r "$best" -o again.ksm --verbose 0 2>&1); rc=$?
cmp -s again.ksm "$saved"
check "refitting trial $best again gives the same file, byte for byte" $? "($rc: $out)"
out=$("$ks" refit runs/r "$best" -o bar.ksm 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"Epoch 1/$rows"* ]]; check "refit shows fit's progress (--verbose 1, the default)" $? "$out"
cmp -s bar.ksm "$saved"; check "the same model with the progress shown" $?
out=$("$ks" predict "$saved" "$data" --target y -o p.csv 2>&1); rc=$?
[[ $rc -eq 0 && $(wc -l < p.csv) -eq 201 ]]; check "predict with the refit model" $? "($rc: $out)"

# ----------------------------------------------------------- export one trial
out=$("$ks" export runs/r "$best" -o t.ksm --onnx t.onnx 2>&1); rc=$?
[[ $rc -eq 0 && -s t.ksm && -s t.onnx && $out == *"wrote t.ksm: trial $best's best checkpoint (epoch $rows,"* ]]
check "export RUNDIR TRIAL -o t.ksm --onnx t.onnx" $? "($rc: $out)"
sqlite3 runs/r/study.db "SELECT hex(c.data) FROM checkpoint c JOIN trial t ON t.id = c.trial_id
                         WHERE t.number = $best AND c.kind = 'best';" > blob.hex
[[ $(xxd -p t.ksm | tr -d '\n' | tr a-f A-F) == "$(tr -d '\n' < blob.hex)" ]]
check "the exported file is the trial's best checkpoint, byte for byte" $?
ev=$("$ks" evaluate t.ksm study.yaml 2>&1 | tail -n 1); rc=$?
[[ $rc -eq 0 && "test (trial $best, best checkpoint, epoch $rows): $ev" == "$trial_line" ]]
check "evaluate of the exported trial gives the trial's test metrics refit printed" $? "($rc: $ev vs $trial_line)"
out=$("$ks" predict t.ksm "$data" --target y -o q.csv 2>&1); rc=$?
[[ $rc -eq 0 && $(wc -l < q.csv) -eq 201 ]]; check "predict with the exported trial" $? "($rc: $out)"
head -c 4 t.onnx | od -An -tx1 | grep -q '08 07'; check "the ONNX file opens with IR version 7" $?
"$ks" export t.ksm --onnx t2.onnx >/dev/null 2>&1 && cmp -s t.onnx t2.onnx
check "the trial's ONNX is the exported model file's (the exporter e2e_onnx.sh runs in onnxruntime)" $?
out=$("$ks" export runs/r "$best" --onnx only.onnx 2>&1); rc=$?
[[ $rc -eq 0 && -s only.onnx && ! -e only.ksm ]]; check "export RUNDIR TRIAL --onnx alone" $? "($rc: $out)"
out=$("$ks" export runs/r "$bad" -o f.ksm 2>&1); rc=$?
[[ $rc -eq 2 && ! -e f.ksm && $(wc -l <<<"$out") -eq 1 && $out == *"trial $bad (failed) has no best checkpoint"* ]]
check "export of a failed trial: one message, exit 2, nothing written" $? "($rc: $out)"
out=$("$ks" export runs/r 99 -o n.ksm 2>&1); rc=$?
[[ $rc -eq 2 && ! -e n.ksm && $out == *"trial 99: no such trial"* ]]; check "export of trial 99: exit 2" $? "($rc: $out)"
out=$("$ks" export runs/r "$best" 2>&1); rc=$?
[[ $rc -eq 2 && $out == *"-o FILE.ksm or --onnx OUT.onnx (or both) is required"* ]]
check "export RUNDIR TRIAL without an output: exit 2" $? "($rc: $out)"
out=$("$ks" export runs/r --onnx d.onnx 2>&1); rc=$?
[[ $rc -eq 2 && ! -e d.onnx && $out == *"for a trial of a study's run: ksearch export RUNDIR TRIAL"* ]]
check "export RUNDIR without a trial: a hint, exit 2" $? "($rc: $out)"
out=$("$ks" export t.ksm -o copy.ksm 2>&1); rc=$?
[[ $rc -eq 2 && ! -e copy.ksm ]]; check "export MODEL.ksm -o: exit 2" $? "($rc: $out)"

# ------------------------------------------------------ refit takes the run's lock
if command -v python3 >/dev/null; then
    python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+"); fcntl.lockf(f, fcntl.LOCK_EX); f.write("pid=1 host=h since=0 what=holder\n"); f.flush()
open(sys.argv[2], "w").close(); time.sleep(30)' runs/r/ksearch.lock held &
    holder=$!
    for _ in $(seq 200); do [[ -e held ]] && break; sleep 0.05; done
    out=$("$ks" refit runs/r "$best" -o locked.ksm 2>&1); rc=$?
    kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
    [[ $rc -eq 2 && ! -e locked.ksm && $out == *"is in use by another ksearch"* ]]
    check "refit while another process holds the run: refused, exit 2" $? "($rc: $out)"
else
    echo "skipped: refit against a held lock (no python3)"
    skipped_lock=1
fi

if [[ -n ${skipped_lock:-} ]]; then echo "$passed passed, $failed failed, 1 skipped"
else echo "$passed passed, $failed failed"; fi
