#!/usr/bin/env bash
# Text end to end: a CSV text column read by TextVectorization (its vocabulary learned
# from the training rows when fit starts and kept in the model file), an Embedding and a
# GRU, through ksearch fit, evaluate and predict on new text, a search and its ensemble,
# the ONNX export; text given where numbers are expected, one message and exit status 2.
set -u
set -o pipefail
cd "$(dirname "$0")/.."
ks=${KSEARCH:-./build/ksearch}
data=$PWD/studies/data/debian_packages.csv
tmp=$(mktemp -d /tmp/ks_e2e_text.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}

cat > "$tmp/text.yaml" <<YAML
name: text
seed: 5
data:
  train: {csv: $data, target: label, text: text, rows: [0, 1800]}
  test:  {csv: $data, target: label, text: text, rows: [3000, 3600]}
  validation_split: 0.1
model:
  - Input: {shape: [1], dtype: string}
  - TextVectorization: {max_tokens: 3000, output_sequence_length: 12}
  - Embedding: {input_dim: 3000, output_dim: 16}
  - GRU: {units: 16}
  - Dense: {units: 6, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: 0.01}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 4, batch_size: 32, verbose: 2}
YAML

out=$("$ks" fit "$tmp/text.yaml" -o "$tmp/m.ksm" --no-record 2>&1); rc=$?
check "fit exits 0" $rc "$out"
grep -q 'text_vectorization (TextVec' <<<"$out"; check "summary lists the TextVectorization" $? "$out"
test_line=$(grep '^test:' <<<"$out")
acc=$(sed -E 's/.*accuracy ([0-9.]+).*/\1/' <<<"$test_line")
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }'; check "learns (test accuracy $acc > 0.5, chance 0.167)" $?

# evaluate reloads the model: the vocabulary comes from its file, the numbers are fit's
ev=$("$ks" evaluate "$tmp/m.ksm" "$tmp/text.yaml" 2>&1 | tail -1); rc=$?
check "evaluate exits 0" $rc "$ev"
want=$(sed -E 's/^test: loss ([0-9.]+) - accuracy ([0-9.]+)$/loss: \1 - accuracy: \2/' <<<"$test_line")
[[ $ev == "$want" ]]; check "evaluate equals fit's test line" $? "got '$ev' want '$want'"

# predict on the test rows' CSV (label as the target) agrees with fit's accuracy
{ head -1 "$data"; sed -n '3002,3601p' "$data"; } > "$tmp/test.csv"
"$ks" predict "$tmp/m.ksm" "$tmp/test.csv" --target label -o "$tmp/p.csv" >/dev/null 2>&1
check "predict exits 0" $?
[[ $(wc -l < "$tmp/p.csv") -eq 601 ]]; check "predict writes a header and 600 rows" $?
agree=$(paste -d, <(tail -n +2 "$tmp/test.csv" | cut -d, -f1) <(tail -n +2 "$tmp/p.csv" | cut -d, -f1) |
        awk -F, '{ if ($1 == $2) n++ } END { printf "%.4f", n / NR }')
[[ $agree == "$acc" ]]; check "predict's classes give fit's test accuracy ($agree vs $acc)" $?

# new text, never seen, with words out of the vocabulary; the same file twice, same bytes
printf 'text\n"a puzzle game, with levels!"\nFONTS for Arabic script\nzzqx unknownword\n"Tool to capture network packets"\n' > "$tmp/new.csv"
"$ks" predict "$tmp/m.ksm" "$tmp/new.csv" -o "$tmp/n1.csv" >/dev/null 2>&1; rc1=$?
"$ks" predict "$tmp/m.ksm" "$tmp/new.csv" -o "$tmp/n2.csv" >/dev/null 2>&1; rc2=$?
[[ $rc1 -eq 0 && $rc2 -eq 0 && $(wc -l < "$tmp/n1.csv") -eq 5 ]]; check "predict on new text" $? "$(cat "$tmp/n1.csv" 2>/dev/null)"
cmp -s "$tmp/n1.csv" "$tmp/n2.csv"; check "the same text gives the same predictions" $?

# a search over the text model, and its ensemble reading new text (each member with the
# vocabulary it learned)
sed -e 's/^name: text$/name: text_search/' -e 's/units: 16}/units: $units}/' \
    -e 's/verbose: 2}/verbose: 0}/' "$tmp/text.yaml" > "$tmp/search.yaml"
cat >> "$tmp/search.yaml" <<YAML
search:
  method: random
  metric: {name: val_accuracy, goal: maximize}
  max_trials: 2
  parameters:
    units: {int: [4, 16]}
ensemble: {top: 2, weights: [greedy]}
YAML
(cd "$tmp" && "$ks" search.yaml --parallel 1 > search.log 2>&1); rc=$?
check "a search over the text model" $rc "$(tail -5 "$tmp/search.log")"
"$ks" predict "$tmp/runs/text_search/ensembles/best.ksm" "$tmp/new.csv" -o "$tmp/e.csv" >/dev/null 2>&1
rc=$?
[[ $rc -eq 0 && $(wc -l < "$tmp/e.csv") -eq 5 ]]; check "the ensemble predicts new text" $? "exit $rc"
msg=$("$ks" export "$tmp/runs/text_search/ensembles/best.ksm" --onnx "$tmp/e.onnx" 2>&1); rc=$?
[[ $rc -eq 2 && $msg == *"reads text"*"export the members one by one"* && ! -e $tmp/e.onnx ]]
check "an ensemble of text models is not exported to ONNX (a vocabulary each)" $? "exit $rc: $msg"
# one text model exports: its graph takes the TextVectorization's ids
"$ks" export "$tmp/m.ksm" --onnx "$tmp/m.onnx" >/dev/null 2>&1; rc=$?
check "a text model without mask exports" $rc

# text where numbers are expected, and numbers where text is: one message, exit 2
printf 'a\n1\n3\n' > "$tmp/numbers.csv"
msg=$("$ks" predict "$tmp/m.ksm" "$tmp/numbers.csv" -o "$tmp/x.csv" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $(wc -l <<<"$msg") -eq 1 && $msg == *'numbers.csv:1:1: the header has no column "text", which the model was trained on'* && ! -e $tmp/x.csv ]]
check "a CSV without the text column the model was trained on" $? "exit $rc: $msg"
printf 'text
1
3
' > "$tmp/numbers.csv"
msg=$("$ks" predict "$tmp/m.ksm" "$tmp/numbers.csv" -o "$tmp/x.csv" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 0 && $(wc -l < "$tmp/x.csv") -eq 3 ]]
check "a text column of digits is text to a text model" $? "exit $rc: $msg"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
