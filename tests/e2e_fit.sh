#!/usr/bin/env bash
# ksearch fit / evaluate / predict end to end on a real Fashion-MNIST subset, and on
# the CSV regression study; damaged model files give one message and exit status 2.
# Without Fashion-MNIST (make deps installs it) its part is reported skipped.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=${KSEARCH:-./build/ksearch}
fmnist=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d /tmp/ks_e2e_fit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}
skip() {    # skip N WHY: N checks (or parts) that cannot run here
    skipped=$((skipped + $1)); echo "skipped: $2"
}

# regression on a CSV file (MSE, one linear output)
out=$("$ks" fit studies/friedman1_regression.yaml --epochs 30 -o "$tmp/r.ksm" 2>&1); rc=$?
check "regression fit exits 0" $rc "$out"
mae=$(grep '^test:' <<<"$out" | sed -E 's/.* mae ([0-9.]+).*/\1/')
[[ $mae =~ ^[0-9.]+$ ]] && awk -v m="$mae" 'BEGIN { exit !(m < 1.5) }'
check "regression test mae '$mae' < 1.5 (noise sd 1, target sd 4.9)" $?

if [[ ! -f $fmnist/t10k-images-idx3-ubyte.gz || ! -f $fmnist/train-images-idx3-ubyte.gz ]]; then
    skip 1 "the Fashion-MNIST part (fit, evaluate, predict, resume): not installed in $fmnist"
    echo "$passed passed, $failed failed, $skipped skipped"
    exit 0
fi

cat > "$tmp/small.yaml" <<YAML
name: small
seed: 3
data:
  train:      {idx: $fmnist/train, scale: 255, rows: [0, 4000]}
  validation: {idx: $fmnist/train, scale: 255, rows: [55000, 56000]}
  test:       {idx: $fmnist/t10k, scale: 255, rows: [0, 2000]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: 64, activation: relu}
  - Dropout: {rate: 0.2}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: 0.002}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 3, batch_size: 32, verbose: 2}
callbacks:
  - CSVLogger: {filename: $tmp/log.csv}
YAML

out=$("$ks" fit "$tmp/small.yaml" -o "$tmp/m.ksm" 2>&1); rc=$?
check "fit exits 0" $rc "$out"
grep -q '^Epoch 3/3$' <<<"$out"; check "epoch lines" $? "$out"
grep -qE '^125/125 - [0-9]+s - loss: [0-9.]+ - accuracy: [0-9.]+ - val_loss: [0-9.]+ - val_accuracy: [0-9.]+ - [0-9]+s/epoch - [0-9]+(us|ms)/step$' <<<"$out"
check "verbose 2 line as Keras writes it" $? "$out"
test_line=$(grep '^test:' <<<"$out")
acc=$(sed -E 's/.*accuracy ([0-9.]+).*/\1/' <<<"$test_line")
awk -v a="$acc" 'BEGIN { exit !(a > 0.75) }'; check "learns something (test accuracy $acc > 0.75)" $?
[[ $(wc -l < "$tmp/log.csv") -eq 4 ]]; check "CSVLogger: header + 3 rows" $?

# evaluate reads the test data through the run file and reports fit's numbers
out=$("$ks" evaluate "$tmp/m.ksm" "$tmp/small.yaml" 2>&1); rc=$?
ev=$(tail -n 1 <<<"$out")
check "evaluate exits 0" $rc "$out"
want=$(sed -E 's/^test: loss ([0-9.]+) - accuracy ([0-9.]+)$/loss: \1 - accuracy: \2/' <<<"$test_line")
[[ $ev == "$want" ]]; check "evaluate equals fit's test line" $? "got '$ev' want '$want'"

# predict on the raw IDX prefix applies the scale the model was trained with
"$ks" predict "$tmp/m.ksm" $fmnist/t10k -o "$tmp/p.csv" >/dev/null 2>&1
check "predict exits 0" $?
[[ $(head -1 "$tmp/p.csv") == class,p0,p1,p2,p3,p4,p5,p6,p7,p8,p9 && $(wc -l < "$tmp/p.csv") -eq 10001 ]]
check "predict writes a header and 10000 rows" $?
# the first 2000 labels against predict's classes (no pipeline that stops early: its
# writer's SIGPIPE would fail the pipeline under pipefail)
zcat "$fmnist/t10k-labels-idx1-ubyte.gz" > "$tmp/labels"; check "zcat the labels" $?
agree=$(paste -d, <(od -An -v -tu1 -w1 -j 8 -N 2000 "$tmp/labels") \
              <(sed -n '2,2001p' "$tmp/p.csv" | cut -d, -f1) |
        awk -F, '{ gsub(/ /, "", $1); if ($1 == $2) n++ } END { printf "%.4f/%d", n / NR, NR }')
check "labels and classes compared" $? "$agree"
[[ $agree == "$acc/2000" ]]; check "predict's classes give fit's test accuracy ($agree vs $acc/2000)" $?

# damaged model files: one message naming the file, exit 2
size=$(stat -c %s "$tmp/m.ksm")
head -c $((size / 2)) "$tmp/m.ksm" > "$tmp/cut.ksm"
msg=$("$ks" evaluate "$tmp/cut.ksm" "$tmp/small.yaml" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $msg == "$tmp/cut.ksm"*truncated* && $(wc -l <<<"$msg") -eq 1 ]]
check "truncated model file" $? "exit $rc: $msg"
cp "$tmp/m.ksm" "$tmp/flip.ksm"
printf '\x55' | dd of="$tmp/flip.ksm" bs=1 seek=$((size / 2)) conv=notrunc status=none
msg=$("$ks" predict "$tmp/flip.ksm" $fmnist/t10k 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $msg == "$tmp/flip.ksm"*checksum* ]]; check "damaged model file" $? "exit $rc: $msg"
msg=$("$ks" evaluate "$tmp/none.ksm" "$tmp/small.yaml" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $msg == *none.ksm* ]]; check "missing model file" $? "exit $rc: $msg"

# resume from the command line: 3 epochs, then --from that file to 6, equal to 6 in one run
# (the saved optimizer state and epoch continue; dropout and shuffling follow the epoch)
"$ks" fit "$tmp/small.yaml" --epochs 6 --verbose 0 --no-record -o "$tmp/six.ksm" >/dev/null 2>&1
check "fit 6 epochs" $?
out=$("$ks" fit "$tmp/small.yaml" --from "$tmp/m.ksm" --epochs 6 --verbose 2 --no-record \
      -o "$tmp/resumed.ksm" 2>&1); rc=$?
check "fit --from the 3-epoch model to epoch 6" $rc "$out"
grep -q '^Epoch 4/6$' <<<"$out" && ! grep -q '^Epoch 3/6$' <<<"$out"
check "--from resumes at the saved epoch (Epoch 4/6 first)" $? "$out"
"$ks" predict "$tmp/six.ksm" "$tmp/small.yaml" -o "$tmp/p6.csv" >/dev/null 2>&1
check "predict with the 6-epoch model" $?
"$ks" predict "$tmp/resumed.ksm" "$tmp/small.yaml" -o "$tmp/pr.csv" >/dev/null 2>&1
check "predict with the resumed model" $?
cmp -s "$tmp/p6.csv" "$tmp/pr.csv"
check "3 + 3 epochs predict exactly what 6 in one run predict" $?
msg=$("$ks" fit "$tmp/small.yaml" --from "$tmp/flip.ksm" 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $msg == "$tmp/flip.ksm"* ]]; check "--from a damaged file: exit 2" $? "exit $rc: $msg"

echo "$passed passed, $failed failed, $skipped skipped"
