#!/usr/bin/env bash
# TPE and BOHB in real studies.  Each runs to the end (one worker, so that its trials are
# a function of the seed); killed with SIGKILL in the middle and run again, it finishes
# with the uninterrupted run's trials — numbers, parameters, seeds, statuses, budgets,
# epochs, objectives, best epochs, every metric value and the best checkpoints' bytes —
# because each method's next trial is a function of the history.  TPE starts with
# random search's draws; BOHB trains exactly Hyperband's plan of epochs, starts with
# Hyperband's random configurations and leaves them for its models', and its trials
# stopped below the full budget end pruned.  Bad options: one message FILE:LINE:COL,
# exit 2, nothing written.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup tpe fmnist

# study FILE NAME METHOD [OPTION...]: units and a log learning rate, 9 epochs of 3,000
# images, one worker, at most MAX_TRIALS (or $max_trials) trials; each OPTION a line of
# the search section
study() {
    local f=$1 name=$2 method=$3 o
    shift 3
    fmnist_study "$f" "$name" 5 "$method" 3000 9 "${max_trials:-10}" 1 '[16, 32, 64]' \
        '{float: [1.0e-3, 3.0e-1], log: true}'
    for o in "$@"; do sed -i "/^  parallel: /a\\  $o" "$f"; done
}

for method in tpe bohb; do
    if [[ $method == tpe ]]; then
        opts=("n_startup_trials: 4") kill_at=5 max_trials=10
    else
        opts=() kill_at=10 max_trials=17      # one pass of Hyperband's brackets (R 9, η 3)
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
    wait_db "$db" "$pid" "SELECT count(*) >= $kill_at FROM trial WHERE status IN ('complete', 'pruned');"
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
    [[ $(values_of "$ref_db") == $(values_of "$db") ]]
    check "$method: every metric value equals the uninterrupted run's" $?
    [[ $(best_bytes "$ref_db") == $(best_bytes "$db") ]]
    check "$method: the best checkpoints are the uninterrupted run's, byte for byte" $?
done

params_of() {
    q "$1" "SELECT group_concat(params, ';') FROM (SELECT params FROM trial WHERE number < $2 ORDER BY number);"
}
# peer METHOD MAX_TRIALS: the same study with METHOD, run to the end in ./METHOD
peer() {
    mkdir -p "$1"
    max_trials=$2 study "$1/s.yaml" "study_$1" "$1"
    (cd "$1" && "$ks" s.yaml >out 2>err)
    check "$1: the study runs (exit 0)" $? "$(cat "$1/err")"
}

# TPE: max_trials complete, its first n_startup_trials random search's draws, then its own
row=$(q ref_tpe/runs/study_tpe/study.db "SELECT count(*), sum(status = 'complete'), sum(epochs) FROM trial;")
[[ $row == "10|10|90" ]]
check "tpe: 10 trials of 9 epochs, complete" $? "($row)"
peer random 10
[[ $(params_of ref_tpe/runs/study_tpe/study.db 4) == $(params_of random/runs/study_random/study.db 4) ]]
check "tpe: its first 4 trials are random search's" $?
[[ $(params_of ref_tpe/runs/study_tpe/study.db 10) != $(params_of random/runs/study_random/study.db 10) ]]
check "tpe: then its own" $?

# BOHB: Hyperband's plan (R 9, η 3: 17 configurations, 69 epochs); with 2 parameters a
# model needs 3 good and 3 bad results at one budget, so the first 6 configurations are
# Hyperband's random ones, and two thirds of the later ones come from the models
bohb_db=ref_bohb/runs/study_bohb/study.db
row=$(q "$bohb_db" "SELECT count(*), sum(epochs), sum(status = 'failed'),
                           sum(status = 'pruned' AND budget < 9), sum(status = 'complete' AND budget = 9)
                      FROM trial;")
[[ $row == "17|69|0|12|5" ]]
check "bohb: 17 configurations, 69 epochs; the 12 below 9 epochs pruned, the 5 at 9 complete" $? "($row)"
peer hyperband 17
hb_db=hyperband/runs/study_hyperband/study.db
[[ $(params_of "$bohb_db" 6) == $(params_of "$hb_db" 6) ]]
check "bohb: the first 6 configurations are Hyperband's" $?
differ=$(q "$bohb_db" "ATTACH '$hb_db' AS h; SELECT count(*) FROM trial b
          JOIN h.trial x ON x.number = b.number WHERE b.number >= 6 AND b.params != x.params;")
[[ $differ -ge 1 ]]
check "bohb: later configurations come from its models ($differ of 11 differ from Hyperband's)" $?

# bad options: one message with the place, exit 2, nothing written
mkdir -p bad && cd bad
# bad_option FILE METHOD OPTION MESSAGE: one message, at the line of OPTION, ending in MESSAGE
# (a pattern: the column, then the text)
bad_option() {
    local f=$1 method=$2 opt=$3 want=$4 line rc
    max_trials=10 study "$f" "bad_$method" "$method" "$opt"
    line=$(grep -n "^  ${opt%%:*}:" "$f" | cut -d: -f1)
    "$ks" "$f" >out 2>err
    rc=$?
    [[ $rc -eq 2 && $(wc -l <err) -eq 1 && $(cat err) == $f:${line:-none}:$want && ! -e runs ]]
    check "$method, $opt: exit 2, one message at its place, nothing written" $? "(rc $rc) $(cat err)"
}
bad_option b.yaml bohb "top_n_percent: 100" '18: search (method bohb): top_n_percent must be *'
bad_option c.yaml bohb "bandwith_factor: 2" '3: *"bandwith_factor" (did you mean "bandwidth_factor"?)'
bad_option d.yaml tpe "gamma: 0" '10: search (method tpe): gamma must be a number in (0, 1], got 0'
# TPE without max_trials: the search section's place
study a.yaml bad_tpe tpe
sed -i '/^  max_trials: /d' a.yaml
"$ks" a.yaml >out 2>err
rc=$?
[[ $rc -eq 2 && $(wc -l <err) -eq 1 && $(cat err) == "a.yaml:"*": tpe needs max_trials"* && ! -e runs ]]
check "tpe without max_trials: exit 2, one message with its place, nothing written" $? "(rc $rc) $(cat err)"
cd ..

finish
[[ $failed -eq 0 ]]
