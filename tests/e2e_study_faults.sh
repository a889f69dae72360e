#!/usr/bin/env bash
# Faults around a study, and what it records.  A trial whose last checkpoint no longer
# loads is recorded failed with the reason, not trained again from the start.  SIGTERM
# (Slurm, MPI launchers, containers) stops a study as Ctrl-C does: exit 1, its running
# trials interrupted, and a rerun finishes it as an uninterrupted run.  A failure of
# ksearch's own writing (a file size limit standing in for a full disk) stops the study
# with exit 1 and leaves its trials interrupted, never failed: the rerun retries them.
# --fresh that cannot remove the old TensorBoard logs says so and removes nothing of the
# study (an immutable file stands in for what cannot be removed; skipped where chattr
# +i is not allowed).  A study or run file is read once: one given as a FIFO works.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup faults fmnist

# study FILE NAME: 4 trials of 15 epochs, 2 workers, a few seconds
study() {
    fmnist_study "$1" "$2" 9 random 3000 15 4 2 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
}
# start_until DIR DB CONDITION: run the study in DIR in the background until the SQL
# CONDITION (a count) is >= 1; its pid in $pid (0 when the condition was met in time)
start_until() {
    (cd "$1" && exec "$ks" s.yaml >out 2>err) &
    pid=$!
    pids+=("$pid")
    wait_db "$2" "$pid" "$3"
}
metrics_of() { q "$1" "SELECT m.name, m.epoch, quote(m.value) FROM metric m JOIN trial t ON t.id = m.trial_id WHERE t.number = $2 AND m.step = -1 ORDER BY 1, 2;"; }

mkdir ref && study ref/s.yaml faults
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run exits 0" $? "$(cat ref/err)"
ref_db=ref/runs/faults/study.db
ref_trials=$(trials_of "$ref_db")
ref_metrics=$(values_of "$ref_db")

# --- a checkpoint that does not load: the trial is failed with the reason
mkdir ckpt && study ckpt/s.yaml faults
db=ckpt/runs/faults/study.db
start_until ckpt "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs BETWEEN 2 AND 10;"
check "checkpoint: a trial runs with 2 to 10 epochs recorded" $?
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
row=$(q "$db" "SELECT number || ' ' || epochs FROM trial WHERE status = 'running' AND epochs BETWEEN 2 AND 10 LIMIT 1;")
num=${row% *} k=${row#* }
before=$(metrics_of "$db" "$num")
q "$db" "UPDATE checkpoint SET data = substr(data, 1, 200) WHERE kind = 'last'
           AND trial_id = (SELECT id FROM trial WHERE number = $num);"
(cd ckpt && "$ks" s.yaml >out2 2>err2)
check "checkpoint: the rerun exits 0 (a failed trial does not fail the study)" $? "$(cat ckpt/err2)"
row=$(q "$db" "SELECT status || '|' || epochs || '|' || coalesce(error, '') FROM trial WHERE number = $num;")
[[ $row == "failed|$k|"*"cannot continue"*"checkpoint"* ]]
check "checkpoint: trial $num failed, its $k epochs kept, the reason recorded" $? "($row)"
[[ $(metrics_of "$db" "$num") == "$before" ]]
check "checkpoint: trial $num's recorded epochs untouched (not trained again from 0)" $?
grep -q "trial $num failed" ckpt/out2 && grep -q "cannot continue" ckpt/out2
check "checkpoint: the console says trial $num failed, and why" $? "$(grep "trial $num" ckpt/out2)"
[[ $(q "$db" "SELECT count(*) FROM trial WHERE status = 'complete' AND epochs = 15;") == 3 ]]
check "checkpoint: the other 3 trials complete" $?

# --- SIGTERM: stopped as Ctrl-C stops it
mkdir term && study term/s.yaml faults
db=term/runs/faults/study.db
start_until term "$db" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs BETWEEN 1 AND 10;"
check "SIGTERM: a trial runs" $?
kill -TERM "$pid"
wait_exit "$pid" 20
rc=$?
[[ $rc -eq 1 ]]
check "SIGTERM: exit status 1, as after Ctrl-C" $? "(rc $rc)"
grep -q "interrupted" term/err && [[ $(grep -c . term/err) -eq 1 ]]
check "SIGTERM: one message saying it was interrupted" $? "$(cat term/err)"
row=$(q "$db" "SELECT (SELECT count(*) FROM trial WHERE status IN ('running', 'queued')) || ' ' ||
                      (SELECT count(*) FROM trial WHERE status = 'interrupted');")
[[ $row =~ ^0\ [1-9]$ ]]
check "SIGTERM: no trial left running, the running ones interrupted" $? "($row)"
(cd term && "$ks" s.yaml >out2 2>err2)
check "SIGTERM: the rerun exits 0" $? "$(cat term/err2)"
[[ $(trials_of "$db") == "$ref_trials" && $(values_of "$db") == "$ref_metrics" ]]
check "SIGTERM: the study then equals an uninterrupted run (trials, objectives, every value)" $? \
    "$(diff <(echo "$ref_trials") <(trials_of "$db"))"

# --- ksearch's own writes fail (RLIMIT_FSIZE: a write past 4 MB fails, as on a full disk)
mkdir full && study full/s.yaml faults
db=full/runs/faults/study.db
(cd full && ulimit -f 4000 && exec "$ks" s.yaml >out 2>err)
rc=$?
msg=$(cat full/err)
[[ $rc -eq 1 ]]
check "write failure: exit 1 (failed while running)" $? "(rc $rc: $msg)"
[[ $(grep -c . full/err) -eq 1 && $msg == *"study.db"*"trial "*"run the same command again"* ]]
check "write failure: one message naming the database, the trial and how to resume" $? "($msg)"
echo "write failure: $msg"
row=$(q "$db" "SELECT (SELECT count(*) FROM trial WHERE status = 'failed') || ' ' ||
                      (SELECT count(*) FROM trial WHERE status IN ('interrupted', 'running'));")
[[ $row =~ ^0\ [1-9]$ ]]
check "write failure: no trial failed, the ones it stopped interrupted (failed, interrupted: $row)" $?
(cd full && "$ks" s.yaml >out2 2>err2)
check "write failure: the rerun, with room, exits 0" $? "$(cat full/err2)"
[[ $(trials_of "$db") == "$ref_trials" && $(values_of "$db") == "$ref_metrics" ]]
check "write failure: the study then equals an uninterrupted run (trials, objectives, every value)" $? \
    "$(diff <(echo "$ref_trials") <(trials_of "$db"))"

# --- --fresh when the old TensorBoard logs cannot be removed
tb=ref/runs/faults/tensorboard
victim=$(find "$tb" -type f -name '*tfevents*' | sort | tail -1)
if chattr +i "$victim" 2>/dev/null; then
    immutable+=("$victim")
    sum=$(q "$ref_db" "SELECT count(*), sum(epochs) FROM study JOIN trial ON trial.study_id = study.id;")
    (cd ref && "$ks" s.yaml --fresh >out3 2>err3)
    rc=$?
    msg=$(cat ref/err3)
    [[ $rc -eq 2 ]]
    check "--fresh, logs that cannot be removed: exit 2" $? "(rc $rc: $msg)"
    [[ $(grep -c . ref/err3) -eq 1 && $msg == *"${victim#ref/}"*"cannot remove"*"nothing was removed from"*"study.db"* ]]
    check "--fresh: one message naming the file that cannot be removed" $? "($msg)"
    [[ $(q "$ref_db" "SELECT count(*), sum(epochs) FROM study JOIN trial ON trial.study_id = study.id;") == "$sum" ]]
    check "--fresh: the study's trials are all still there ($sum)" $?
    chattr -i "$victim"
    (cd ref && "$ks" s.yaml --fresh >out4 2>err4)
    check "--fresh, once the logs can be removed: exit 0" $? "$(cat ref/err4)"
    [[ ! -e $victim ]]
    check "--fresh: the old event file is gone" $?
else
    skip "--fresh with logs that cannot be removed (chattr +i is not allowed here)"
fi

# --- a study file and a run file read once (a FIFO can be read only once)
mkdir fifo && study fifo/plain.yaml fifo && mkfifo fifo/s.yaml
(cat fifo/plain.yaml > fifo/s.yaml &)
(cd fifo && timeout 60 "$ks" s.yaml >out 2>err)
rc=$?
[[ $rc -eq 0 ]]
check "a study file given as a FIFO: read once, the study runs (exit 0)" $? "(rc $rc: $(cat fifo/err))"
[[ $(q fifo/runs/fifo/study.db "SELECT config FROM study;") == "$(cat fifo/plain.yaml)" ]]
check "the FIFO: the text stored in study.db is the text parsed" $?
sed -e '/^search:/,$d' -e 's/name: fifo/name: fifofit/' -e 's/\$units/16/' -e 's/\$learning_rate/0.001/' \
    -e 's/epochs: 15/epochs: 1/' fifo/plain.yaml > fifo/fit_plain.yaml
mkfifo fifo/fit.yaml
(cat fifo/fit_plain.yaml > fifo/fit.yaml &)
(cd fifo && timeout 60 "$ks" fit fit.yaml >out 2>err)
rc=$?
[[ $rc -eq 0 && $(q fifo/runs/fifofit/study.db "SELECT config FROM study;") == "$(cat fifo/fit_plain.yaml)" ]]
check "a run file given as a FIFO to ksearch fit: read once, its text stored" $? "(rc $rc: $(cat fifo/err))"

finish
