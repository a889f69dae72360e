#!/usr/bin/env bash
# Functional models end to end: a model of two inputs and two outputs on CSV column
# groups through fit (Keras's multi-output log names, in study.db and TensorBoard),
# summary's "Connected to", evaluate and predict of every output from its model file, a
# warning for a layer nothing uses, a search over a functional model (its objective one
# output's loss; ls, show, compare and HParams with every output's names) with an
# ensemble of one named output, and a chain model file written by the code before graphs.
set -u -o pipefail
cd "$(dirname "$0")/.."
root=$PWD
ks=$(realpath "${KSEARCH:-./build/ksearch}")
data=${KS_TEST_DATA:-$root/tests}/data
tmp=$(mktemp -d /tmp/ks_e2e_functional.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
cd "$tmp"
cp "$data/f200.csv" .

cat > wd.yaml <<'YAML'
name: wd
seed: 4
data:
  train: {csv: f200.csv, rows: [0, 150], inputs: {wide: [x1, x2, x3], deep: [x2, x3, x4, x5, x6]},
          targets: {main_output: y, aux_output: y}}
  test:  {csv: f200.csv, rows: [150, 200], inputs: {wide: [x1, x2, x3], deep: [x2, x3, x4, x5, x6]},
          targets: {main_output: y, aux_output: y}}
  validation_split: 0.2
model:
  layers:
    - Input: {shape: [3], name: wide}
    - Input: {shape: [5], name: deep}
    - Dense: {units: 8, activation: relu, inputs: deep, name: hidden}
    - Concatenate: {inputs: [wide, hidden]}
    - Dense: {units: 1, name: main_output}
    - Dense: {units: 1, inputs: hidden, name: aux_output}
  outputs: [main_output, aux_output]
compile:
  optimizer: {Adam: {learning_rate: 0.01}}
  loss: mse
  loss_weights: [0.9, 0.1]
  metrics: [mae]
fit: {epochs: 3, batch_size: 16, verbose: 2}
callbacks:
  - EarlyStopping: {monitor: val_aux_output_loss, patience: 5}
  - TensorBoard: {}
YAML
out=$("$ks" fit wd.yaml -o wd.ksm 2>&1); rc=$?
check "fit of two inputs and two outputs exits 0" $rc "$out"
grep -qE "^ concatenate \(Concatenate\) +\(None, 11\) +0 +\['wide\[0\]\[0\]',$" <<<"$out"
check "summary: the functional table with Connected to" $? "$out"
grep -qE "^8/8 - [0-9]+s - loss: [0-9.]+ - main_output_loss: [0-9.]+ - aux_output_loss: [0-9.]+ - main_output_mae: [0-9.]+ - aux_output_mae: [0-9.]+ - val_loss: [0-9.]+ - val_main_output_loss: [0-9.]+ - val_aux_output_loss: [0-9.]+ - val_main_output_mae: [0-9.]+ - val_aux_output_mae: [0-9.]+ - " <<<"$out"
check "Keras's multi-output log names" $? "$out"
names=$(sqlite3 runs/wd/study.db "SELECT group_concat(name, ' ') FROM (SELECT DISTINCT name FROM metric WHERE step = -1 ORDER BY name);")
[[ $names == "aux_output_loss aux_output_mae iterations learning_rate loss main_output_loss main_output_mae val_aux_output_loss val_aux_output_mae val_loss val_main_output_loss val_main_output_mae" ]]
check "study.db holds every output's metrics" $? "$names"
tags=$(for f in runs/wd/tensorboard/validation/events.out.tfevents.*; do strings "$f"; done | grep -oE 'epoch_(main|aux)_output_(loss|mae)' | sort -u | tr '\n' ' ')
[[ $tags == "epoch_aux_output_loss epoch_aux_output_mae epoch_main_output_loss epoch_main_output_mae " ]]
check "TensorBoard scalars of every output" $? "$tags"
test_line=$(grep '^test:' <<<"$out")
ev=$("$ks" evaluate wd.ksm wd.yaml 2>&1 | tail -1)
[[ "test: ${ev//: / }" == "$test_line" || "test: $(sed 's/: / /g' <<<"$ev")" == "$test_line" ]]
check "evaluate of the saved model equals fit's test line" $? "'$ev' vs '$test_line'"
"$ks" predict wd.ksm wd.yaml -o p.csv >/dev/null 2>&1
check "predict exits 0" $?
[[ $(head -1 p.csv) == "main_output_y,aux_output_y" && $(wc -l < p.csv) -eq 51 ]]
check "predict writes every output" $? "$(head -2 p.csv)"
"$ks" predict wd.ksm wd.yaml --output aux_output -o a.csv >/dev/null 2>&1
[[ $(head -1 a.csv) == "y" && $(tail -n +2 a.csv | head -5) == $(tail -n +2 p.csv | head -5 | cut -d, -f2) ]]
check "predict --output writes the one asked for" $?
"$ks" predict wd.ksm wd.yaml --output nope >/dev/null 2>&1
[[ $? -eq 2 ]]; check "predict --output of an unknown output exits 2" $?

# a layer nothing uses: a warning at its place, as Keras warns, and training goes on
sed -e 's/^name: wd/name: wd_warn/' -e 's/^  outputs: \[main_output, aux_output\]/  outputs: [main_output]/' wd.yaml > warn.yaml
sed -i -e 's/targets: {main_output: y, aux_output: y}/targets: {main_output: y}/' -e '/loss_weights/d' -e '/EarlyStopping/d' warn.yaml
err=$("$ks" fit warn.yaml --no-save --no-record --epochs 1 2>&1 >/dev/null); rc=$?
check "a dangling layer is not an error" $rc "$err"
[[ $err == "warn.yaml:16:7: warning: the output of layer \"aux_output\" is not used by any layer or model output; it is left out of the model" ]]
check "the warning names the layer at its place" $? "$err"

# a search over a functional model; its ensemble combines the output it names
cat > search.yaml <<'YAML'
name: wds
seed: 5
data:
  train: {csv: f200.csv, rows: [0, 150], inputs: {wide: [x1, x2], deep: [x3, x4, x5]},
          targets: {main_output: y, aux_output: y}}
  test:  {csv: f200.csv, rows: [150, 200], inputs: {wide: [x1, x2], deep: [x3, x4, x5]},
          targets: {main_output: y, aux_output: y}}
  validation_split: 0.2
model:
  layers:
    - Input: {shape: [2], name: wide}
    - Input: {shape: [3], name: deep}
    - Dense: {units: $width, activation: relu, inputs: deep, name: hidden}
    - Concatenate: {inputs: [wide, hidden]}
    - Dense: {units: 1, name: main_output}
    - Dense: {units: 1, inputs: hidden, name: aux_output}
  outputs: [main_output, aux_output]
compile:
  optimizer: {Adam: {learning_rate: 0.01}}
  loss: mse
  loss_weights: {main_output: 1.0, aux_output: $aux}
fit: {epochs: 2, batch_size: 16, verbose: 0}
search:
  method: grid
  metric: {name: val_main_output_loss, goal: minimize}
  parallel: 2
  parameters:
    width: {values: [4, 8]}
    aux: {values: [0.1, 0.5]}
ensemble: {top: 3, weights: uniform, output: aux_output}
YAML
out=$("$ks" search.yaml 2>&1); rc=$?
check "a search over a functional model exits 0" $rc "$out"
[[ $out == *"every row scores the combined predictions of aux_output: its loss alone"* &&
   $(grep '^best single' <<<"$out") =~ trial\ [0-9]+$ ]]
check "the ensemble report scores its one output, no member's total called a penalty" $? "$out"
n=$(sqlite3 runs/wds/study.db "SELECT count(*) FROM trial WHERE status = 'complete';")
[[ $n -eq 4 ]]; check "4 complete trials" $? "$n"
ls_out=$("$ks" ls runs/wds 2>&1); rc=$?
head2=$(sed -n 2p <<<"$ls_out") row=$(sed -n 3p <<<"$ls_out")
end=${head2%%val_main_output_loss*}; end=$(( ${#end} + 20 ))     # where the name ends
[[ $rc -eq 0 && $ls_out == *"objective val_main_output_loss (min)"* &&
   $head2 == " trial  status       val_main_output_loss  epochs   duration  parameters" &&
   ${row:0:end} =~ \ [0-9]+\.[0-9]{4}$ && ${row:end:1} == " " ]]
check "ls: the objective of one output, its column as wide as its name" $? "$ls_out"
show_out=$("$ks" show runs/wds 0 2>&1); rc=$?
[[ $rc -eq 0 && $show_out == *"objective: val_main_output_loss = "* &&
   $show_out =~ epoch\ +loss\ +main_output_loss\ +aux_output_loss\ +val_loss\ +val_main_output_loss\ +val_aux_output_loss ]]
check "show: every output's losses per epoch" $? "$show_out"
cmp_out=$("$ks" compare runs/wds 0 1 2>&1); rc=$?
[[ $rc -eq 0 && $cmp_out == *"val_aux_output_loss#0  val_aux_output_loss#1"* ]]
check "compare: every output's losses side by side" $? "$cmp_out"
hp=$(for f in runs/wds/tensorboard/events.out.tfevents.*; do strings "$f"; done | grep -oE 'epoch_(main|aux)_output_loss' | sort -u | tr '\n' ' ')
[[ $hp == "epoch_aux_output_loss epoch_main_output_loss " ]]
check "the HParams experiment declares every output's losses" $? "$hp"
"$ks" predict runs/wds/ensembles/best.ksm search.yaml -o e.csv >/dev/null 2>&1
[[ $? -eq 0 && $(head -1 e.csv) == y && $(wc -l < e.csv) -eq 51 ]]
check "the ensemble predicts its one output" $?
sed 's/output: aux_output/output: aux/' search.yaml > bad_ens.yaml
err=$("$ks" bad_ens.yaml --fresh 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $err == *"bad_ens.yaml:30:46: ensemble.output names no output \"aux\" of the model"* ]]
check "an ensemble output the model lacks: one message, exit 2" $? "$rc $err"

# a chain model file written by ksearch before functional models loads and predicts alike
cp "$data/chain-v1.ksm" "$data/chain-v1.yaml" "$data/chain-v1.predictions.csv" .
"$ks" predict chain-v1.ksm chain-v1.yaml -o chain.csv >/dev/null 2>&1
check "an old chain file predicts" $?
cmp -s chain.csv chain-v1.predictions.csv; check "the same predictions as the code that wrote it" $?
ev=$("$ks" evaluate chain-v1.ksm chain-v1.yaml 2>&1 | tail -1)
[[ $ev == "loss: 115.3176 - mae: 9.7307" ]]; check "the same loss as the code that wrote it" $? "$ev"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
