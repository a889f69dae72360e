#!/usr/bin/env bash
# A study killed after each of its database commits in turn (KS_FAULT_KILL_AFTER_COMMIT=N:
# SIGKILL right after the Nth, tracker/db.c), then run again, ends as the uninterrupted
# run: the same trials, every metric row, the same ensembles; no pruned trial keeps a
# checkpoint, the file's integrity holds and every trial has its job's segment ending at
# its recorded epochs.  The study: Hyperband with R = 3, η = 3 (5 configurations, one
# promoted from 1 epoch to 3), the default retention (the pruned ones' checkpoints go),
# an ensemble of the best 2: its every kind of write, each a place a study can die.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup kill_commits fmnist

study() {
    fmnist_study "$1" kc 4 hyperband 600 3 0 1 '[8, 16]' '{float: [1.0e-3, 1.0e-1], log: true}'
    sed -i -e '/max_trials: 0/d' -e 's/^  parallel: 1$/  parallel: 1\n  max_epochs: 3\n  factor: 3/' "$1"
    printf 'ensemble: {top: 2, weights: [uniform, greedy]}\n' >>"$1"
}
ensembles_of() { q "$1" "SELECT name, json FROM ensemble ORDER BY name;"; }
pruned_ckpts() {
    q "$1" "SELECT count(*) FROM checkpoint c JOIN trial t ON t.id = c.trial_id WHERE t.status = 'pruned';"
}
unsegmented() {
    q "$1" "SELECT count(*) FROM trial t WHERE NOT EXISTS
             (SELECT 1 FROM segment s WHERE s.trial_id = t.id AND s.epochs = t.epochs);"
}

mkdir ref
study ref/s.yaml
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run: exit 0" $? "$(cat ref/err)"
rdb=ref/runs/kc/study.db
row=$(q $rdb "SELECT count(*), sum(epochs), sum(status = 'pruned'), sum(budget = 3) FROM trial;")
[[ $row == "5|11|2|3" ]]
check "its plan: 5 trials, 11 epochs, 2 pruned, 3 at 3 epochs ($row)" $?
[[ -n "$(ensembles_of $rdb)" && "$(pruned_ckpts $rdb)" == 0 && "$(unsegmented $rdb)" == 0 ]]
check "its ensembles, no pruned trial's checkpoint, a segment per trial" $?

# kill after commit 1, 2, …: until a run is not killed (it made fewer commits)
kills=0 last=0 bad_exit=() bad_rerun=() bad_trials=() bad_values=() bad_ens=() bad_ckpt=()
bad_integrity=() bad_segment=()
for ((n = 1; n <= 400; n++)); do
    d=k$n
    mkdir $d
    study $d/s.yaml
    # (the shell's own "Killed" notice to /dev/null)
    { (cd $d && KS_FAULT_KILL_AFTER_COMMIT=$n exec "$ks" s.yaml >out 2>err); } 2>/dev/null
    rc=$?
    if [[ $rc == 0 ]]; then last=$n; break; fi
    kills=$((kills + 1))
    [[ $rc == 137 ]] || bad_exit+=("$n:$rc")
    (cd $d && "$ks" s.yaml >out2 2>err2) || { bad_rerun+=("$n"); continue; }
    db=$d/runs/kc/study.db
    [[ "$(trials_of $db)" == "$(trials_of $rdb)" ]] || bad_trials+=("$n")
    [[ "$(values_of $db)" == "$(values_of $rdb)" ]] || bad_values+=("$n")
    [[ "$(ensembles_of $db)" == "$(ensembles_of $rdb)" ]] || bad_ens+=("$n")
    [[ "$(pruned_ckpts $db)" == 0 ]] || bad_ckpt+=("$n")
    [[ "$(q $db 'PRAGMA integrity_check;')" == ok ]] || bad_integrity+=("$n")
    [[ "$(unsegmented $db)" == 0 ]] || bad_segment+=("$n")
    rm -rf $d
done
echo "killed after each of the study's $kills commits in turn"
[[ $last -gt 30 && $kills == $((last - 1)) ]]
check "killed after each of the study's $kills commits; with $last it was not killed" $?
[[ ${#bad_exit[@]} == 0 ]]
check "each killed run died by its SIGKILL (137)" $? "(${bad_exit[*]})"
[[ ${#bad_rerun[@]} == 0 ]]
check "each rerun: exit 0" $? "(after commit ${bad_rerun[*]}: $(cat k${bad_rerun[0]:-0}/err2 2>/dev/null))"
[[ ${#bad_trials[@]} == 0 ]]
check "each rerun: the trials of the uninterrupted run" $? "(after commit ${bad_trials[*]})"
[[ ${#bad_values[@]} == 0 ]]
check "each rerun: every metric row of the uninterrupted run" $? "(after commit ${bad_values[*]})"
[[ ${#bad_ens[@]} == 0 ]]
check "each rerun: the same ensembles" $? "(after commit ${bad_ens[*]})"
[[ ${#bad_ckpt[@]} == 0 ]]
check "each rerun: no pruned trial keeps a checkpoint" $? "(after commit ${bad_ckpt[*]})"
[[ ${#bad_integrity[@]} == 0 ]]
check "each rerun: integrity ok" $? "(after commit ${bad_integrity[*]})"
[[ ${#bad_segment[@]} == 0 ]]
check "each rerun: every trial has its job's segment ending at its epochs" $? "(after commit ${bad_segment[*]})"
finish
