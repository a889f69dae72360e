#!/usr/bin/env bash
# Users' own CSV data end to end: Normalization and StringLookup inside the model (a
# categorical column, statistics and vocabulary from the training rows, kept in the model
# file), target standardization, evaluate and predict reading the columns by name in any
# order (identical results), named prediction columns (a regressor's value, a binary
# classifier's class and both probabilities), the data scale shared by every split (fit's
# test line and evaluate agree), the ONNX export's refusal of a lookup; and bad input —
# a categorical column given to Dense, a CSV missing a training column, a split with its
# own scale — each one message, exit status 2, nothing written.
set -u
set -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_prep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}
cd "$tmp"

# 300 houses: area, rooms, a city (a category), the price (thousands) and whether it is
# above 400; the same formula every run (no random numbers)
awk 'BEGIN {
    split("lyon paris nice brest", city, " "); split("20 180 60 -40", bonus, " ");
    print "area,rooms,city,price,expensive";
    for (i = 1; i <= 300; i++) {
        area = 40 + (i * 37) % 160; rooms = 1 + (i * 7) % 5; c = 1 + (i * 13) % 4;
        noise = ((i * 7919) % 101 - 50) / 2;
        price = 1.5 * area + 30 * rooms + bonus[c] + noise;
        printf "%d,%d,%s,%.1f,%d\n", area, rooms, city[c], price, (price > 400);
    }
}' > houses.csv
head -1 houses.csv > train.csv; sed -n '2,241p' houses.csv >> train.csv
head -1 houses.csv > test.csv; sed -n '242,301p' houses.csv >> test.csv
# the test rows with the columns in another order, and without the targets
awk -F, -v OFS=, '{ print $4, $3, $5, $2, $1 }' test.csv > shuffled.csv
cut -d, -f1-3 test.csv > inputs_only.csv
cut -d, -f1,3,4 test.csv > no_rooms.csv

# ------------------------------------------------- regression: Normalization, StringLookup

cat > price.yaml <<'YAML'
name: price
seed: 3
data:
  train: {csv: train.csv, inputs: {num: [area, rooms], city: [city]}, targets: {price: price},
          text: [city]}
  test:  {csv: test.csv, inputs: {num: [area, rooms], city: [city]}, targets: {price: price},
          text: [city]}
  validation_split: 0.2
model:
  layers:
    - Input: {shape: [2], name: num}
    - Input: {shape: [1], dtype: string, name: city}
    - Normalization: {inputs: num, name: norm}
    - StringLookup: {inputs: city, name: lookup, max_tokens: 6, output_mode: one_hot}
    - Concatenate: {inputs: [norm, lookup], name: both}
    - Dense: {units: 16, activation: relu}
    - Dense: {units: 1}
    - Normalization: {invert: true, name: price}
  outputs: [price]
compile:
  optimizer: {Adam: {learning_rate: 0.02}}
  loss: mse
  metrics: [mae]
fit: {epochs: 40, batch_size: 16, verbose: 2}
YAML
out=$("$ks" fit price.yaml -o price.ksm --no-record 2>&1); rc=$?
check "fit of Normalization + StringLookup exits 0" $rc "$out"
test_line=$(grep '^test:' <<<"$out")
mae=$(sed -E 's/.*mae ([0-9.]+).*/\1/' <<<"$test_line")
awk -v a="$mae" 'BEGIN { exit !(a < 25) }'; check "learns the price (test mae $mae < 25)" $? "$test_line"

ev=$("$ks" evaluate price.ksm test.csv 2>&1 | tail -1); rc=$?
check "evaluate on a CSV by the recorded columns exits 0 (no --target)" $rc "$ev"
want=$(sed -E 's/^test: loss ([0-9.]+) - mae ([0-9.]+)$/loss: \1 - mae: \2/' <<<"$test_line")
[[ $ev == "$want" ]]; check "evaluate equals fit's test line" $? "got '$ev' want '$want'"
ev2=$("$ks" evaluate price.ksm shuffled.csv 2>&1 | tail -1); rc=$?
[[ $rc -eq 0 && $ev2 == "$ev" ]]; check "columns in another order: the same metrics" $? "'$ev2' vs '$ev'"

"$ks" predict price.ksm test.csv -o p1.csv >/dev/null 2>&1; check "predict exits 0" $?
"$ks" predict price.ksm shuffled.csv -o p2.csv >/dev/null 2>&1; check "predict (shuffled) exits 0" $?
"$ks" predict price.ksm inputs_only.csv -o p3.csv >/dev/null 2>&1; check "predict without the target column exits 0" $?
cmp -s p1.csv p2.csv && cmp -s p1.csv p3.csv; check "identical predictions in any column order" $?
[[ $(head -1 p1.csv) == price && $(wc -l < p1.csv) -eq 61 ]]
check "a regressor's column is named after its target" $? "$(head -2 p1.csv)"
# the predictions are in the targets' units (the inverted Normalization undoes the
# standardization): their mean absolute error against the prices is evaluate's mae
pm=$(paste -d, <(tail -n +2 test.csv | cut -d, -f4) <(tail -n +2 p1.csv) |
     awk -F, '{ s += ($1 > $2 ? $1 - $2 : $2 - $1) } END { printf "%.4f", s / NR }')
[[ "mae: $pm" == "${ev##* - }" ]]; check "predictions in the targets' units (mae $pm)" $? "$ev"

# bad input: a CSV without a training column; evaluate without the target
err=$("$ks" predict price.ksm no_rooms.csv -o bad.csv 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'no_rooms.csv:1:1: the header has no column "rooms", which the model was trained on'* && ! -e bad.csv ]]
check "a CSV missing a training column: named, exit 2, nothing written" $? "$rc $err"
[[ $(grep -c . <<<"$err") -eq 1 ]]; check "one message" $? "$err"
err=$("$ks" evaluate price.ksm inputs_only.csv 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'the header has no column "price", the target the model was trained with'* ]]
check "evaluate without the target column names it, exit 2" $? "$rc $err"

# the lookup stays in the .ksm model: the ONNX export refuses it, naming the layer
err=$("$ks" export price.ksm --onnx price.onnx 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'layer "lookup" is a StringLookup, which the ONNX export does not support'* && ! -e price.onnx ]]
check "ONNX: a StringLookup is refused by name, nothing written" $? "$rc $err"

# ------------------------------------------- binary classifier, standardize_targets, scale

cut -d, -f1,2,5 train.csv > tr_num.csv; cut -d, -f1,2,5 test.csv > te_num.csv
cat > cls.yaml <<'YAML'
name: cls
seed: 3
data:
  train: {csv: tr_num.csv, target: expensive, scale: 10}
  test:  {csv: te_num.csv, target: expensive}
model:
  - Normalization: {input_shape: [2]}
  - Dense: {units: 8, activation: relu}
  - Dense: {units: 1, activation: sigmoid}
compile:
  optimizer: {Adam: {learning_rate: 0.02}}
  loss: binary_crossentropy
  metrics: [accuracy]
fit: {epochs: 20, batch_size: 16, verbose: 2}
YAML
out=$("$ks" fit cls.yaml -o cls.ksm --no-record 2>&1); rc=$?
check "fit of the binary classifier exits 0" $rc "$out"
test_line=$(grep '^test:' <<<"$out")
ev=$("$ks" evaluate cls.ksm te_num.csv 2>&1 | tail -1)
want=$(sed -E 's/^test: loss ([0-9.]+) - accuracy ([0-9.]+)$/loss: \1 - accuracy: \2/' <<<"$test_line")
[[ $ev == "$want" ]]
check "train's scale applies to the test split: fit's test line equals evaluate" $? "'$ev' vs '$want'"
"$ks" predict cls.ksm te_num.csv -o pc.csv >/dev/null 2>&1; check "predict exits 0" $?
[[ $(head -1 pc.csv) == expensive,expensive_prob_0,expensive_prob_1 ]]
check "a binary classifier: its class and both probabilities, named" $? "$(head -1 pc.csv)"
awk -F, 'NR > 1 { if (($1 == ($3 >= 0.5)) && ($2 + $3 > 0.99999) && ($2 + $3 < 1.00001)) ok++ }
         END { exit !(ok == NR - 1) }' pc.csv
check "class = (p >= 0.5), the probabilities sum to 1" $?

sed 's/test:  {csv: te_num.csv, target: expensive}/test:  {csv: te_num.csv, target: expensive, scale: 5}/' cls.yaml > cls5.yaml
err=$("$ks" fit cls5.yaml -o cls5.ksm --no-record 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'cls5.yaml:5:'*'test has scale 5 but train'\''s scale is 10: the scale applies to every split'* && ! -e cls5.ksm ]]
check "a split with a scale of its own: refused, exit 2" $? "$rc $err"

# standardize_targets: a Sequential regressor learns standardized prices, predicts prices
cut -d, -f1,2,4 train.csv > tr_reg.csv; cut -d, -f1,2,4 test.csv > te_reg.csv
cat > reg.yaml <<'YAML'
name: reg
seed: 3
data:
  train: {csv: tr_reg.csv, target: price}
  test:  {csv: te_reg.csv, target: price}
  standardize_targets: true
model:
  - Normalization: {input_shape: [2]}
  - Dense: {units: 16, activation: relu}
  - Dense: {units: 1}
compile:
  optimizer: {Adam: {learning_rate: 0.02}}
  loss: mse
  metrics: [mae]
fit: {epochs: 30, batch_size: 16, verbose: 2}
YAML
out=$("$ks" fit reg.yaml -o reg.ksm --no-record 2>&1); rc=$?
check "fit with standardize_targets exits 0" $rc "$out"
grep -q '^ target_standardization (Nor' <<<"$out"; check "the summary shows the layer it adds" $? "$out"
mae=$(grep '^test:' <<<"$out" | sed -E 's/.*mae ([0-9.]+).*/\1/')
# the city, which this model does not see, leaves a mae of about 60; the mean alone
# (what a model in the wrong units comes nowhere near either) about 100
mad=$(tail -n +2 te_reg.csv | awk -F, '{ y[NR] = $3; s += $3 } END { m = s / NR; for (i in y) d += (y[i] > m ? y[i] - m : m - y[i]); printf "%.4f", d / NR }')
awk -v a="$mae" -v b="$mad" 'BEGIN { exit !(a < 0.8 * b) }'
check "test mae $mae in the targets' units, below 0.8 × the mean's ($mad)" $?

# ----------------------------------------------------- categorical columns without a lookup

cat > dense.yaml <<'YAML'
name: dense
data:
  train: {csv: train.csv, inputs: {x: [city]}, targets: {out: price}, text: [city]}
model:
  layers:
    - Input: {shape: [1], dtype: string, name: x}
    - Dense: {units: 1, name: out}
compile: {optimizer: adam, loss: mse}
YAML
err=$("$ks" fit dense.yaml -o dense.ksm --no-record 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'dense.yaml:7:'*'input "x" is text (dtype: string); only a layer that reads text can take it, not Dense: categories go through a StringLookup'* && ! -e dense.ksm ]]
check "a categorical column into Dense: refused at the layer, StringLookup suggested" $? "$rc $err"
[[ $(grep -c . <<<"$err") -eq 1 ]]; check "one message" $? "$err"
cat > nolookup.yaml <<'YAML'
name: nolookup
data:
  train: {csv: train.csv, target: price}
model:
  - Dense: {units: 1}
compile: {optimizer: adam, loss: mse}
YAML
err=$("$ks" fit nolookup.yaml -o nl.ksm --no-record 2>&1); rc=$?
[[ $rc -eq 2 && $err == *'train.csv:2:3: cell "'*'" in column "city" is not a number; a column of categories is read as text (data: text: [city]) into an Input of dtype string and a StringLookup'* && ! -e nl.ksm ]]
check "a categorical column read as numbers: the column, FILE:LINE:COL, StringLookup" $? "$rc $err"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
