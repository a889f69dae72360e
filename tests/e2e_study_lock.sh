#!/usr/bin/env bash
# One process writes a run at a time.  While `ksearch STUDY.yaml` runs, a second one of
# the same study, --fresh, `ksearch fit` of a file with the same name, `ksearch ensemble`
# and `ksearch tensorboard` of the run are refused: exit 2, one message naming the
# running process (pid, host, since when), nothing written (no output, no trial lost or
# run twice: the study ends as an uninterrupted run does).  Readers (ls, show, compare)
# are not refused.  The lock file a killed process leaves blocks nobody: the rerun
# resumes.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_lock.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
[[ -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]] || {
    echo "skipped: no Fashion-MNIST in /usr/share/datasets/fashion-mnist"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
q() { sqlite3 -batch "$@"; }
cd "$tmp"

# 6 trials of 20 epochs on 2 workers: several seconds
cat > s.yaml <<'YAML'
name: locked
seed: 5
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 4000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: $units, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: $learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 20, batch_size: 32, verbose: 0}
search:
  method: random
  metric: {name: val_accuracy, goal: maximize}
  max_trials: 6
  parallel: 2
  parameters:
    units: {values: [16, 32]}
    learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
YAML
# a model file of the same name: ksearch fit writes into runs/locked too
sed -e '/^search:/,$d' -e 's/\$units/16/' -e 's/\$learning_rate/0.001/' s.yaml > fit.yaml
mkdir ref && cp s.yaml ref/
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run exits 0" $? "$(cat ref/err)"
trials_of() { q "$1" "SELECT number, params, status, epochs, quote(objective), best_epoch FROM trial ORDER BY number;"; }
metrics_of() { q "$1" "SELECT t.number, m.name, m.epoch, quote(m.value) FROM metric m JOIN trial t ON t.id = m.trial_id WHERE m.step = -1 ORDER BY 1, 2, 3;"; }

db=runs/locked/study.db
"$ks" s.yaml >out 2>err &
pid=$!
pids+=("$pid")
for ((i = 0; i < 1500; i++)); do
    r=$(q "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1;" 2>/dev/null)
    [[ ${r:-0} -ge 1 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
done
[[ ${r:-0} -ge 1 ]]
check "the first run has trials running" $?
host=$(hostname)

# refused: exit 2, one line naming the process, nothing on stdout
refused() {
    local name=$1; shift
    "$@" >r_out 2>r_err
    local rc=$?
    local msg
    msg=$(cat r_err)
    [[ $rc -eq 2 ]]
    check "$name: exit 2 while the study runs" $? "(rc $rc: $msg)"
    [[ $(grep -c . r_err) -eq 1 && $msg == *"runs/locked"* && $msg == *"pid $pid"* &&
       $msg == *"host $host"* && $msg == *"since "* ]]
    check "$name: one message naming the run and the running process" $? "($msg)"
    [[ ! -s r_out ]]
    check "$name: nothing on stdout" $? "($(head -3 r_out))"
}
n_before=$(q "$db" "SELECT count(*) FROM trial;")
refused "a second run" "$ks" s.yaml
echo "second run refused: $(cat r_err)"
refused "--fresh" "$ks" s.yaml --fresh
n_after=$(q "$db" "SELECT count(*) FROM trial;")
[[ $n_after -ge $n_before ]]
check "--fresh refused: the study's trials are still there ($n_before, then $n_after)" $?
refused "ksearch fit into the same run" "$ks" fit fit.yaml
[[ $(q "$db" "SELECT count(*) FROM study;") == 1 ]]
check "ksearch fit refused: no study added to study.db" $?
refused "ksearch ensemble" "$ks" ensemble runs/locked
[[ ! -e runs/locked/ensembles ]]
check "ksearch ensemble refused: no ensembles folder" $?
refused "ksearch tensorboard" "$ks" tensorboard runs/locked
"$ks" ls runs/locked >ls_out 2>ls_err
check "ksearch ls reads the running study" $? "$(cat ls_err)"
"$ks" show runs/locked 0 >/dev/null 2>ls_err
check "ksearch show reads the running study" $? "$(cat ls_err)"

wait "$pid"
check "the first run exits 0" $? "$(cat err)"
ref=$(trials_of ref/runs/locked/study.db) got=$(trials_of "$db")
[[ $got == "$ref" ]]
check "the study equals an uninterrupted run's (trials, objectives)" $? "$(diff <(echo "$ref") <(echo "$got"))"
[[ $(metrics_of ref/runs/locked/study.db) == $(metrics_of "$db") ]]
check "every metric value equals the uninterrupted run's" $?
[[ -e runs/locked/ksearch.lock && ! -s runs/locked/ksearch.lock ]]
check "the lock file is left empty at the end" $?

# a process killed while holding the lock: its lock file blocks nobody
"$ks" s.yaml --fresh >out2 2>err2 &
pid=$!
pids+=("$pid")
for ((i = 0; i < 1500; i++)); do
    r=$(q "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1;" 2>/dev/null)
    [[ ${r:-0} -ge 1 ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
grep -q "pid=$pid " runs/locked/ksearch.lock
check "the killed process's lock file is left (it names pid $pid)" $?
"$ks" s.yaml >out3 2>err3
check "the rerun after the kill is not blocked: it resumes and exits 0" $? "$(cat err3)"
got=$(trials_of "$db")
[[ $got == "$ref" ]]
check "the resumed study equals the uninterrupted run's" $? "$(diff <(echo "$ref") <(echo "$got"))"
"$ks" tensorboard runs/locked >/dev/null 2>tb_err
check "ksearch tensorboard runs once the study has ended" $? "$(cat tb_err)"
echo "$passed passed, $failed failed"
