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
source tests/study_lib.sh
study_setup lock fmnist

# 6 trials of 30 epochs on 2 workers: several seconds
fmnist_study s.yaml locked 5 random 4000 30 6 2 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
# a model file of the same name: ksearch fit writes into runs/locked too
sed -e '/^search:/,$d' -e 's/\$units/16/' -e 's/\$learning_rate/0.001/' s.yaml > fit.yaml
mkdir ref && cp s.yaml ref/
(cd ref && "$ks" s.yaml >out 2>err)
check "the uninterrupted run exits 0" $? "$(cat ref/err)"

db=runs/locked/study.db
"$ks" s.yaml >out 2>err &
pid=$!
pids+=("$pid")
wait_db "$db" "$pid" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1;"
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
[[ $(values_of ref/runs/locked/study.db) == $(values_of "$db") ]]
check "every metric value equals the uninterrupted run's" $?
[[ -e runs/locked/ksearch.lock && ! -s runs/locked/ksearch.lock ]]
check "the lock file is left empty at the end" $?

# a process killed while holding the lock: its lock file blocks nobody
"$ks" s.yaml --fresh >out2 2>err2 &
pid=$!
pids+=("$pid")
wait_db "$db" "$pid" "SELECT count(*) FROM trial WHERE status = 'running' AND epochs >= 1;"
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
finish
