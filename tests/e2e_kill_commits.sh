#!/usr/bin/env bash
# A study killed after each of its database commits in turn (KS_FAULT_KILL_AFTER_COMMIT=N:
# SIGKILL right after the Nth, tracker/db.c), then run again, ends as the uninterrupted
# run: the same trials, every metric row, the same ensembles and checkpoints (byte for
# byte); the file's integrity holds and every trial has its job's segment ending at its
# recorded epochs.  Two studies, each with an ensemble of its best 2: Hyperband with
# R = 3, η = 3 (5 configurations, one promoted from 1 epoch to 3; the default retention
# drops the pruned ones' checkpoints), and random search on 2 workers with the median
# pruner (8 trials, some pruned; the commits of the two workers interleave differently
# from run to run) — their every kind of write, each a place a study can die.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup kill_commits fmnist

# study FILE KIND: hyperband or random (see above)
study() {
    if [[ $2 == hyperband ]]; then
        hyperband_study "$1" kc 4 600 3 1
    else
        fmnist_study "$1" kc 11 random 600 6 8 2 '[8, 16]' '{float: [1.0e-4, 0.5], log: true}'
        sed -i "/^  parallel: /a\\  pruner: {median: {n_startup_trials: 2, n_warmup_epochs: 1}}" "$1"
    fi
    printf 'ensemble: {top: 2, weights: [uniform, greedy]}\n' >>"$1"
}
checkpoints_of() {
    q "$1" "SELECT t.number, c.kind, c.epoch, hex(c.data) FROM checkpoint c
             JOIN trial t ON t.id = c.trial_id ORDER BY 1, 2;" | md5sum
}
unsegmented() {
    q "$1" "SELECT count(*) FROM trial t WHERE NOT EXISTS
             (SELECT 1 FROM segment s WHERE s.trial_id = t.id AND s.epochs = t.epochs);"
}

# kill_each_commit KIND PLAN CKPTS: the uninterrupted run (its trials, epochs and pruned
# ones as PLAN says; its pruned trials' checkpoints: CKPTS — retention drops Hyperband's,
# a pruner's keep theirs), then a run killed after commit 1, 2, … until one is not killed (it made
# fewer commits), each run again; bad[P]: the commits after which property P did not hold
kill_each_commit() {
    local kind=$1 p n d rc db rdb row kills=0 last=0
    local -A bad=()
    mkdir $kind $kind/ref
    study $kind/ref/s.yaml $kind
    (cd $kind/ref && "$ks" s.yaml >out 2>err)
    check "$kind: the uninterrupted run: exit 0" $? "$(cat $kind/ref/err)"
    rdb=$kind/ref/runs/kc/study.db
    row=$(q $rdb "SELECT count(*), sum(epochs), sum(status = 'pruned') FROM trial;")
    [[ $row == "$2" && -n "$(ensembles_of $rdb)" && "$(pruned_ckpts $rdb)" == "$3" &&
       "$(unsegmented $rdb)" == 0 ]]
    check "$kind: trials, epochs, pruned ($row), its ensembles, pruned trials' checkpoints $3, a segment per trial" $?
    for ((n = 1; n <= 400; n++)); do
        d=$kind/k$n
        mkdir $d
        study $d/s.yaml $kind
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
        [[ "$(checkpoints_of $db)" == "$(checkpoints_of $rdb)" ]] || bad[checkpoints]+=" $n"
        [[ "$(q $db 'PRAGMA integrity_check;')" == ok ]] || bad[integrity]+=" $n"
        [[ "$(unsegmented $db)" == 0 ]] || bad[segments]+=" $n"
        rm -rf $d
    done
    echo "$kind: killed after each of the study's $kills commits in turn"
    [[ $last -gt 30 && $kills == $((last - 1)) ]]
    check "$kind: killed after each of the study's $kills commits; with $last it was not killed" $?
    for p in "${props[@]}"; do
        [[ -z ${bad[$p]:-} ]]
        check "$kind: ${says[$p]}" $? "(after commit${bad[$p]:-})"
    done
}
props=(exit rerun trials values ensembles checkpoints integrity segments)
declare -A says=(
    [exit]="each killed run died by its SIGKILL (137)"
    [rerun]="each rerun: exit 0"
    [trials]="each rerun: the trials of the uninterrupted run"
    [values]="each rerun: every metric row of the uninterrupted run"
    [ensembles]="each rerun: the same ensembles"
    [checkpoints]="each rerun: the checkpoints of the uninterrupted run, byte for byte"
    [integrity]="each rerun: integrity ok"
    [segments]="each rerun: every trial has its job's segment ending at its epochs")

kill_each_commit hyperband "5|11|2" 0
kill_each_commit random "8|31|5" 10
finish
