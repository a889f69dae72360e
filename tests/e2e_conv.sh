#!/usr/bin/env bash
# Convolutional models end to end, on a small slice of Fashion-MNIST with few filters:
# a Hyperband study of a CNN on (28, 28) IDX images read as (28, 28, 1) runs on two
# workers and records kernel histograms and the graph (study.db and TensorBoard); its
# ensemble file evaluates and predicts; `ksearch fit` saves a CNN that predicts, and
# resumes it with --from.  Without Fashion-MNIST (make deps installs it) it reports
# itself skipped.
set -u
set -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
fmnist=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d /tmp/ks_e2e_conv.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
if [[ ! -f $fmnist/train-images-idx3-ubyte.gz || ! -f $fmnist/t10k-images-idx3-ubyte.gz ]]; then
    echo "skipped: the convolutional models end to end: no Fashion-MNIST in $fmnist"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
fi

cat > "$tmp/cnn.yaml" <<YAML
name: cnn
seed: 5
data:
  train:      {idx: $fmnist/train, scale: 255, rows: [0, 1200]}
  validation: {idx: $fmnist/train, scale: 255, rows: [55000, 55400]}
  test:       {idx: $fmnist/t10k, scale: 255, rows: [0, 400]}
model:
  - Conv2D: {filters: \$filters, kernel_size: \$kernel_size, activation: relu, padding: same,
             input_shape: [28, 28, 1]}
  - MaxPooling2D: {pool_size: 2}
  - SeparableConv2D: {filters: 8, kernel_size: 3, activation: relu}
  - BatchNormalization: {}
  - MaxPooling2D: {pool_size: 2}
  - Flatten: {}
  - Dropout: {rate: \$dropout}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: \$lr}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 3, batch_size: 32, verbose: 0}
callbacks:
  - TensorBoard: {histogram_freq: 1}
search:
  method: hyperband
  metric: {name: val_accuracy, goal: maximize}
  parallel: 2
  max_epochs: 3
  factor: 3
  parameters:
    filters: {values: [4, 8]}
    kernel_size: {values: [3, 4]}
    dropout: {float: [0.1, 0.5]}
    lr: {float: [1.0e-3, 1.0e-2], log: true}
ensemble: {top: 3, weights: greedy}
YAML
cd "$tmp" || exit 1

out=$("$ks" cnn.yaml 2>&1); rc=$?
check "a Hyperband study of a CNN runs on two workers" $rc "$out"
n=$(sqlite3 runs/cnn/study.db "SELECT count(*) FROM trial WHERE status = 'complete';" 2>&1)
[[ $n =~ ^[0-9]+$ && $n -ge 3 ]]; check "complete trials in study.db ($n)" $?
tags=$(sqlite3 runs/cnn/study.db "SELECT DISTINCT tag FROM histogram ORDER BY tag;" 2>&1)
for t in conv2d/kernel conv2d/bias separable_conv2d/depthwise_kernel \
         separable_conv2d/pointwise_kernel batch_normalization/gamma dense/kernel; do
    grep -qx "$t/histogram" <<<"$tags"; check "study.db keeps the $t histogram" $? "$tags"
done
ev=$(find runs/cnn/tensorboard -name 'events.out.tfevents.*' | head -n 50 | xargs cat | strings)
grep -q "conv2d/kernel/histogram" <<<"$ev"; check "TensorBoard has the kernel histograms" $?
for op in Conv2D SeparableConv2D MaxPooling2D BatchNormalization; do
    grep -q "$op" <<<"$ev"; check "the TensorBoard graph has a $op node" $?
done

ens=runs/cnn/ensembles/best.ksm
[[ -f $ens ]]; check "the study saved its ensemble" $? "$(ls runs/cnn/ensembles 2>&1)"
ev=$("$ks" evaluate "$ens" cnn.yaml 2>&1); rc=$?
[[ $rc -eq 0 && $ev == loss:*accuracy:* ]]; check "the CNN ensemble evaluates" $? "($rc: $ev)"
"$ks" predict "$ens" "$fmnist/t10k" -o p.csv >/dev/null 2>&1
check "the CNN ensemble predicts on (28, 28) IDX images" $?
rows=$(awk 'END { print NR - 1 }' p.csv 2>/dev/null)
[[ $rows == 10000 ]]; check "10,000 rows of predictions ($rows)" $?

# one training: save, predict, resume from the file
sed -e 's/\$filters/6/; s/\$kernel_size/3/; s/\$dropout/0.2/; s/\$lr/0.003/' \
    -e '/^search:/,$d' cnn.yaml > one.yaml
out=$("$ks" fit one.yaml --no-record --threads 1 --verbose 2 --epochs 2 -o one.ksm 2>&1); rc=$?
check "ksearch fit trains and saves a CNN" $rc "$out"
grep -q "conv2d (Conv2D)  *(None, 28, 28, 6)  *60" <<<"$out"
check "the summary shows Keras's shapes" $? "$(grep conv2d <<<"$out")"
"$ks" predict one.ksm "$fmnist/t10k" -o one.csv >/dev/null 2>&1; check "the saved CNN predicts" $?
out=$("$ks" fit one.yaml --no-record --threads 1 --verbose 2 --from one.ksm --epochs 3 -o two.ksm 2>&1); rc=$?
check "ksearch fit --from a CNN file resumes" $rc "$out"
grep -q "^Epoch 3/3" <<<"$out"; check "training resumes at epoch 3" $? "$out"
echo "$passed passed, $failed failed, 0 skipped"
