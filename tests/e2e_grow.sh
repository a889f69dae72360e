#!/usr/bin/env bash
# Growing a study and warm starts, in real studies.  A random study of 3 trials grown to
# 5 with a wider range keeps its 3 trials bit for bit (rows, every metric value, the
# checkpoints' bytes) and runs 2 new ones, the draws a study of the grown file would
# make; a grid given a value runs only its new points; a Hyperband study whose
# max_epochs grows trains exactly the new plan's epochs after its old trials; a TPE study
# warm-started from another proposes a model's first trial, not the cold start's, and
# the same each time.  Refusals (a narrowed range, a removed value, a changed model, a
# warm start from a missing path, another space or a method that cannot use it): one
# message FILE:LINE:COL, exit 2, study.db unchanged (sqlite3 dumps compared).
set -u -o pipefail
cd "$(dirname "$0")/.."
source tests/study_lib.sh
study_setup grow fmnist

dump() { q "$1" .dump | md5sum; }
# study FILE NAME METHOD MAX_TRIALS UNITS LR [OPTION...]: 1,000 images, 2 epochs, one
# worker; each OPTION a line of the search section
study() {
    local f=$1 name=$2 method=$3 trials=$4 units=$5 lr=$6 o
    shift 6
    fmnist_study "$f" "$name" 7 "$method" 1000 2 "$trials" 1 "$units" "$lr"
    for o in "$@"; do sed -i "/^  parallel: /a\\  $o" "$f"; done
}
# kept DB N: trial rows, metric values and checkpoint bytes of the trials numbered < N
kept() {
    q "$1" "SELECT number, params, seed, status, budget, epochs, quote(objective), best_epoch,
                   quote(started), quote(ended), quote(error) FROM trial WHERE number < $2 ORDER BY number;"
    q "$1" "SELECT t.number, m.name, m.step, m.epoch, m.pos, quote(m.value), m.wall_time FROM metric m
            JOIN trial t ON t.id = m.trial_id WHERE t.number < $2 ORDER BY 1, 2, 3, 4;" | md5sum
    q "$1" "SELECT t.number, c.kind, c.epoch, quote(c.monitored), hex(c.data) FROM checkpoint c
            JOIN trial t ON t.id = c.trial_id WHERE t.number < $2 ORDER BY 1, 2;" | md5sum
}
# refused WHAT DIR [ARGS...]: the study in DIR run with ARGS exits 2 with one message
# at s.yaml:LINE:COL, its study.db unchanged
refused() {
    local what=$1 dir=$2 before
    shift 2
    before=$(dump "$dir/runs/$(sed -n 's/^name: //p' "$dir/s.yaml")/study.db")
    (cd "$dir" && "$ks" s.yaml "$@" >out 2>err)
    check "$what: exit 2" $([[ $? -eq 2 ]]; echo $?) "$(cat "$dir/err")"
    [[ $(wc -l < "$dir/err") -eq 1 ]] && grep -Eq '^s\.yaml:[0-9]+:[0-9]+: ' "$dir/err"
    check "$what: one message at s.yaml:LINE:COL" $? "$(cat "$dir/err")"
    [[ $(dump "$dir/runs/$(sed -n 's/^name: //p' "$dir/s.yaml")/study.db") == "$before" ]]
    check "$what: study.db unchanged" $?
}

# ---------------------------------------------------------------- random
mkdir -p r fresh
study r/s.yaml grown random 3 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}'
(cd r && "$ks" s.yaml >out 2>err)
check "random: 3 trials run (exit 0)" $? "$(cat r/err)"
db=r/runs/grown/study.db
before=$(kept "$db" 3)
cp r/s.yaml r/s0.yaml
sed -i 's/max_trials: 3/max_trials: 5/; s/\[1.0e-3, 1.0e-2\]/[1.0e-4, 1.0e-2]/' r/s.yaml

(cd r && "$ks" s.yaml >out 2>err)
check "random, grown, without --grow: exit 2" $([[ $? -eq 2 ]]; echo $?)
grep -q -- "--grow continues it, keeping its trials" r/err && grep -q "but only grew (learning_rate: \[0.001, 0.01\] widened to \[0.0001, 0.01\]; max_trials 3 → 5)" r/err
check "random, grown, without --grow: the refusal says --grow would continue it" $? "$(cat r/err)"

for bad in "narrowed range|s/\[1.0e-4, 1.0e-2\]/[2.0e-3, 1.0e-2]/|narrower than the study's" \
           "removed value|s/values: \[16, 32\]/values: [16]/|value 32 was removed" \
           "changed model|s/units: 10, activation: softmax/units: 10, activation: sigmoid/|model\[2\].Dense.activation changed"; do
    IFS='|' read -r what expr says <<< "$bad"
    cp r/s.yaml r/good.yaml
    sed -i "$expr" r/s.yaml
    refused "--grow with a $what" r --grow
    grep -q "$says" r/err && grep -q -- "--fresh to start over" r/err
    check "--grow with a $what: says \"$says\" and --fresh" $? "$(cat r/err)"
    mv r/good.yaml r/s.yaml
done
(cd r && "$ks" s.yaml --grow --fresh >out 2>err)
check "--grow with --fresh: exit 2" $([[ $? -eq 2 ]]; echo $?)
out=$("$ks" s.yaml --help); rc=$?
[[ $rc -eq 0 && $out == *"--grow         continue a study whose file only grew"* ]]
check "ksearch STUDY.yaml --help names --grow" $? "($rc) $out"

(cd r && "$ks" s.yaml --grow >out 2>err)
check "random, --grow: exit 0" $? "$(cat r/err)"
grep -q "study grown grew after 3 trials: learning_rate: \[0.001, 0.01\] widened to \[0.0001, 0.01\]; max_trials 3 → 5" r/out
check "random, --grow: says what grew" $? "$(head -3 r/out)"
[[ $(kept "$db" 3) == "$before" ]]
check "random, --grow: the first 3 trials' rows, metric values and checkpoints are kept bit for bit" $?
row=$(q "$db" "SELECT count(*), sum(status = 'complete'), sum(epochs) FROM trial;")
[[ $row == "5|5|10" ]]
check "random, --grow: 2 new trials ran (5 complete, 10 epochs)" $? "($row)"
[[ $(q "$db" "SELECT config FROM study;") == "$(cat r/s.yaml)" ]]
check "random, --grow: the study keeps the new file's text" $?
[[ $(q "$db" "SELECT trials, config = CAST(readfile('r/s0.yaml') AS TEXT) FROM growth;") == "3|1" ]]
check "random, --grow: the old text is kept with its 3 trials" $? "$(q "$db" "SELECT trials FROM growth;")"
# the new trials are the draws of a study of the grown file, by their numbers
cp r/s.yaml fresh/s.yaml
(cd fresh && "$ks" s.yaml >out 2>err)
check "random: a fresh study of the grown file runs" $? "$(cat fresh/err)"
[[ $(q "$db" "SELECT params FROM trial WHERE number >= 3 ORDER BY number;") == \
   $(q fresh/runs/grown/study.db "SELECT params FROM trial WHERE number >= 3 ORDER BY number;") ]]
check "random, --grow: trials 3 and 4 are the grown space's draws of their numbers" $?
(cd r && "$ks" s.yaml >out 2>err)
check "random: a plain run of the grown file resumes (exit 0)" $? "$(cat r/err)"
grep -q "(resuming)" r/out && [[ $(q "$db" "SELECT count(*) FROM trial;") == 5 ]]
check "random: it resumes with the 5 trials" $?

# ---------------------------------------------------------------- grid
mkdir -p g
study g/s.yaml grid grid 0 '[16, 32]' '{values: [1.0e-3, 3.0e-3]}'
sed -i '/max_trials: 0/d' g/s.yaml
(cd g && "$ks" s.yaml >out 2>err)
check "grid: 4 points run (exit 0)" $? "$(cat g/err)"
gdb=g/runs/grid/study.db
before=$(kept "$gdb" 4)
sed -i 's/values: \[16, 32\]/values: [16, 32, 64]/' g/s.yaml
(cd g && "$ks" s.yaml --grow >out 2>err)
check "grid, --grow: exit 0" $? "$(cat g/err)"
[[ $(kept "$gdb" 4) == "$before" ]]
check "grid, --grow: the 4 trials are kept bit for bit" $?
got=$(q "$gdb" "SELECT group_concat(params, ' ') FROM (SELECT params FROM trial WHERE number >= 4 ORDER BY number);")
[[ $got == '{"units":64,"learning_rate":0.001} {"units":64,"learning_rate":0.003}' ]]
check "grid, --grow: only the 2 new points ran, in the grid's order" $? "($got)"

# ---------------------------------------------------------------- hyperband
mkdir -p hb
study hb/s.yaml hb hyperband 0 '[16, 32]' '{float: [1.0e-3, 1.0e-2], log: true}' "max_epochs: 3"
sed -i '/max_trials: 0/d' hb/s.yaml
(cd hb && "$ks" s.yaml >out 2>err)
check "hyperband R 3: runs (exit 0)" $? "$(cat hb/err)"
hdb=hb/runs/hb/study.db
row=$(q "$hdb" "SELECT count(*), sum(epochs) FROM trial;")
[[ $row == "5|11" ]]
check "hyperband R 3: 5 trials, 11 epochs (3 of 1, one of them to 3; 2 of 3)" $? "($row)"
before=$(kept "$hdb" 5)
sed -i 's/max_epochs: 3/max_epochs: 9/' hb/s.yaml
(cd hb && "$ks" s.yaml --grow >out 2>err)
check "hyperband, --grow to R 9: exit 0" $? "$(cat hb/err)"
[[ $(kept "$hdb" 5) == "$before" ]]
check "hyperband, --grow: the 5 trials of R 3 are kept as they were" $?
row=$(q "$hdb" "SELECT count(*), sum(epochs), sum(status = 'complete'), sum(budget = 9 AND status = 'complete') FROM trial WHERE number >= 5;")
[[ $row == "17|69|5|5" ]]
check "hyperband, --grow: one pass of R 9's brackets after them: 17 trials, 69 epochs, 5 complete at 9" $? "($row)"
row=$(q "$hdb" "SELECT group_concat(epochs, ' ') FROM (SELECT epochs FROM trial WHERE number >= 5 ORDER BY number);")
first9=$(q "$hdb" "SELECT group_concat(budget, ' ') FROM (SELECT budget FROM trial WHERE number BETWEEN 5 AND 13 ORDER BY number);")
[[ $(tr ' ' '\n' <<< "$first9" | sort -n | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ') == "6x1 2x3 1x9 " ]]
check "hyperband, --grow: its largest bracket first (9 of 1 epoch, 3 to 3, 1 to 9)" $? "($first9)"

# ---------------------------------------------------------------- warm start
mkdir -p a b b2 c
study a/s.yaml first tpe 6 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}' "n_startup_trials: 3"
(cd a && "$ks" s.yaml >out 2>err)
check "warm start: the earlier study runs (exit 0)" $? "$(cat a/err)"
study c/s.yaml second tpe 1 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}' "n_startup_trials: 3"
study b/s.yaml second tpe 1 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}' "n_startup_trials: 3" \
    "warm_start: ../a/runs/first"
cp b/s.yaml b2/s.yaml
sed -i 's|../a/runs/first|../a/runs/first/study.db|' b2/s.yaml
for d in b b2 c; do
    (cd $d && "$ks" s.yaml >out 2>err)
    check "warm start: study $d runs (exit 0)" $? "$(cat $d/err)"
done
grep -q "warm start: 6 complete trials from ../a/runs/first/study.db, as observations" b/out
check "warm start: says how many trials it observes, from where" $? "$(head -2 b/out)"
p() { q "$1/runs/second/study.db" "SELECT params FROM trial WHERE number = 0;"; }
[[ -n $(p b) && $(p b) != "$(p c)" ]]
check "warm start: the first trial differs from a cold start's" $? "($(p b) vs $(p c))"
[[ $(p b) == "$(p b2)" ]]
check "warm start: the same earlier study gives the same first trial" $? "($(p b) vs $(p b2))"
[[ $(q b/runs/second/study.db "SELECT count(*) FROM trial;") == 1 ]]
check "warm start: the earlier trials are not copied into the study" $?

mkdir -p w1 w2 w3
study w1/s.yaml w1 tpe 1 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}' "warm_start: ../nowhere"
study w2/s.yaml w2 tpe 1 '[16, 64]' '{float: [1.0e-4, 1.0e-1], log: true}' "warm_start: ../a/runs/first"
study w3/s.yaml w3 random 1 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}' "warm_start: ../a/runs/first"
for d in w1 w2 w3; do
    (cd $d && "$ks" s.yaml >out 2>err)
    check "warm start $d: exit 2" $([[ $? -eq 2 ]]; echo $?) "$(cat $d/err)"
    [[ $(wc -l < $d/err) -eq 1 ]] && grep -Eq '^s\.yaml:[0-9]+:[0-9]+: ' $d/err && [[ ! -e $d/runs/$d/study.db ]]
    check "warm start $d: one message at s.yaml:LINE:COL, no study.db" $? "$(cat $d/err)"
done
grep -q "search.warm_start: no study at ../nowhere/study.db" w1/err
check "warm start from a missing path: says so" $? "$(cat w1/err)"
grep -q "parameter units: value 2 changed (was 32, now 64)" w2/err && grep -q "not the space of the study in" w2/err
check "warm start from another space: names the difference" $? "$(cat w2/err)"
grep -q "method random does not use earlier results" w3/err
check "warm start with random search: refused" $? "$(cat w3/err)"
mkdir -p w4
study w4/s.yaml w4 tpe 1 '[16, 32]' '{float: [1.0e-4, 1.0e-1], log: true}'
(cd w4 && "$ks" s.yaml >out 2>err)
check "warm start from itself: the study runs first (exit 0)" $? "$(cat w4/err)"
sed -i '/^  parallel: /a\  warm_start: runs/w4' w4/s.yaml
refused "warm start from the study's own database" w4
grep -q "is this study's own database" w4/err
check "warm start from itself: says so" $? "$(cat w4/err)"

finish
[[ $failed -eq 0 ]]
