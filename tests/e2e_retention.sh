#!/usr/bin/env bash
# Checkpoint retention (search.checkpoints.retain) end to end, on a small Hyperband study
# (R = 9, η = 3: 17 configurations, one worker, an ensemble of the best 3).  Under the
# default (useful) and under retain: all it trains the same trials to the same values and
# builds the same ensemble; the default drops the checkpoints of the 12 configurations
# pruned below 9 epochs, and its study.db is smaller by about the share of the file
# their blobs took (computed from the blob sizes of the retain: all run), integrity ok.
# Killed with SIGKILL once it has dropped some and run again, it completes to the same;
# an older study.db (auto_vacuum NONE) resumes too.  Export of a dropped checkpoint is
# refused naming the policy (exit 2, nothing written); refit and show of that trial
# still work; an unknown policy is one message, exit 2, nothing written.
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup retention fmnist

# hb FILE POLICY ROWS: the study (POLICY empty: the default)
hb() {
    hyperband_study "$1" hb 5 "$3" 9 1
    [[ -z $2 ]] || sed -i "s/^search:\$/search:\n  checkpoints: {retain: $2}/" "$1"
    printf 'ensemble: {top: 3, weights: [uniform, greedy]}\n' >>"$1"
}
size() { stat -c %s "$1"; }

mkdir all useful
hb all/s.yaml all 1000
hb useful/s.yaml '' 1000
grep -q 'retain: all' all/s.yaml && ! grep -q 'retain' useful/s.yaml
check "the studies: retain: all, and the default" $?
for d in all useful; do
    (cd $d && "$ks" s.yaml >out 2>err)
    check "$d: exit 0" $? "$(cat $d/err)"
done
adb=all/runs/hb/study.db udb=useful/runs/hb/study.db
row=$(q $udb "SELECT sum(epochs), count(*), sum(epochs = 9), sum(status = 'pruned') FROM trial;")
[[ $row == "69|17|5|12" ]]
check "the plan: 69 epochs, 17 trials, 5 at 9, 12 pruned ($row)" $?
[[ "$(trials_of $udb)" == "$(trials_of $adb)" && "$(values_of $udb)" == "$(values_of $adb)" ]]
check "the default trains the trials and values retain: all does" $?
[[ -n "$(ensembles_of $adb)" && "$(ensembles_of $udb)" == "$(ensembles_of $adb)" ]] &&
    cmp -s all/runs/hb/ensembles/best.ksm useful/runs/hb/ensembles/best.ksm
check "the same ensembles (members, weights, metrics) and the same best.ksm" $?
n=$(pruned_ckpts $adb)
[[ $n == 24 ]]
check "retain: all keeps the pruned trials' best and last ($n)" $?
n=$(pruned_ckpts $udb)
row=$(q $udb "SELECT count(*), sum(c.kind = 'best') FROM checkpoint c JOIN trial t ON t.id = c.trial_id
               WHERE t.status = 'complete' AND t.budget = 9;")
[[ $n == 0 && $row == "10|5" ]]
check "the default drops the pruned trials' checkpoints, keeps the complete ones' ($n; $row)" $?
grep -q '^retain: useful: the checkpoints of 12 trials dropped' useful/out
check "the study says what it dropped" $? "$(grep retain useful/out)"
[[ "$(q $udb 'PRAGMA integrity_check;')" == ok && "$(q $udb 'PRAGMA freelist_count;')" == 0 &&
   "$(q $udb 'PRAGMA auto_vacuum;')" == 2 ]]
check "the default's study.db: integrity ok, no free page left, auto_vacuum incremental" $?

# the share: the pruned trials' blob bytes over the size of retain: all's file (without
# the pages it leaves free: a last checkpoint rewritten each epoch frees its old pages)
S_all=$(size $adb)
read -r page free <<<"$(q -separator ' ' $adb 'PRAGMA page_size; PRAGMA freelist_count;' | tr '\n' ' ')"
live=$((S_all - page * free))
dropped=$(q $adb "SELECT sum(length(c.data)) FROM checkpoint c JOIN trial t ON t.id = c.trial_id
                   WHERE t.status = 'pruned';")
S_use=$(size $udb)
# expected: live minus the dropped bytes; allowed: a page per dropped blob either way
awk -v l=$live -v d=$dropped -v u=$S_use -v p=$page -v a=$S_all 'BEGIN {
    e = l - d; printf "retain all %d bytes (%d live), the pruned blobs %d (%.1f%% of live), ", a, l, d, 100 * d / l
    printf "the default %d bytes (%.1f%% smaller than live; expected %d)\n", u, 100 * (l - u) / l, e
    exit !(u >= e - 24 * p && u <= e + 24 * p) }'
check "the default's study.db is smaller by the share of the dropped checkpoints" $?

# a stopped study's configurations whose rungs closed are still complete (pruned when the
# study ends) and have no checkpoint: an ensemble leaves them out, with a note each
cp -r useful ens
q ens/runs/hb/study.db "UPDATE trial SET status = 'complete' WHERE status = 'pruned';"
out=$(cd ens && "$ks" ensemble runs/hb --top 20 -o e.ksm 2>&1); rc=$?
[[ $rc == 0 && -s ens/e.ksm && $(grep -c "is left out: its best checkpoint was dropped" <<<"$out") == 12 &&
   $out == *"5 complete trials, fewer than top 20"* ]]
check "an ensemble of a stopped study leaves out the 12 trials whose checkpoints were dropped" $? "($rc: $out)"
q ens/runs/hb/study.db "PRAGMA foreign_keys = ON; DELETE FROM trial WHERE budget = 9;"
out=$(cd ens && "$ks" ensemble runs/hb --top 3 -o f.ksm 2>&1); rc=$?
[[ $rc == 2 && ! -e ens/f.ksm && $out == *"no complete trial with a best checkpoint"*"12 left out"* ]]
check "none left: the ensemble says so, exit 2" $? "($rc: $(tail -1 <<<"$out"))"

# export, refit and show of a pruned trial
t=$(q $udb "SELECT number FROM trial WHERE status = 'pruned' ORDER BY number LIMIT 1;")
out=$(cd useful && "$ks" export runs/hb "$t" -o t.ksm --onnx t.onnx 2>&1); rc=$?
[[ $rc == 2 && $(wc -l <<<"$out") == 1 && ! -e useful/t.ksm && ! -e useful/t.onnx &&
   $out == *"trial $t (pruned): its best checkpoint was dropped (search.checkpoints retain: useful drops"*"below 9 epochs"* ]]
check "export of a dropped checkpoint: one message naming the policy, exit 2, nothing written" $? "($rc: $out)"
out=$(cd all && "$ks" export runs/hb "$t" -o t.ksm 2>&1); rc=$?
[[ $rc == 0 && -s all/t.ksm ]]
check "under retain: all the same trial exports" $? "($rc: $out)"
b=$(q $udb "SELECT number FROM trial WHERE status = 'complete' ORDER BY objective DESC LIMIT 1;")
out=$(cd useful && "$ks" export runs/hb "$b" -o b.ksm 2>&1); rc=$?
[[ $rc == 0 && -s useful/b.ksm ]]
check "a complete trial exports under the default" $? "($rc: $out)"
out=$(cd useful && "$ks" show runs/hb "$t" 2>&1); rc=$?
[[ $rc == 0 && $out != *"checkpoint "* ]]
check "show of the pruned trial: no checkpoint lines" $? "($rc)"
out=$(cd useful && "$ks" refit runs/hb "$t" --verbose 0 -o r.ksm 2>&1); rc=$?
[[ $rc == 0 && -s useful/r.ksm ]]
check "refit of the pruned trial retrains it" $? "($rc: $out)"

# killed once it has dropped checkpoints, run again: the same study (4000 rows: slower)
mkdir ref kill
hb ref/s.yaml '' 4000
hb kill/s.yaml '' 4000
(cd ref && "$ks" s.yaml >out 2>err)
check "ref: exit 0" $? "$(cat ref/err)"
(cd kill && exec "$ks" s.yaml >out 2>err) &
pid=$!
pids+=("$pid")
wait_db kill/runs/hb/study.db "$pid" \
    "SELECT count(*) FROM trial t WHERE t.status = 'complete' AND t.budget < 9
        AND NOT EXISTS (SELECT 1 FROM checkpoint c WHERE c.trial_id = t.id)
        AND (SELECT count(*) FROM trial WHERE status = 'running') > 0;"
check "the study dropped checkpoints while running" $?
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
cp -r kill old
(cd kill && "$ks" s.yaml >out2 2>err2)
check "killed and run again: exit 0" $? "$(cat kill/err2)"
kdb=kill/runs/hb/study.db rdb=ref/runs/hb/study.db
[[ "$(trials_of $kdb)" == "$(trials_of $rdb)" && "$(values_of $kdb)" == "$(values_of $rdb)" ]]
check "killed and run again: the trials and values of an uninterrupted run" $?
[[ "$(ensembles_of $kdb)" == "$(ensembles_of $rdb)" && "$(pruned_ckpts $kdb)" == 0 ]]
check "killed and run again: the same ensembles, no pruned trial's checkpoint" $?
[[ "$(q $kdb 'PRAGMA integrity_check;')" == ok ]]
check "killed and run again: integrity ok" $?

# an older study.db (made before auto_vacuum), killed the same way: it resumes and ends
# no larger than the uninterrupted run's file plus a third.  Its free pages go back by
# one VACUUM at the end when a quarter or more of its pages are free; below that they
# stay, for the next checkpoints: the file is then under 4/3 of its live pages (at most
# 1.26 times the other file over 320 kills at random times, 61 seeds; the 2% above 4/3:
# other page packing)
odb=old/runs/hb/study.db
q $odb "PRAGMA auto_vacuum = NONE; VACUUM;" >/dev/null
[[ "$(q $odb 'PRAGMA auto_vacuum;')" == 0 ]]
check "an older file: auto_vacuum none" $?
(cd old && "$ks" s.yaml >out2 2>err2)
check "the older file resumes: exit 0" $? "$(cat old/err2)"
[[ "$(trials_of $odb)" == "$(trials_of $rdb)" && "$(q $odb 'PRAGMA integrity_check;')" == ok &&
   "$(pruned_ckpts $odb)" == 0 ]]
check "the older file: the same trials, integrity ok, no pruned trial's checkpoint" $?
o=$(size $odb) r=$(size $rdb)
[[ $o -le $((r + r / 3 + r / 50)) ]]
check "the older file ends at $o bytes (the new file's: $r)" $?

# an unknown policy: one message at its place, exit 2, nothing written
mkdir bad
hb bad/s.yaml usefull 1000
(cd bad && "$ks" s.yaml >out 2>err)
rc=$?
[[ $rc == 2 && $(wc -l <bad/err) == 1 && ! -e bad/runs ]] &&
    grep -q '^s.yaml:[0-9]*:[0-9]*: .*retain.*did you mean "useful"' bad/err
check "an unknown policy: one message with its place and \"did you mean\", exit 2, nothing written" $? "($rc: $(cat bad/err))"

finish
