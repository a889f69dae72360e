#!/usr/bin/env bash
# TPE and BOHB in real studies.  Each runs to the end (one worker, so that its trials are
# a function of the seed); killed with SIGKILL in the middle and run again, it finishes
# with the same trials as the uninterrupted run — numbers, parameters, seeds, statuses,
# epochs and every metric value — because each method's next trial is a function of the
# history.  BOHB trains exactly Hyperband's plan of epochs and starts with Hyperband's
# random configurations, then leaves them for its models'.  Bad options: one message
# FILE:LINE:COL, exit 2, nothing written.
set -u
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_tpe.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    [[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}
trap cleanup EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
q() { sqlite3 -batch "$@"; }

# study FILE NAME METHOD OPTIONS...: 2 parameters, one worker, small data
study() {
    local f=$1 name=$2 method=$3
    shift 3
    cat > "$f" <<YAML
name: $name
seed: 5
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 3000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: \$learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 9, batch_size: 32, verbose: 0}
search:
  method: $method
  metric: {name: val_accuracy, goal: maximize}
  parallel: 1
YAML
    for o in "$@"; do echo "  $o" >> "$f"; done
    cat >> "$f" <<YAML
  parameters:
    units: {values: [16, 32, 64]}
    learning_rate: {float: [1.0e-3, 3.0e-1], log: true}
YAML
}

trials_of() { q "$1" "SELECT number, params, seed, status, budget, epochs FROM trial ORDER BY number;"; }
metrics_of() {
    q "$1" "SELECT t.number, m.name, m.step, m.epoch, quote(m.value)
              FROM metric m JOIN trial t ON t.id = m.trial_id
             WHERE m.name NOT IN ('iterations') ORDER BY t.number, m.name, m.step, m.epoch;"
}

# wait_trials DB PID N: until N trials are complete (0), or the process ended / 60 s (1)
wait_trials() {
    local i n
    for ((i = 0; i < 3000; i++)); do
        n=$(q "$1" "SELECT count(*) FROM trial WHERE status IN ('complete', 'pruned');" 2>/dev/null)
        [[ $n =~ ^[0-9]+$ ]] && ((n >= $3)) && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

cd "$tmp"
for method in tpe bohb; do
    if [[ $method == tpe ]]; then
        opts=("max_trials: 10" "n_startup_trials: 4")
        kill_at=5
    else
        opts=("max_epochs: 9" "factor: 3")
        kill_at=10
    fi
    mkdir -p "ref_$method" "kill_$method"
    study "ref_$method/s.yaml" "study_$method" "$method" "${opts[@]}"
    cp "ref_$method/s.yaml" "kill_$method/s.yaml"
    (cd "ref_$method" && "$ks" s.yaml >out 2>err)
    check "$method: the study runs to the end (exit 0)" $? "$(cat "ref_$method/err")"
    ref_db=ref_$method/runs/study_$method/study.db

    db=kill_$method/runs/study_$method/study.db
    (cd "kill_$method" && exec "$ks" s.yaml >out 2>err) &
    pid=$!
    pids+=("$pid")
    wait_trials "$db" "$pid" "$kill_at"
    check "$method: $kill_at trials finished before the end" $?
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    n_left=$(q "$db" "SELECT count(*) FROM trial;")
    (cd "kill_$method" && "$ks" s.yaml >out2 2>err2)
    check "$method: killed after $n_left trials, the rerun exits 0" $? "$(cat "kill_$method/err2")"
    grep -q "(resuming)" "kill_$method/out2"
    check "$method: the rerun resumes" $?
    ref=$(trials_of "$ref_db") got=$(trials_of "$db")
    [[ -n $ref && $got == "$ref" ]]
    check "$method: the resumed study's trials equal the uninterrupted run's" $? \
        "$(diff <(echo "$ref") <(echo "$got") | head -10)"
    [[ $(metrics_of "$ref_db") == $(metrics_of "$db") ]]
    check "$method: every metric value equals the uninterrupted run's" $?
done

# TPE: max_trials complete, the first n_startup_trials being random search's draws
row=$(q ref_tpe/runs/study_tpe/study.db "SELECT count(*), sum(status = 'complete'), sum(epochs) FROM trial;")
[[ $row == "10|10|90" ]]
check "tpe: 10 trials of 9 epochs, complete" $? "($row)"
mkdir -p random
study random/s.yaml study_random random "max_trials: 10"
(cd random && "$ks" s.yaml >out 2>err)
check "random: the study runs (exit 0)" $? "$(cat random/err)"
first() { q "$1" "SELECT group_concat(params, ';') FROM (SELECT params FROM trial WHERE number < $2 ORDER BY number);"; }
all_of() { q "$1" "SELECT group_concat(params, ';') FROM (SELECT params FROM trial ORDER BY number);"; }
[[ $(first ref_tpe/runs/study_tpe/study.db 4) == $(first random/runs/study_random/study.db 4) ]]
check "tpe: its first 4 trials are random search's" $?
[[ $(all_of ref_tpe/runs/study_tpe/study.db) != $(all_of random/runs/study_random/study.db) ]]
check "tpe: then its own" $?

# BOHB: Hyperband's plan (R 9, η 3: 17 configurations, 69 epochs); its first 6
# configurations random as Hyperband's (with 2 parameters a model needs 3 good and 3 bad
# results), later ones from the models (two thirds of them)
row=$(q ref_bohb/runs/study_bohb/study.db "SELECT count(*), sum(epochs), sum(status = 'failed') FROM trial;")
[[ $row == "17|69|0" ]]
check "bohb: 17 configurations, 69 epochs, none failed" $? "($row)"
mkdir -p hyperband
study hyperband/s.yaml study_hyperband hyperband "max_epochs: 9" "factor: 3"
(cd hyperband && "$ks" s.yaml >out 2>err)
check "hyperband: the study runs (exit 0)" $? "$(cat hyperband/err)"
hb_db=hyperband/runs/study_hyperband/study.db
[[ $(first ref_bohb/runs/study_bohb/study.db 6) == $(first "$hb_db" 6) ]]
check "bohb: the first 6 configurations are Hyperband's" $?
differ=$(q ref_bohb/runs/study_bohb/study.db "ATTACH '$hb_db' AS h; SELECT count(*) FROM trial b
          JOIN h.trial x ON x.number = b.number WHERE b.number >= 6 AND b.params != x.params;")
[[ $differ -ge 1 ]]
check "bohb: later configurations come from its models ($differ of 11 differ from Hyperband's)" $?

# bad options: one message with the place, exit 2, nothing written
mkdir -p bad && cd bad
study a.yaml bad_tpe tpe "n_startup_trials: 4"
"$ks" a.yaml >out 2>err
rc=$?
[[ $rc -eq 2 && $(wc -l <err) -eq 1 && $(cat err) == "a.yaml:"*": tpe needs max_trials"* && ! -e runs ]]
check "tpe without max_trials: exit 2, one message with its place, nothing written" $? "(rc $rc) $(cat err)"
study b.yaml bad_bohb bohb "max_epochs: 9" "top_n_percent: 100"
"$ks" b.yaml >out 2>err
rc=$?
[[ $rc -eq 2 && $(cat err) == "b.yaml:20:18: search (method bohb): top_n_percent must be"* && ! -e runs ]]
check "bohb with top_n_percent 100: exit 2, the value's place, nothing written" $? "(rc $rc) $(cat err)"
study c.yaml bad_bohb bohb "max_epochs: 9" "bandwith_factor: 2"
"$ks" c.yaml >out 2>err
rc=$?
[[ $rc -eq 2 && $(cat err) == *'c.yaml:20:3: '*'"bandwith_factor" (did you mean "bandwidth_factor"?)' && ! -e runs ]]
check "bohb with a misspelt option: exit 2, did you mean" $? "(rc $rc) $(cat err)"
cd ..

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
