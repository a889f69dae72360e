#!/usr/bin/env bash
# parity_functional.sh — ksearch against PyTorch on a functional model: the same
# two-input, two-output graph (wide & deep with a softmax auxiliary output, loss weights
# 0.9 / 0.1), the same initial weights (saved by a one-step `ksearch fit` at learning
# rate 1e-30, which leaves them as they were up to 1e-30; read by the script), the same batches without
# shuffling, 200 plain SGD steps.  Every step's total loss must agree within 1e-4
# relative and the final weights within 1e-4.  Installs python3-torch if missing (run as root); never run by the tests.
#   bash bench/parity_functional.sh [KSEARCH]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
ks=${1:-$root/build/ksearch}
python=/usr/bin/python3         # Debian's python, where python3-torch lives
if ! "$python" -c 'import torch, numpy' 2>/dev/null; then
    [[ $(id -u) -eq 0 ]] || { echo "parity_functional.sh: PyTorch is missing: run as root, or apt-get install python3-torch python3-numpy" >&2; exit 1; }
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-torch python3-numpy >/dev/null
fi
[[ -x $ks ]] || make -C "$root" -j2 >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# 192 rows of Friedman #1 (12 batches of 16), y, and a class c: y in thirds
awk -F, 'NR == 1 { print $0 ",c"; next } NR <= 193 { c = $11 < 11 ? 0 : ($11 < 16 ? 1 : 2); print $0 "," c }' \
    "$root/studies/data/friedman1.csv" > "$tmp/data.csv"
cat > "$tmp/parity.yaml" <<YAML
name: parity
seed: 11
data:
  train: {csv: data.csv, inputs: {wide: [x1, x2, x3, x4, x5], deep: [x3, x4, x5, x6, x7, x8]},
          targets: {main_output: y, aux_output: c}}
model:
  layers:
    - Input: {shape: [5], name: wide}
    - Input: {shape: [6], name: deep}
    - Dense: {units: 16, activation: relu, inputs: deep, name: hidden1}
    - Dense: {units: 16, activation: tanh, name: hidden2}
    - Concatenate: {inputs: [wide, hidden2]}
    - Dense: {units: 1, name: main_output}
    - Dense: {units: 3, activation: softmax, inputs: hidden2, name: aux_output}
  outputs: [main_output, aux_output]
compile:
  optimizer: {SGD: {learning_rate: 0.01}}
  loss: {main_output: mse, aux_output: sparse_categorical_crossentropy}
  loss_weights: {main_output: 0.9, aux_output: 0.1}
fit: {epochs: 200, steps_per_epoch: 1, batch_size: 16, shuffle: false, verbose: 0}
callbacks:
  - CSVLogger: {filename: losses.csv}
YAML
cd "$tmp"
# the initial weights: fit needs an epoch and a learning rate > 0, so one step at 1e-30:
# every glorot weight stays bit for bit (1e-30 * g is below half its last place), the zero
# biases move by 1e-30 * g (g < 1e3 here), far below the tolerances
sed 's/learning_rate: 0.01/learning_rate: 1.0e-30/' parity.yaml > init.yaml
"$ks" fit init.yaml --epochs 1 --no-record -o init.ksm >/dev/null
"$ks" fit parity.yaml --no-record -o final.ksm >/dev/null
"$python" "$here/parity_functional.py" "$tmp"
