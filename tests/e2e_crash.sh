#!/usr/bin/env bash
# Crash safety of the study database: `ksearch fit` killed with SIGKILL at random
# moments, 20 times, recording into the same study.db.  After every kill:
# PRAGMA integrity_check is ok; every trial's recorded epochs are 0..k-1, each exactly
# once; the trial row agrees (epochs = k); its last checkpoint is a whole model file
# from epoch k that ksearch can load and evaluate.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_crash.XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
if [[ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]]; then
    echo "skipped: crash safety (trains on Fashion-MNIST, not installed: make deps)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

cat > "$tmp/crash.yaml" <<YAML
name: crash
seed: 5
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 2000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9500]}
  test:       {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9500, 10000]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: 32, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile: {optimizer: {Adam: {learning_rate: 0.001}}, loss: sparse_categorical_crossentropy}
fit: {epochs: 300, batch_size: 64, verbose: 0}
callbacks:
  - TensorBoard: {histogram_freq: 1}
YAML
db=runs/crash/study.db
keep=${KEEP:-}
cd "$tmp"
RANDOM=7
# the newest trial's number and epochs ("-1|0" before the first)
newest() { sqlite3 "$db" "SELECT number || '|' || epochs FROM trial ORDER BY number DESC LIMIT 1;" 2>/dev/null; }
for round in $(seq 1 20); do
    last=$([[ -f $db ]] && newest); last=${last:--1|0}
    "$ks" fit crash.yaml --no-save --threads 1 >/dev/null 2>&1 &
    pid=$!
    if ((round % 2)); then
        # a random moment between start-up and the end of training (~0 to 3 s of ~3.5 s)
        sleep "$((RANDOM % 3)).$((RANDOM % 10))$((RANDOM % 10))"
    else
        # a random moment in the first second after this run's first epoch is recorded
        # (on a busy machine start-up alone can take the 3 s above)
        for _ in $(seq 1 300); do
            now=$([[ -f $db ]] && newest)
            [[ -n $now && ${now%|*} -gt ${last%|*} && ${now#*|} -gt 0 ]] && break
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [[ -f $db ]] || continue
    ok=$(sqlite3 "$db" 'PRAGMA integrity_check;' 2>&1)
    check "round $round: integrity_check" "$([[ $ok == ok ]]; echo $?)" "$ok"
    # killed after the file was made but before its schema committed: nothing was recorded
    # yet (a rerun creates the schema), so there is nothing more to check this round
    [[ -n $(sqlite3 "$db" "SELECT name FROM sqlite_master WHERE name = 'trial';" 2>&1) ]] || continue
    # epochs recorded per trial: count, distinct, max, and the trial row
    bad=$(sqlite3 "$db" "
        SELECT t.number FROM trial t LEFT JOIN
          (SELECT trial_id, count(*) AS n, count(DISTINCT epoch) AS d, max(epoch) AS mx
             FROM metric WHERE name = 'loss' AND step = -1 GROUP BY trial_id) m
          ON m.trial_id = t.id
         WHERE coalesce(m.n, 0) != t.epochs OR coalesce(m.d, 0) != t.epochs
            OR coalesce(m.mx, -1) != t.epochs - 1;" 2>&1)
    check "round $round: every recorded epoch exactly once, trial rows agree" \
        "$([[ -z $bad ]]; echo $?)" "trials: $bad"
    # the newest trial's last checkpoint is whole and from its last recorded epoch
    row=$(sqlite3 "$db" "SELECT t.epochs, c.epoch FROM trial t JOIN checkpoint c ON c.trial_id = t.id
                         WHERE c.kind = 'last' ORDER BY t.number DESC LIMIT 1;" 2>&1)
    check "round $round: read the newest checkpoint" $? "$row"
    if [[ -n $row ]]; then
        rm -f last.ksm
        sqlite3 "$db" "SELECT writefile('last.ksm', c.data) FROM trial t JOIN checkpoint c
                       ON c.trial_id = t.id WHERE c.kind = 'last' ORDER BY t.number DESC LIMIT 1;" >/dev/null
        check "round $round: write the newest checkpoint to a file" $?
        [[ $((${row%|*} - 1)) == "${row#*|}" ]]; check "round $round: last checkpoint is from the last epoch (epochs|epoch: $row)" $?
        "$ks" evaluate last.ksm crash.yaml >/dev/null 2>&1
        check "round $round: the last checkpoint loads and evaluates" $?
    fi
done
# and a run that is not killed still completes on top of all that, as one more trial
before=$(sqlite3 "$db" "SELECT count(*) FROM trial;"); check "count the trials" $? "$before"
"$ks" fit crash.yaml --no-save --threads 1 --epochs 3 >/dev/null 2>&1
check "a full run after 20 kills" $?
row=$(sqlite3 "$db" "SELECT count(*) FROM trial;")/$(sqlite3 "$db" \
      "SELECT status || ' ' || epochs FROM trial ORDER BY number DESC LIMIT 1;")
[[ $row == "$((before + 1))/complete 3" ]]; check "one more trial, complete with 3 epochs ($row)" $?
# the kills must have landed during training, or this test proves nothing (the even
# rounds aim there)
k=$(sqlite3 "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs > 0;")
[[ $k =~ ^[0-9]+$ && $k -ge 10 ]]; check "at least 10 of the 20 kills landed mid-training ($k)" $?
echo "$passed passed, $failed failed, 0 skipped"
