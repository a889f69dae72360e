#!/usr/bin/env bash
# Errors in a study.  A trial that diverges (NaN loss) is recorded as failed with its
# reason and the study goes on (exit 0); a rerun keeps it as it is.  Bad study files
# (an unknown key, an undefined or unused $name, min >= max, log with min <= 0,
# non-integral int bounds, a missing data file, a parameter value the model cannot
# take, a layer that does not fit the data, no epochs to train, an infinite bound, a
# $name as a key) each give exactly one message
# FILE:LINE:COL: … on stderr and exit 2, before anything is written: no runs/NAME is
# created, an existing study.db stays the same byte for byte.  `ksearch ls` on
# something that is not a study database, a damaged one, or one of a newer schema:
# one clear message, exit 2, the file unchanged.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_errors.XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
q() { sqlite3 -batch "$@"; }
cd "$tmp"

# A regression on the labels with SGD: learning rate 1e6 overflows to a NaN loss.
cat > good.yaml <<'YAML'
name: err
seed: 1
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 1000]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9300]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: $units, activation: relu}
  - Dense: {units: 1}
compile:
  optimizer: {SGD: {learning_rate: $learning_rate}}
  loss: mse
  metrics: [mae]
fit: {epochs: 3, batch_size: 32, verbose: 0}
search:
  method: grid
  metric: {name: val_loss, goal: minimize}
  parameters:
    units: {values: [8]}
    learning_rate: {values: [0.01, 1.0e6, 0.02]}
YAML

# --- a diverging trial fails, the study goes on
mkdir run && cp good.yaml run/
(cd run && "$ks" good.yaml >out 2>err)
rc=$?
[[ $rc -eq 0 ]]
check "diverging trial: the study still exits 0" $? "(rc $rc) $(cat run/err)"
db=run/runs/err/study.db
row=$(q "$db" "SELECT group_concat(number || ':' || status || ':' || epochs, ' ') FROM
                 (SELECT * FROM trial ORDER BY number);")
[[ $row == "0:complete:3 1:failed:0 2:complete:3" ]]
check "diverging trial: trial 1 failed, trials 0 and 2 complete with 3 epochs" $? "($row)"
reason=$(q "$db" "SELECT error FROM trial WHERE number = 1;")
[[ $reason == *"invalid loss"* || $reason == *[Nn]a[Nn]* ]]
check "diverging trial: its reason is recorded (NaN / invalid loss)" $? "($reason)"
row=$(q "$db" "SELECT count(*) FROM trial WHERE ended IS NOT NULL AND started IS NOT NULL AND ended >= started;")
[[ $row == 3 ]]
check "diverging trial: every trial has its start and end times" $? "($row)"
grep -q "^trial 1 failed" run/out && grep -qF "$reason" run/out
check "diverging trial: the progress output says trial 1 failed, and why" $?
"$ks" ls run/runs/err >ls.out 2>&1
check "diverging trial: ksearch ls reads the study" $?
grep -Eq '^ +1 +failed' ls.out
check "diverging trial: ksearch ls lists trial 1 as failed" $? "$(cat ls.out)"
before=$(q "$db" "SELECT number, status, quote(started), quote(ended), error FROM trial ORDER BY number;")
(cd run && "$ks" good.yaml >out2 2>err2)
check "diverging trial: a rerun exits 0" $? "$(cat run/err2)"
after=$(q "$db" "SELECT number, status, quote(started), quote(ended), error FROM trial ORDER BY number;")
[[ $after == "$before" ]] && ! grep -q "^trial " run/out2
check "diverging trial: a rerun trains nothing again (a failed trial is final)" $?

# --- bad study files: bad NAME 'SED' 'EXPECTED TEXT' LINE
# each in an empty directory (nothing may be created) and beside the study above
# (its study.db must stay the same byte for byte)
sha=$(sha256sum "$db" | cut -d' ' -f1)
files_before=$(cd run && find . | sort)
bad() {
    local name=$1 edit=$2 want=$3 line=$4 out err rc
    sed "$edit" good.yaml > "$name.yaml"
    if cmp -s good.yaml "$name.yaml"; then
        check "$name: the file was changed (test set-up)" 1
        return
    fi
    mkdir -p "empty_$name" && cp "$name.yaml" "empty_$name/"
    (cd "empty_$name" && "$ks" "$name.yaml" >out 2>err)
    rc=$?
    err=$(cat "empty_$name/err")
    [[ $rc -eq 2 ]]
    check "$name: exit 2" $? "(rc $rc)"
    [[ $(grep -c . "empty_$name/err") -eq 1 && $err =~ ^$name\.yaml:$line:[0-9]+:\  && $err == *"$want"* ]]
    check "$name: one message $name.yaml:$line:COL: …$want…" $? "(got: $err)"
    [[ ! -s empty_$name/out && $(ls -A "empty_$name" | sort | paste -sd' ') == \
       "$(printf '%s\n' "$name.yaml" err out | sort | paste -sd' ')" ]]
    check "$name: nothing printed on stdout, nothing created (no runs/)" $? "($(ls "empty_$name"))"
    cp "$name.yaml" run/
    (cd run && "$ks" "$name.yaml" >/dev/null 2>err)
    rc=$?
    [[ $rc -eq 2 && $(sha256sum "$db" | cut -d' ' -f1) == "$sha" &&
       $(cd run && find . | sort) == "$(printf '%s\n' "$files_before" "./$name.yaml" | sort)" ]]
    check "$name: beside an existing study: exit 2, study.db and its directory unchanged" $? "(rc $rc)"
    rm -f "run/$name.yaml"
}
bad unknown_key 's/^  method: grid/  methd: grid/' \
    'search has no argument "methd" (did you mean "method"?)' 16
bad unknown_key2 's/^  method: grid/  method: grid\n  max_trial: 3/' \
    'has no argument "max_trial" (did you mean "max_trials"?)' 17
bad unknown_key3 's/    units: {values: \[8\]}/    units: {int: [8, 16], lg: true}/' \
    '"lg" (did you mean "log"?)' 19
bad unknown_section 's/^compile:/compille:/' \
    'unknown section "compille" (did you mean "compile"?)' 10
bad unknown_layer_key 's/activation: relu}/activaton: relu}/' \
    '"activaton" (did you mean "activation"?)' 8
bad undefined_ref 's/units: \$units, activation/units: $unit, activation/' \
    '$unit is not a parameter of search.parameters (did you mean $units?)' 8
bad unused_param 's/    units: {values: \[8\]}/    units: {values: [8]}\n    extra: {values: [1, 2]}/' \
    'extra is never used' 20
bad min_ge_max 's/    units: {values: \[8\]}/    units: {int: [16, 8]}/' 'MIN < MAX' 19
bad min_eq_max 's/    learning_rate: .*/    learning_rate: {float: [0.1, 0.1]}/' 'MIN < MAX' 20
bad log_min_zero 's/    learning_rate: .*/    learning_rate: {float: [0.0, 0.1], log: true, grid_points: 3}/' \
    'log needs MIN > 0' 20
bad log_min_negative 's/    learning_rate: .*/    learning_rate: {float: [-1.0, 0.1], log: true, grid_points: 3}/' \
    'log needs MIN > 0' 20
bad int_not_whole 's/    units: {values: \[8\]}/    units: {int: [4.5, 8]}/' 'whole numbers' 19
bad missing_data 's#rows: \[0, 1000\]#rows: [0, 1000]#; 4s#fashion-mnist/t10k#fashion-mnist/nothing-here#' \
    'fashion-mnist/nothing-here' 4
bad bad_param_value 's/    units: {values: \[8\]}/    units: {values: [8, 0]}/' \
    'with units = 0: Dense: units must be an integer >= 1' 8
bad float_inf 's/    learning_rate: .*/    learning_rate: {float: [1.0e-3, .inf]}/' \
    'the upper bound of float must be a finite number, got .inf' 20
bad dollar_key 's/  optimizer: {SGD: {learning_rate: \$learning_rate}}/  optimizer: {$opt: {learning_rate: $learning_rate}}/; s/    units: {values: \[8\]}/    units: {values: [8]}\n    opt: {values: [SGD, Adam]}/' \
    '$opt cannot be a key: a parameter stands for a value' 11
bad epochs_zero 's/fit: {epochs: 3,/fit: {epochs: 0,/' 'fit: epochs must be an integer >= 1, got 0' 14
bad initial_epoch_past 's/fit: {epochs: 3,/fit: {initial_epoch: 3, epochs: 3,/' \
    'initial_epoch (3) must be less than epochs (3)' 14
bad layer_does_not_fit 's/input_shape: \[28, 28\]/input_shape: [28, 27]/' \
    'training data has inputs of shape (None, 28, 28) but the model expects (None, 28, 27)' 7

# --- ksearch ls on what is not a good study database
cp "$db" good.db
ls_bad() {
    local name=$1 want=$2 file out rc sum
    file=$name.db
    sum=$(sha256sum "$file" | cut -d' ' -f1)
    "$ks" ls "$file" >out 2>err
    rc=$?
    out=$(cat err)
    [[ $rc -eq 2 && $(grep -c . err) -eq 1 && ! -s out && $out == "$file: "*"$want"* ]]
    check "ls $name: one message \"$file: …$want…\", exit 2" $? "(rc $rc: $out)"
    [[ $(sha256sum "$file" | cut -d' ' -f1) == "$sum" && ! -e $file-wal ]]
    check "ls $name: the file is left as it was" $?
}
printf 'name: not a database\n' > text.db
ls_bad text 'not a ksearch study database'
cp good.db truncated.db && truncate -s $(($(stat -c %s good.db) / 2)) truncated.db
ls_bad truncated 'damaged'
cp good.db overwritten.db
# noise over the trial table's root page (what ls reads first; damage inside a checkpoint
# blob is found when the checkpoint is loaded, by the model file's checksum)
head -c 4096 /dev/urandom > noise && RANDOM=3
page=$(sqlite3 good.db "PRAGMA page_size;") root=$(sqlite3 good.db "SELECT rootpage FROM sqlite_master WHERE name = 'trial';")
dd if=noise of=overwritten.db bs=1 seek=$(((root - 1) * page + 8)) conv=notrunc 2>/dev/null
ls_bad overwritten 'damaged'
cp good.db header.db && printf 'not sqlite at all' | dd of=header.db bs=1 conv=notrunc 2>/dev/null
ls_bad header 'not a ksearch study database'
cp good.db newer.db && q newer.db "UPDATE meta SET value = '99' WHERE key = 'schema_version';"
ls_bad newer 'newer ksearch (schema 99)'
sqlite3 other.db "CREATE TABLE t (x); INSERT INTO t VALUES (1);"
ls_bad other 'not a ksearch study database'
: > empty.db
ls_bad empty 'not a ksearch study database'
"$ks" ls good.db >out 2>err
check "ls on the good copy still works (the damage above was in the copies)" $? "$(cat err)"
echo "$passed passed, $failed failed"
