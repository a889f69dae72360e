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
    hyperband_study "$1" kc 4 600 3 1
    printf 'ensemble: {top: 2, weights: [uniform, greedy]}\n' >>"$1"
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

# kill after commit 1, 2, …: until a run is not killed (it made fewer commits); bad[P]:
# the commits after which property P did not hold
props=(exit rerun trials values ensembles checkpoints integrity segments)
declare -A bad=() says=(
    [exit]="each killed run died by its SIGKILL (137)"
    [rerun]="each rerun: exit 0"
    [trials]="each rerun: the trials of the uninterrupted run"
    [values]="each rerun: every metric row of the uninterrupted run"
    [ensembles]="each rerun: the same ensembles"
    [checkpoints]="each rerun: no pruned trial keeps a checkpoint"
    [integrity]="each rerun: integrity ok"
    [segments]="each rerun: every trial has its job's segment ending at its epochs")
kills=0 last=0
for ((n = 1; n <= 400; n++)); do
    d=k$n
    mkdir $d
    study $d/s.yaml
    # (the shell's own "Killed" notice to /dev/null)
    { (cd $d && KS_FAULT_KILL_AFTER_COMMIT=$n exec "$ks" s.yaml >out 2>err); } 2>/dev/null
    rc=$?
    if [[ $rc == 0 ]]; then last=$n; break; fi
    kills=$((kills + 1))
    [[ $rc == 137 ]] || bad[exit]+=" $n (exit $rc)"
    if ! (cd $d && "$ks" s.yaml >out2 2>err2); then
        bad[rerun]+=" $n ($(tail -1 $d/err2))"
        continue
    fi
    db=$d/runs/kc/study.db
    [[ "$(trials_of $db)" == "$(trials_of $rdb)" ]] || bad[trials]+=" $n"
    [[ "$(values_of $db)" == "$(values_of $rdb)" ]] || bad[values]+=" $n"
    [[ "$(ensembles_of $db)" == "$(ensembles_of $rdb)" ]] || bad[ensembles]+=" $n"
    [[ "$(pruned_ckpts $db)" == 0 ]] || bad[checkpoints]+=" $n"
    [[ "$(q $db 'PRAGMA integrity_check;')" == ok ]] || bad[integrity]+=" $n"
    [[ "$(unsegmented $db)" == 0 ]] || bad[segments]+=" $n"
    rm -rf $d
done
echo "killed after each of the study's $kills commits in turn"
[[ $last -gt 30 && $kills == $((last - 1)) ]]
check "killed after each of the study's $kills commits; with $last it was not killed" $?
for p in "${props[@]}"; do
    [[ -z ${bad[$p]:-} ]]
    check "${says[$p]}" $? "(after commit${bad[$p]:-})"
done
finish
