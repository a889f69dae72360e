#!/usr/bin/env bash
# parity_rnn.sh — ksearch's recurrent layers against PyTorch's, with the weights mapped
# from ksearch's files (Keras's gate order and layout into PyTorch's; GRU's reset_after
# is PyTorch's form): (1) LSTM, GRU and SimpleRNN on random batches, with and without
# return_sequences: outputs (`ksearch predict`) and weight gradients (one SGD step of
# learning rate 1 over the whole batch) within 1e-4 relative; (2) 200 SGD steps of the
# row-wise Fashion-MNIST LSTM(128) from the same initial weights on the same batches:
# every step's loss within 1e-3 relative.  Installs python3-torch if missing (root);
# never run by the tests.
#   bash bench/parity_rnn.sh [KSEARCH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/lib.sh"
need_torch parity_rnn.sh
ks=${1:-$root/build/ksearch}
[[ -x $ks ]] || make -C "$root" -j2 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cd "$tmp"

# (1) random batches: 64 sequences of 10 steps of 6 features, targets for mse
"$python" "$here/parity_rnn.py" make-data "$tmp"
for cell in LSTM GRU SimpleRNN; do
    for seq in true false; do
        d=$tmp/$cell-$seq
        mkdir -p "$d"
        cat > "$d/model.yaml" <<YAML
name: parity
seed: 7
data:
  train: {npy: {x: $tmp/x.npy, y: $tmp/y_$seq.npy}}
model:
  - Input: {shape: [10, 6]}
  - $cell: {units: 8, return_sequences: $seq}
compile: {optimizer: {SGD: {learning_rate: 1.0}}, loss: mse}
fit: {epochs: 1, batch_size: 64, shuffle: false, verbose: 0}
YAML
        # the initial weights: fit needs an epoch and a learning rate > 0, so one step at
        # 1e-30 (the random weights stay bit for bit, the zero biases move by 1e-30·g)
        sed 's/learning_rate: 1.0}/learning_rate: 1.0e-30}/' "$d/model.yaml" > "$d/init.yaml"
        (cd "$d" && "$ks" fit init.yaml --no-record -o init.ksm >/dev/null &&
            "$ks" fit model.yaml --no-record -o final.ksm >/dev/null &&
            "$ks" predict init.ksm "$tmp/x.npy" -o pred.csv >/dev/null)
    done
done
[[ -n ${PARITY_ROWS_ONLY:-} ]] || "$python" "$here/parity_rnn.py" random "$tmp"

# (2) the row-wise Fashion-MNIST LSTM, 200 steps of batch 32 in order
cat > "$tmp/rows.yaml" <<YAML
name: rows
seed: 3
data:
  train: {idx: /usr/share/datasets/fashion-mnist/train, scale: 255, rows: [0, 6400]}
model:
  - Input: {shape: [28, 28]}
  - LSTM: {units: 128}
  - Dense: {units: 10, activation: softmax}
compile: {optimizer: {SGD: {learning_rate: 0.05}}, loss: sparse_categorical_crossentropy}
fit: {epochs: 200, steps_per_epoch: 1, batch_size: 32, shuffle: false, verbose: 0}
callbacks:
  - CSVLogger: {filename: losses.csv}
YAML
sed 's/learning_rate: 0.05}/learning_rate: 1.0e-30}/' rows.yaml > rows_init.yaml
"$ks" fit rows_init.yaml --epochs 1 --no-record -o rows_init.ksm >/dev/null
"$ks" fit rows.yaml --no-record -o rows_final.ksm >/dev/null
"$python" "$here/parity_rnn.py" rows "$tmp" ${PARITY_VERBOSE:+-v}
