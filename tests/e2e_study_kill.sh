#!/usr/bin/env bash
# The acceptance test of resuming: a random study killed with SIGKILL ten times at
# random moments (KILL_SEED picks them; 1 by default), then run to its end, has every
# trial's status, epochs, objective, best epoch, best checkpoint (byte for byte) and
# metric rows equal to an uninterrupted run's.  After each kill the database passes
# integrity_check.  Prints how many kills landed while a trial was mid-way through its
# epochs.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_kill.XXXXXX)
pid=
cleanup() {
    [[ -n $pid ]] && kill -9 "$pid" 2>/dev/null
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

cat > s.yaml <<'YAML'
name: kill
seed: 21
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 4000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: $units, activation: relu}
  - Dropout: {rate: $dropout}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: $learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 15, batch_size: 32, verbose: 0}
search:
  method: random
  metric: {name: val_accuracy, goal: maximize}
  max_trials: 12
  parallel: 2
  parameters:
    units: {values: [16, 32]}
    dropout: {float: [0.0, 0.3]}
    learning_rate: {float: [1.0e-3, 3.0e-2], log: true}
YAML
mkdir ref kill
cp s.yaml ref/ && cp s.yaml kill/
start=$(date +%s.%N)
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run exits 0" $? "$(cat ref/err)"
ref_seconds=$(echo "$(date +%s.%N) - $start" | bc)
ref_db=ref/runs/kill/study.db
db=kill/runs/kill/study.db

trials_of() { q "$1" "SELECT number, params, seed, status, budget, epochs, quote(objective), best_epoch FROM trial ORDER BY number;"; }
metrics_of() { q "$1" "SELECT t.number, m.name, m.step, m.epoch, quote(m.value) FROM metric m JOIN trial t ON t.id = m.trial_id ORDER BY 1, 2, 3, 4;"; }
checkpoints_of() { q "$1" "SELECT t.number, c.kind, c.epoch, hex(c.data) FROM checkpoint c JOIN trial t ON t.id = c.trial_id WHERE c.kind = 'best' ORDER BY 1;" | md5sum; }

# ten kills, each at a random moment 0.5 .. 2 s after the start (the study takes longer
# than that in all, so each kill lands before its end)
RANDOM=${KILL_SEED:-1}
kills=0 mid=0 starting=0 ok=0
for ((k = 0; k < 10; k++)); do
    ms=$((500 + RANDOM % 1500))
    delay=$((ms / 1000)).$(printf '%03d' $((ms % 1000)))
    (cd kill && exec "$ks" s.yaml >>out 2>>err) &
    pid=$!
    sleep "$delay"
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid"
        echo "the study ended before kill $((k + 1)) (${delay}s)"
        pid=
        break
    fi
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    pid=
    kills=$((kills + 1))
    if [[ ! -e $db ]]; then
        # killed while it loaded and checked its data: nothing written yet
        starting=$((starting + 1)) ok=$((ok + 1))
        continue
    fi
    r=$(q "$db" "PRAGMA integrity_check;" 2>&1)
    [[ $r == ok ]] && ok=$((ok + 1))
    [[ -z $r || $r == ok ]] || echo "after kill $kills: $r"
    # where it landed: a trial mid-way through its epochs, or before any trial ran
    m=$(q "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs > 0
                   AND epochs < budget;" 2>/dev/null)
    [[ ${m:-0} -ge 1 ]] && mid=$((mid + 1))
    [[ $(q "$db" "SELECT count(*) FROM trial WHERE status = 'running';" 2>/dev/null) == 0 ]] &&
        starting=$((starting + 1))
done
[[ $kills -eq 10 ]]
check "ten kills landed before the study ended (got $kills)" $?
[[ $ok -eq $kills ]]
check "integrity_check after every kill ($ok of $kills)" $?
echo "kills: $kills at random moments (KILL_SEED ${KILL_SEED:-1}); $mid while a trial was mid-way through its epochs, $starting before any trial ran; the uninterrupted run took ${ref_seconds%.*} s"
(cd kill && "$ks" s.yaml >out_last 2>err_last)
check "the last run finishes the study (exit 0)" $? "$(cat kill/err_last)"
ref=$(trials_of "$ref_db") got=$(trials_of "$db")
[[ $got == "$ref" && $(printf '%s\n' "$ref" | grep -c '|complete|15|15|') -eq 12 ]]
check "every trial's status, budget, epochs, objective and best epoch equal the uninterrupted run's" $? \
    "$(diff <(echo "$ref") <(echo "$got"))"
[[ $(metrics_of "$ref_db") == "$(metrics_of "$db")" ]]
check "every metric row (name, epoch, value) equals the uninterrupted run's" $? \
    "$(diff <(metrics_of "$ref_db") <(metrics_of "$db") | head -5)"
[[ $(checkpoints_of "$ref_db") == "$(checkpoints_of "$db")" ]]
check "every best checkpoint equals the uninterrupted run's, byte for byte" $?
[[ $(q "$db" "SELECT count(*) FROM (SELECT trial_id, name, epoch FROM metric WHERE step = -1
                GROUP BY 1, 2, 3 HAVING count(*) > 1);") == 0 ]]
check "no epoch value stored twice" $?
echo "$passed passed, $failed failed"
