#!/usr/bin/env bash
# Resuming a study.  For grid and random search: `ksearch STUDY.yaml` killed with
# SIGKILL after some trials completed while others run, then run again.  No completed
# trial is trained again (its metric rows, wall times, started/ended are unchanged);
# the trials that were running continue from their last checkpoint (their recorded
# epochs stay as they were and the new ones follow); no epoch is stored twice; and the
# final trials (number, params, seed, status, epochs) are those of an uninterrupted run.
# Ctrl-C (SIGINT) stops cleanly: exit 1 ("failed while running"), running trials
# recorded as interrupted, the database intact, and a rerun finishes.  A study file
# changed since is refused (exit 2, one message naming the change, study.db unchanged
# byte for byte); --fresh starts over with the new file.  Every trial's objective, best
# epoch and best checkpoint (byte for byte) are the uninterrupted run's, and span all its
# epochs however its training was split: by a kill, or by a Hyperband promotion (a
# promoted trial whose best epoch came before the promotion).
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup resume fmnist

# study FILE NAME METHOD LR_SPEC: ~25 epochs of ~30 ms, 6 trials, 2 workers
study() {
    fmnist_study "$1" "$2" 11 "$3" 6000 25 6 2 '[32, 48]' "$4"
}

# wait_for DB PID: until >= 2 trials are complete and one runs with 2 .. budget-6 epochs
# recorded (0 when that happened, 1 if the process ended or 30 s passed first)
wait_for() {
    wait_db "$1" "$2" "SELECT (SELECT count(*) FROM trial WHERE status = 'complete') >= 2 AND
                              (SELECT count(*) FROM trial WHERE status = 'running'
                                  AND epochs BETWEEN 2 AND budget - 6) >= 1;"
}

# the trials as a whole: number, params, seed, status, epochs
trial_keys() { q "$1" "SELECT number, params, seed, status, epochs FROM trial ORDER BY number;"; }
# every metric row of the trials matching WHERE (on trial t, metric m)
metrics_of() {
    q "$1" "SELECT t.number, m.name, m.step, m.epoch, quote(m.value), quote(m.wall_time)
              FROM metric m JOIN trial t ON t.id = m.trial_id WHERE $2
             ORDER BY t.number, m.name, m.step, m.epoch;"
}
# no epoch recorded twice or missing: per trial, 'loss' epochs 0..epochs-1 exactly once
bad_epochs() {
    q "$1" "SELECT t.number FROM trial t LEFT JOIN
              (SELECT trial_id, count(*) AS n, count(DISTINCT epoch) AS d, max(epoch) AS mx
                 FROM metric WHERE name = 'loss' AND step = -1 GROUP BY trial_id) m
              ON m.trial_id = t.id
             WHERE coalesce(m.n, 0) != t.epochs OR coalesce(m.d, 0) != t.epochs
                OR coalesce(m.mx, -1) != t.epochs - 1;"
}

# per trial: objective, best epoch, the best checkpoint's epoch and size; and the bytes
best_rows() {
    q "$1" "SELECT t.number, quote(t.objective), t.best_epoch, c.epoch, length(c.data)
              FROM trial t LEFT JOIN checkpoint c ON c.trial_id = t.id AND c.kind = 'best'
             ORDER BY t.number;"
}
# trials whose objective is not the best val_accuracy of all their epochs (the first epoch
# with it as best_epoch), or whose best checkpoint is not that epoch's
bad_objectives() {
    q "$1" "SELECT t.number FROM trial t WHERE t.epochs > 0 AND (
              t.objective IS NOT (SELECT max(value) FROM metric m WHERE m.trial_id = t.id
                                     AND m.name = 'val_accuracy' AND m.step = -1)
              OR t.best_epoch IS NOT (SELECT min(epoch) FROM metric m WHERE m.trial_id = t.id
                                     AND m.name = 'val_accuracy' AND m.step = -1
                                     AND m.value = t.objective)
              OR t.best_epoch IS NOT (SELECT epoch FROM checkpoint c WHERE c.trial_id = t.id
                                     AND c.kind = 'best'));"
}

lr_values='{values: [0.001, 0.003, 0.01]}'
lr_range='{float: [1.0e-3, 1.0e-2], log: true}'

for method in grid random; do
    if [[ $method == grid ]]; then lr=$lr_values; else lr=$lr_range; fi
    mkdir -p "ref_$method" "kill_$method"
    study "ref_$method/s.yaml" "resume_$method" "$method" "$lr"
    cp "ref_$method/s.yaml" "kill_$method/s.yaml"

    # the uninterrupted run
    (cd "ref_$method" && "$ks" s.yaml >out 2>err)
    check "$method: uninterrupted run exits 0" $? "$(cat "ref_$method/err")"
    ref_db=ref_$method/runs/resume_$method/study.db

    # the run killed in the middle
    db=kill_$method/runs/resume_$method/study.db
    (cd "kill_$method" && exec "$ks" s.yaml >out 2>err) &
    pid=$!
    pids+=("$pid")
    wait_for "$db" "$pid"
    check "$method: reached 2 complete trials and one running mid-way before the end" $?
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    kill_time=$(date +%s.%N)
    ok=$(q "$db" 'PRAGMA integrity_check;' 2>&1)
    check "$method: integrity_check after SIGKILL" "$([[ $ok == ok ]]; echo $?)" "$ok"
    # what the kill left: completed trials and their rows; running ones and their epochs
    done_rows=$(q "$db" "SELECT number, quote(started), quote(ended), epochs, quote(objective)
                           FROM trial WHERE status = 'complete' ORDER BY number;")
    done_metrics=$(metrics_of "$db" "t.status = 'complete'")
    running=$(q "$db" "SELECT number || ':' || epochs || ':' || quote(started) FROM trial
                        WHERE status = 'running' AND epochs > 0 ORDER BY number;")
    n_unfinished=$(q "$db" "SELECT count(*) FROM trial WHERE status IN ('queued', 'running');")
    n_done=$(printf '%s\n' "$done_rows" | grep -c .)
    n_run=$(printf '%s\n' "$running" | grep -c .)
    [[ $n_done -ge 2 && $n_run -ge 1 ]]
    check "$method: the kill left >= 2 complete and >= 1 running trial with epochs (got $n_done, $n_run)" $?
    run_metrics=()
    for r in $running; do
        run_metrics+=("$(metrics_of "$db" "t.number = ${r%%:*}")")
    done

    # the rerun resumes
    (cd "kill_$method" && "$ks" s.yaml >out2 2>err2)
    check "$method: the rerun exits 0" $? "$(cat "kill_$method/err2")"
    grep -q "(resuming)" "kill_$method/out2"
    check "$method: the rerun says it resumes" $?
    grep -q "^$n_unfinished unfinished trials\? from the last run" "kill_$method/out2"
    check "$method: the rerun continues the $n_unfinished unfinished trial(s)" $? "$(head -3 "kill_$method/out2")"
    now_rows=$(q "$db" "SELECT number, quote(started), quote(ended), epochs, quote(objective)
                          FROM trial WHERE number IN ($(printf '%s\n' "$done_rows" | cut -d'|' -f1 | paste -sd,))
                         ORDER BY number;")
    [[ $now_rows == "$done_rows" ]]
    check "$method: completed trials untouched (started, ended, epochs, objective)" $? \
        "$(diff <(echo "$done_rows") <(echo "$now_rows"))"
    now_metrics=$(metrics_of "$db" "t.number IN ($(printf '%s\n' "$done_rows" | cut -d'|' -f1 | paste -sd,))")
    [[ $now_metrics == "$done_metrics" && -n $done_metrics ]]
    check "$method: completed trials' metric rows unchanged (values and wall times)" $?
    i=0
    for r in $running; do
        num=${r%%:*} k=$(echo "$r" | cut -d: -f2) started=${r##*:}
        # the rows it had stay exactly as they were: it was not trained again from 0
        now=$(metrics_of "$db" "t.number = $num AND m.epoch < $k")
        [[ $now == "${run_metrics[$i]}" ]]
        check "$method: trial $num's first $k epochs kept as they were (continued, not restarted)" $? \
            "$(diff <(echo "${run_metrics[$i]}") <(echo "$now") | head -5)"
        row=$(q "$db" "SELECT status, epochs, quote(started),
                              (SELECT count(*) FROM metric m WHERE m.trial_id = t.id AND m.name = 'loss'
                                  AND m.epoch >= $k AND m.wall_time > $kill_time),
                              (SELECT count(*) FROM metric m WHERE m.trial_id = t.id AND m.name = 'loss'
                                  AND m.wall_time > $kill_time)
                         FROM trial t WHERE number = $num;")
        [[ $row == "complete|25|$started|$((25 - k))|$((25 - k))" ]]
        check "$method: trial $num continued at epoch $k to 25, only new epochs written, started kept" $? "($row)"
        i=$((i + 1))
    done
    bad=$(bad_epochs "$db")
    check "$method: every trial's epochs recorded exactly once" "$([[ -z $bad ]]; echo $?)" "trials: $bad"
    ref=$(trial_keys "$ref_db") got=$(trial_keys "$db")
    [[ $got == "$ref" && $(printf '%s\n' "$ref" | grep -c '|complete|25$') -eq 6 ]]
    check "$method: final trials (number, params, seed, status, epochs) equal the uninterrupted run's" $? \
        "$(diff <(echo "$ref") <(echo "$got"))"
    # a trial that completed before the kill ran exactly as in the uninterrupted run
    nums=$(printf '%s\n' "$done_rows" | cut -d'|' -f1 | paste -sd,)
    [[ $(metrics_of "$ref_db" "t.number IN ($nums) AND m.name LIKE '%accuracy'" | cut -d'|' -f1-5) == \
       $(metrics_of "$db" "t.number IN ($nums) AND m.name LIKE '%accuracy'" | cut -d'|' -f1-5) ]]
    check "$method: trials completed before the kill have the uninterrupted run's metrics" $?
    # and resuming from a checkpoint (weights, optimizer state, epoch) is exact: every
    # value of every trial, the resumed ones too, is the uninterrupted run's
    [[ $(metrics_of "$ref_db" 1 | cut -d'|' -f1-5) == $(metrics_of "$db" 1 | cut -d'|' -f1-5) ]]
    check "$method: every metric value of every trial equals the uninterrupted run's" $?
    # the objective, its epoch and the best checkpoint span the epochs before the kill too
    ref=$(best_rows "$ref_db") got=$(best_rows "$db")
    [[ $got == "$ref" && $(best_bytes "$ref_db") == $(best_bytes "$db") ]]
    check "$method: objectives, best epochs and best checkpoints (bytes) equal the uninterrupted run's" $? \
        "$(diff <(echo "$ref") <(echo "$got"))"
    bad=$(bad_objectives "$db")
    check "$method: every objective is the best of all its trial's epochs, the best checkpoint that epoch's" \
        "$([[ -z $bad ]]; echo $?)" "trials: $bad"
done

# --- Hyperband: a promoted trial continues from its checkpoint.  Its objective, best epoch
# and best checkpoint span the epochs before the promotion; killed while a promoted trial
# trains, the resumed study equals the uninterrupted one.
# (retain: all: every trial's best checkpoint stays, to be checked; e2e_retention.sh
# resumes a Hyperband study under the default, which drops the pruned trials')
hb_study() {
    fmnist_study "$1" resume_hb 4 hyperband 6000 9 13 1 '[16, 32]' '{float: [0.01, 0.1], log: true}'
    sed -i 's/^search:$/search:\n  checkpoints: {retain: all}/' "$1"
}
mkdir -p hb_ref hb_kill
hb_study hb_ref/s.yaml
cp hb_ref/s.yaml hb_kill/s.yaml
(cd hb_ref && "$ks" s.yaml >out 2>err)
check "hyperband: uninterrupted run exits 0" $? "$(cat hb_ref/err)"
ref_db=hb_ref/runs/resume_hb/study.db
# rungs of 1, 3 and 9 epochs: promoted to 3 after epoch 0, to 9 after epoch 2
early=$(q "$ref_db" "SELECT count(*) FROM (SELECT t.budget,
                         (SELECT m.epoch FROM metric m WHERE m.trial_id = t.id AND m.step = -1
                             AND m.name = 'val_accuracy' ORDER BY m.value DESC, m.epoch LIMIT 1) AS e
                         FROM trial t) WHERE (budget = 3 AND e < 1) OR (budget = 9 AND e < 3);")
[[ $early -ge 1 ]]
check "hyperband: a promoted trial's best epoch came before its promotion (set-up: $early)" $?
bad=$(bad_objectives "$ref_db")
check "hyperband: every objective is the best of all its trial's epochs, the best checkpoint that epoch's" \
    "$([[ -z $bad ]]; echo $?)" "trials: $bad"
db=hb_kill/runs/resume_hb/study.db
(cd hb_kill && exec "$ks" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_db "$db" "$pid" "SELECT count(*) FROM trial WHERE status = 'running' AND budget = 9
                        AND epochs BETWEEN 4 AND 8;"
r=$?
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
check "hyperband: killed while a trial promoted to 9 epochs trains past its promotion" $r
(cd hb_kill && "$ks" s.yaml >out2 2>err2)
check "hyperband: the rerun exits 0" $? "$(cat hb_kill/err2)"
ref=$(trial_keys "$ref_db") got=$(trial_keys "$db")
[[ $got == "$ref" ]]
check "hyperband: final trials (number, params, seed, status, epochs) equal the uninterrupted run's" $? \
    "$(diff <(echo "$ref") <(echo "$got"))"
ref=$(best_rows "$ref_db") got=$(best_rows "$db")
[[ $got == "$ref" && $(best_bytes "$ref_db") == $(best_bytes "$db") ]]
check "hyperband: objectives, best epochs and best checkpoints (bytes) equal the uninterrupted run's" $? \
    "$(diff <(echo "$ref") <(echo "$got"))"
[[ $(metrics_of "$ref_db" 1 | cut -d'|' -f1-5) == $(metrics_of "$db" 1 | cut -d'|' -f1-5) ]]
check "hyperband: every metric value equals the uninterrupted run's" $?

# --- Ctrl-C: a clean stop, then a rerun finishes
mkdir -p int
study int/s.yaml resume_random random "$lr_range"
db=int/runs/resume_random/study.db
(cd int && exec "$ks" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_for "$db" "$pid"
check "SIGINT: reached 2 complete trials and one running before the end" $?
kill -INT "$pid"
wait_exit "$pid" 20
rc=$?
[[ $rc -eq 1 ]]
check "SIGINT: exit status 1 (stopped while running, as documented)" $? "(rc $rc)"
grep -q "interrupted" int/err && [[ $(grep -c . int/err) -eq 1 ]]
check "SIGINT: one message saying it was interrupted" $? "$(cat int/err)"
ok=$(q "$db" 'PRAGMA integrity_check;' 2>&1)
check "SIGINT: integrity_check" "$([[ $ok == ok ]]; echo $?)" "$ok"
row=$(q "$db" "SELECT (SELECT count(*) FROM trial WHERE status IN ('running', 'queued')) || ' ' ||
                      (SELECT count(*) FROM trial WHERE status = 'interrupted') || ' ' ||
                      (SELECT count(*) FROM trial WHERE status = 'interrupted' AND ended IS NOT NULL);")
[[ $row =~ ^0\ ([1-9])\ ([1-9])$ && ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" ]]
check "SIGINT: no trial left running or queued, the running ones interrupted (with an end time)" $? "($row)"
int_rows=$(q "$db" "SELECT number || ':' || epochs FROM trial WHERE status = 'interrupted' AND epochs > 0;")
int_metrics=()
for r in $int_rows; do int_metrics+=("$(metrics_of "$db" "t.number = ${r%%:*}")"); done
(cd int && "$ks" s.yaml >out2 2>err2)
check "SIGINT: the rerun exits 0" $? "$(cat int/err2)"
i=0
for r in $int_rows; do
    now=$(metrics_of "$db" "t.number = ${r%%:*} AND m.epoch < ${r##*:}")
    [[ $now == "${int_metrics[$i]}" ]]
    check "SIGINT: interrupted trial ${r%%:*} continued after its ${r##*:} epochs" $?
    i=$((i + 1))
done
[[ $(trial_keys "$db") == $(trial_keys ref_random/runs/resume_random/study.db) ]]
check "SIGINT: final trials equal the uninterrupted run's" $?
bad=$(bad_epochs "$db")
check "SIGINT: every trial's epochs recorded exactly once" "$([[ -z $bad ]]; echo $?)" "trials: $bad"

# --- a changed study file is refused; --fresh starts over
sed -i 's/learning_rate: {float: \[1.0e-3, 1.0e-2\], log: true}/learning_rate: {float: [1.0e-4, 1.0e-3], log: true}/' int/s.yaml
grep -q '1.0e-4, 1.0e-3' int/s.yaml
check "the study file was changed (test set-up)" $?
before=$(cd int/runs/resume_random && sha256sum study.db; ls -A . | sort | paste -sd' ')
(cd int && "$ks" s.yaml >out3 2>err3)
rc=$?
[[ $rc -eq 2 ]]
check "changed file: exit 2" $? "(rc $rc)"
msg=$(cat int/err3)
[[ $(grep -c . int/err3) -eq 1 && $msg == *"s.yaml"* && $msg == *"1.0e-3, 1.0e-2"* && \
   $msg == *"1.0e-4, 1.0e-3"* && $msg == *"--fresh"* ]]
check "changed file: one message naming the file, the old and the new line, and --fresh" $? "($msg)"
after=$(cd int/runs/resume_random && sha256sum study.db; ls -A . | sort | paste -sd' ')
[[ $after == "$before" ]]
check "changed file: study.db unchanged byte for byte (and no new files)" $? "($before / $after)"
grep -q '^trial' int/out3
check "changed file: no trial ran" "$((1 - $?))"
(cd int && "$ks" s.yaml --fresh >out4 2>err4)
check "--fresh: exit 0" $? "$(cat int/err4)"
row=$(q "$db" "SELECT count(*), sum(status = 'complete'), sum(epochs = 25),
                      sum(json_extract(params, '$.learning_rate') BETWEEN 1.0e-4 AND 1.0e-3),
                      (SELECT count(*) FROM study)
                 FROM trial;")
[[ $row == "6|6|6|6|1" ]]
check "--fresh: 6 new complete trials, all drawn from the new range, one study" $? "($row)"
[[ $(q "$db" "SELECT config FROM study;") == "$(cat int/s.yaml)" ]]
check "--fresh: the stored study file is the new one" $?
bad=$(bad_epochs "$db")
check "--fresh: every trial's epochs recorded exactly once (old ones gone)" "$([[ -z $bad ]]; echo $?)" "trials: $bad"
finish
