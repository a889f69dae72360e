#!/usr/bin/env bash
# The checkpoint policy (search.checkpoints: {every: K, keep: [best, last]}): how many of
# each trial's models travel to the writer and stay in study.db.  A policy changes what
# is stored, never what is trained: the trials and every metric value equal the default
# policy's (every epoch, best and last) — for random search, for Hyperband whose
# promotions continue from the checkpoint at the end of a rung (every: 0), and for a
# study killed with SIGKILL mid-trial and run again (a trial stopped before its first
# checkpoint trains again from the start, the same values).  keep: [last] stores no best
# checkpoint; bad policies are refused with one message, exit 2.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup checkpoints fmnist

# study FILE NAME METHOD POLICY [ROWS]: 4 random trials of 6 epochs on ROWS (2000) rows, 2
# workers; POLICY is the search.checkpoints line (empty: the default)
study() {
    fmnist_study "$1" "$2" 7 "$3" "${5:-2000}" 6 4 2 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
    [[ -z $4 ]] || sed -i "s/^search:\$/search:\n  checkpoints: $4/" "$1"
}
# checkpoint rows: number, kind, epoch
ckpts_of() { q "$1" "SELECT t.number, c.kind, c.epoch FROM checkpoint c JOIN trial t ON t.id = c.trial_id ORDER BY 1, 2;"; }

# --- the default and two policies: the same trials and values
mkdir ref every2 every0
study ref/s.yaml ck random ''
study every2/s.yaml ck random '{every: 2, keep: [last]}'
study every0/s.yaml ck random '{every: 0}'
grep -q 'checkpoints: {every: 2, keep: \[last\]}' every2/s.yaml
check "the policy is in the study file" $?
for d in ref every2 every0; do
    (cd $d && "$ks" s.yaml >out 2>err)
    check "$d: exit 0" $? "$(cat $d/err)"
done
ref_db=ref/runs/ck/study.db
for d in every2 every0; do
    db=$d/runs/ck/study.db
    [[ "$(trials_of $db)" == "$(trials_of $ref_db)" && -n "$(trials_of $db)" ]]
    check "$d: the trials equal the default policy's" $?
    [[ "$(values_of $db)" == "$(values_of $ref_db)" ]]
    check "$d: every metric value equals the default policy's" $?
done
# the default: a best and a last checkpoint per trial, the last at epoch 5
row=$(q $ref_db "SELECT count(*), sum(kind = 'best'), sum(kind = 'last' AND epoch = 5) FROM checkpoint;")
[[ $row == "8|4|4" ]]
check "default: best and last per trial, the last at the last epoch ($row)" $?
# keep [last]: no best; the last at the trial's last epoch
row=$(q every2/runs/ck/study.db "SELECT count(*), sum(kind = 'best'), sum(kind = 'last' AND epoch = 5) FROM checkpoint;")
[[ $row == "4|0|4" ]]
check "keep [last]: no best checkpoint, the last at the last epoch ($row)" $?
# every 0 keeps the best: the best checkpoints equal the default's, byte for byte
[[ "$(best_bytes every0/runs/ck/study.db)" == "$(best_bytes $ref_db)" ]]
check "every 0: the best checkpoints equal the default's" $?

# --- Hyperband with checkpoints only at the end of each rung: the plan trains the same
mkdir hb_ref hb_rung
for d in hb_ref hb_rung; do
    hyperband_study $d/s.yaml hb 5 1000 9 2
done
sed -i 's/^search:$/search:\n  checkpoints: {every: 0, keep: [best, last]}/' hb_rung/s.yaml
for d in hb_ref hb_rung; do
    (cd $d && "$ks" s.yaml >out 2>err)
    check "$d: exit 0" $? "$(cat $d/err)"
done
row=$(q hb_rung/runs/hb/study.db "SELECT sum(epochs), count(*), sum(epochs = 9) FROM trial;")
[[ $row == "69|17|5" ]]
check "hyperband, checkpoints at rung ends: its plan, 69 epochs, 17 trials, 5 at 9 ($row)" $?
[[ "$(values_of hb_rung/runs/hb/study.db)" == "$(values_of hb_ref/runs/hb/study.db)" &&
   "$(trials_of hb_rung/runs/hb/study.db)" == "$(trials_of hb_ref/runs/hb/study.db)" ]]
check "hyperband, checkpoints at rung ends: trials and values equal the default's" $?
n=$(q hb_rung/runs/hb/study.db "SELECT count(*) FROM checkpoint c JOIN trial t ON t.id = c.trial_id
                               WHERE c.kind = 'last' AND c.epoch != t.epochs - 1;")
[[ $n == 0 ]]
check "hyperband: every last checkpoint is of its trial's last epoch ($n are not)" $?

# --- killed mid-trial under every: 4, keep: [last] (no checkpoint before epoch 3), run
# again: the uninterrupted run's trials and values (9000 rows: epochs of ~50 ms to catch)
mkdir kill_ref kill
study kill_ref/s.yaml ck random '' 9000
study kill/s.yaml ck random '{every: 4, keep: [last]}' 9000
(cd kill_ref && "$ks" s.yaml >out 2>err)
check "kill_ref: exit 0" $? "$(cat kill_ref/err)"
(cd kill && exec "$ks" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_db kill/runs/ck/study.db "$pid" \
    "SELECT count(*) FROM trial WHERE status = 'running' AND epochs BETWEEN 1 AND 3;"
check "a trial ran 1 to 3 epochs (before its first checkpoint)" $?
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
(cd kill && "$ks" s.yaml >out2 2>err2)
check "the rerun: exit 0" $? "$(cat kill/err2)"
db=kill/runs/ck/study.db
ref_db=kill_ref/runs/ck/study.db
[[ "$(trials_of $db)" == "$(trials_of $ref_db)" ]]
check "killed and rerun: the trials equal an uninterrupted run's" $? "$(trials_of $db)"
[[ "$(values_of $db)" == "$(values_of $ref_db)" ]]
check "killed and rerun: every metric value equals an uninterrupted run's" $?
[[ "$(q $db 'PRAGMA integrity_check;')" == ok ]]
check "killed and rerun: integrity ok" $?

# --- bad policies: one message, exit 2, nothing written
bad() {
    local name=$1 policy=$2 want=$3 extra=${4:-}
    mkdir "bad_$name"
    study "bad_$name/s.yaml" bad random "$policy"
    [[ -z $extra ]] || printf '%s\n' "$extra" >>"bad_$name/s.yaml"
    (cd "bad_$name" && "$ks" s.yaml >out 2>err)
    local rc=$?
    [[ $rc == 2 && $(wc -l <"bad_$name/err") == 1 ]] && grep -q -- "$want" "bad_$name/err" &&
        [[ ! -e bad_$name/runs ]]
    check "bad policy $name: exit 2, one line with \"$want\", nothing written" $? "rc $rc: $(cat bad_$name/err)"
}
bad typo '{keep: [bets, last]}' 'did you mean "best"'
bad nolast '{keep: [best]}' 'keep must include last'
bad notlist '{keep: best}' 'keep must be a list'
bad every '{every: -1}' 's.yaml:[0-9]*:[0-9]*: .*every'
bad key '{evry: 2}' 'did you mean'
bad ensemble '{keep: [last]}' 'keep must include best when the study builds an ensemble' \
    'ensemble: {top: 2}'

finish
