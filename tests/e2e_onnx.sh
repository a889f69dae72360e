#!/usr/bin/env bash
# ksearch export --onnx end to end: models trained with `ksearch fit` (dense ones,
# convolutional ones of every layer kind that lowers itself, channels last → NCHW,
# recurrent ones, masked ones over token ids padded with 0) and
# ensembles made with `ksearch ensemble` on a Fashion-MNIST subset, exported, run by
# onnxruntime-node on 1,000 test images and compared with `ksearch predict` (every class
# equal, every probability within 1e-5); bad files give one message and exit status 2.
# onnxruntime-node is installed once into $KS_ONNX_NPM (default /tmp/ks_onnx_npm) and
# reused; without npm, or offline without that cache, the script reports "skipped".
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=${KSEARCH:-./build/ksearch}
ks=$(cd "$(dirname "$ks")" && pwd)/$(basename "$ks")
ort_dir=${KS_ONNX_NPM:-/tmp/ks_onnx_npm}
fmnist=/usr/share/datasets/fashion-mnist
passed=0 failed=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}
skip() {    # the whole script cannot run here: one skipped part, never a pass
    echo "skipped: $1"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}

command -v node >/dev/null && command -v npm >/dev/null || skip "node/npm not available"
[[ -f $fmnist/t10k-images-idx3-ubyte.gz ]] || skip "no Fashion-MNIST in $fmnist"
have_ort() { node -e "require('$ort_dir/node_modules/onnxruntime-node')" >/dev/null 2>&1; }
if ! have_ort; then
    mkdir -p "$ort_dir"
    # the CPU runtime is in the npm package; its install script only fetches GPU extras
    timeout 600 npm install --prefix "$ort_dir" --no-audit --no-fund --ignore-scripts \
        onnxruntime-node >"$ort_dir/install.log" 2>&1
    have_ort || skip "onnxruntime-node could not be installed (offline?); see $ort_dir/install.log"
fi

tmp=$(mktemp -d /tmp/ks_e2e_onnx.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# ---------------------------------------------------------------- helpers (node)

# The first 1,000 test images, scaled by 1/255 (or by argv[4]), as a float32 .npy that
# both sides read.
cat > make_npy.js <<'JS'
const fs = require('fs'), zlib = require('zlib');
const raw = zlib.gunzipSync(fs.readFileSync(process.argv[2]));
const n = 1000, d = 784, x = new Float32Array(n * d);
const div = Number(process.argv[4] || 255);
for (let i = 0; i < n * d; i++) x[i] = raw[16 + i] / div;
let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + n + ", 28, 28), }";
while ((10 + h.length + 1) % 64) h += ' ';
h += '\n';
const head = Buffer.alloc(10);
head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
fs.writeFileSync(process.argv[3], Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(x.buffer)]));
JS

# Run an ONNX model on the .npy (fed to every input) and compare each output with
# predict's columns for it (class, p0… for one output; NAME_class, NAME_p0… for several):
# prints "outputs … inputs … max_abs_diff N classes_equal E/T" and exits 0 when all agree
# within 1e-5.
cat > compare.js <<'JS'
const fs = require('fs');
const ort = require(process.env.ORT_DIR + '/node_modules/onnxruntime-node');
(async () => {
  const [model, npy, csv, dims] = process.argv.slice(2);
  const b = fs.readFileSync(npy), hl = b.readUInt16LE(8), off = 10 + hl;
  const x = new Float32Array(b.buffer.slice(b.byteOffset + off, b.byteOffset + b.length));
  const shape = (dims || '28,28').split(',').map(Number);
  const n = x.length / shape.reduce((a, d) => a * d, 1);
  const s = await ort.InferenceSession.create(model);
  const feeds = {};
  for (const name of s.inputNames) feeds[name] = new ort.Tensor('float32', x, [n].concat(shape));
  const r = await s.run(feeds);
  const lines = fs.readFileSync(csv, 'utf8').trim().split('\n');
  const head = lines[0].split(','), rows = lines.slice(1).map(l => l.split(',').map(Number));
  if (rows.length !== n) throw new Error('predict gave ' + rows.length + ' rows, ONNX ' + n);
  const one = s.outputNames.length === 1;
  let maxd = 0, same = 0, total = 0;
  for (const name of s.outputNames) {
    const y = r[name], k = y.dims[1], c0 = head.indexOf(one ? 'class' : name + '_class');
    if (c0 < 0 || y.dims.length !== 2 || y.dims[0] !== n)
      throw new Error('output ' + name + ' dims ' + y.dims);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 0; j < k; j++) {
        maxd = Math.max(maxd, Math.abs(y.data[i * k + j] - rows[i][c0 + 1 + j]));
        if (y.data[i * k + j] > y.data[i * k + best]) best = j;
      }
      if (best === rows[i][c0]) same++;
      total++;
    }
  }
  console.log('outputs ' + s.outputNames.join(' ') + ' inputs ' + s.inputNames.join(' ') +
              ' max_abs_diff ' + maxd.toExponential(2) + ' classes_equal ' + same + '/' + total);
  process.exit(same === total && total === s.outputNames.length * n && maxd <= 1e-5 ? 0 : 1);
})().catch(e => { console.log('error: ' + e); process.exit(2); });
JS

node make_npy.js "$fmnist/t10k-images-idx3-ubyte.gz" x.npy
check "test images written as .npy" $?

# export FILE.ksm, then compare onnxruntime with ksearch predict on the same floats
compare() {   # compare NAME FILE.ksm [X.npy] [INPUT_DIMS, e.g. 28,28,1]
    local out rc x=${3:-x.npy}
    out=$("$ks" export "$2" --onnx "$1.onnx" 2>&1); rc=$?
    check "$1: export exits 0" $rc "$out"
    "$ks" predict "$2" "$x" --scale 1 -o "$1.csv" >/dev/null 2>&1
    check "$1: predict exits 0" $?
    out=$(ORT_DIR=$ort_dir node compare.js "$1.onnx" "$x" "$1.csv" ${4:-} 2>&1); rc=$?
    echo "$1: onnxruntime vs ksearch predict: $out"
    check "$1: onnxruntime agrees with predict" $rc "$out"
}

# ---------------------------------------------------------------- single models

data='  train: {idx: '$fmnist'/train, scale: 255, rows: [0, 5000]}
  validation: {idx: '$fmnist'/train, scale: 255, rows: [55000, 56000]}
  test: {idx: '$fmnist'/t10k, scale: 255, rows: [1000, 3000]}'
tail_cfg='compile:
  optimizer: {Adam: {learning_rate: 0.002}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 2, batch_size: 32, verbose: 0}'

cat > mlp.yaml <<YAML
name: onnx_mlp
seed: 11
data:
$data
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: 64, activation: relu}
  - BatchNormalization: {}
  - Dropout: {rate: 0.2}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML

# every other activation, an Activation layer, BatchNormalization without scale/center
# and on the 2-d input (normalizing its last axis), a kernel without bias
cat > acts.yaml <<YAML
name: onnx_acts
seed: 12
data:
$data
model:
  - InputLayer: {shape: [28, 28]}
  - BatchNormalization: {}
  - Flatten: {}
  - Dense: {units: 32, activation: selu}
  - Dense: {units: 32, activation: elu, use_bias: false}
  - BatchNormalization: {center: false, scale: false}
  - Dense: {units: 24, activation: softplus}
  - Dense: {units: 16, activation: tanh}
  - Dense: {units: 16, activation: sigmoid}
  - Dense: {units: 10}
  - Activation: {activation: softmax}
$tail_cfg
YAML

for name in mlp acts; do
    out=$("$ks" fit $name.yaml -o $name.ksm --threads 1 --no-record 2>&1)
    check "$name: fit exits 0" $? "$out"
    compare "$name" $name.ksm
done

# ---------------------------------------------------------------- sequence models

# the images as sequences of 28 rows: ONNX's LSTM, GRU (reset_after) and RNN
# with Keras's gates reordered, go_backwards, Bidirectional's merge modes, stacked layers
# returning sequences, no bias; an Embedding (Gather) over the raw pixel values as token ids
seq_model() {   # seq_model NAME SEED LAYERS...
    local name=$1 seed=$2
    shift 2
    { printf 'name: onnx_%s\nseed: %s\ndata:\n%s\nmodel:\n  - Input: {shape: [28, 28]}\n' \
          "$name" "$seed" "$data"
      for layer in "$@"; do printf '  - %s\n' "$layer"; done
      printf '  - Dense: {units: 10, activation: softmax}\n%s\n' "$tail_cfg"; } > "$name.yaml"
    out=$("$ks" fit "$name.yaml" -o "$name.ksm" --threads 1 --no-record --epochs 1 2>&1)
    check "$name: fit exits 0" $? "$out"
}
seq_model lstm 21 "LSTM: {units: 12, return_sequences: true}" "LSTM: {units: 8, go_backwards: true}"
seq_model gru 22 "GRU: {units: 12, return_sequences: true}" \
    "GRU: {units: 8, use_bias: false}"
seq_model rnn 23 "SimpleRNN: {units: 16}"
seq_model bi_concat 24 "Bidirectional: {layer: {LSTM: {units: 8, return_sequences: true}}}" \
    "Bidirectional: {layer: {GRU: {units: 6}}, merge_mode: sum}"
seq_model bi_ave 25 "Bidirectional: {layer: {GRU: {units: 6, return_sequences: true}}, merge_mode: ave}" \
    "Bidirectional: {layer: {SimpleRNN: {units: 5}}, merge_mode: mul}"
for name in lstm gru rnn bi_concat bi_ave; do
    compare "$name" $name.ksm
done
node make_npy.js "$fmnist/t10k-images-idx3-ubyte.gz" ids.npy 1
check "test images' raw pixels written as .npy" $?
cat > embed.yaml <<YAML
name: onnx_embed
seed: 26
data:
  train: {idx: $fmnist/train, rows: [0, 3000]}
model:
  - Input: {shape: [28, 28], dtype: int32}
  - Embedding: {input_dim: 256, output_dim: 2}
  - Flatten: {}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
out=$("$ks" fit embed.yaml -o embed.ksm --threads 1 --no-record --epochs 1 2>&1)
check "embed: fit exits 0" $? "$out"
compare embed embed.ksm ids.npy
# preprocessing inside the model: Normalization adapted on the training rows (Sub, Div),
# its inverse (Mul, Add), and CategoryEncoding's counts of the raw pixel values (OneHot,
# ReduceSum) — a histogram of each image
cat > prep.yaml <<YAML
name: onnx_prep
seed: 28
data:
$data
model:
  - InputLayer: {shape: [28, 28]}
  - Normalization: {}
  - Flatten: {}
  - Dense: {units: 16, activation: tanh}
  - Normalization: {mean: 0.5, variance: 4, invert: true}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
cat > hist.yaml <<YAML
name: onnx_hist
seed: 29
data:
  train: {idx: $fmnist/train, rows: [0, 3000]}
model:
  - Input: {shape: [28, 28], dtype: int32}
  - Flatten: {}
  - CategoryEncoding: {num_tokens: 256, output_mode: count}
  - Normalization: {mean: 3, variance: 400}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
for name in prep hist; do
    out=$("$ks" fit $name.yaml -o $name.ksm --threads 1 --no-record --epochs 1 2>&1)
    check "$name: fit exits 0" $? "$out"
done
compare prep prep.ksm
compare hist hist.ksm ids.npy

# masked sequence models: token ids with 0 as padding through Embedding(mask_zero): ONNX's
# sequence_lens from the mask (the kept steps moved to the front), GlobalAveragePooling1D
# over the kept steps.  Each image is 28 tokens, one per column: 1 + its ink in 64 levels,
# 0 for a blank column; "trailing" keeps the inked columns in order then pads (as
# TextVectorization pads), "anywhere" leaves the blanks where they are (padding before,
# inside and after).  The test files end with a row of padding alone.
cat > make_tokens.js <<'JS'
const fs = require('fs'), zlib = require('zlib');
const [images, labels, first, count, mode, out] = process.argv.slice(2);
const raw = zlib.gunzipSync(fs.readFileSync(images)), n = Number(count), f0 = Number(first);
const rows = labels === '-' ? n + 1 : n, x = new Float32Array(rows * 28);
for (let i = 0; i < n; i++) {
  let k = 0;
  for (let c = 0; c < 28; c++) {
    let ink = 0;
    for (let r = 0; r < 28; r++) ink += raw[16 + (f0 + i) * 784 + r * 28 + c];
    const tok = ink > 0 ? 1 + Math.min(63, Math.floor(ink / 112)) : 0;
    if (mode === 'anywhere') x[i * 28 + c] = tok; else if (tok) x[i * 28 + k++] = tok;
  }
}
function npy(path, data, shape) {
  let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + "), }";
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1'); head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer)]));
}
npy(out + '_x.npy', x, rows + ', 28');
if (labels !== '-') {
  const lab = zlib.gunzipSync(fs.readFileSync(labels)), y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = lab[8 + f0 + i];
  npy(out + '_y.npy', y, n + ',');
}
JS
for mode in trailing anywhere; do
    node make_tokens.js "$fmnist/train-images-idx3-ubyte.gz" "$fmnist/train-labels-idx1-ubyte.gz" \
        0 3000 $mode tok_$mode && \
    node make_tokens.js "$fmnist/t10k-images-idx3-ubyte.gz" - 0 1000 $mode tok_${mode}_test
    check "token ids ($mode padding) written as .npy" $?
done
masked_model() {   # masked_model NAME SEED PADDING LAYERS...: fit, then compare on the test ids
    local name=$1 seed=$2 mode=$3
    shift 3
    { printf 'name: onnx_%s\nseed: %s\ndata:\n' "$name" "$seed"
      printf '  train: {npy: {x: tok_%s_x.npy, y: tok_%s_y.npy}}\n' "$mode" "$mode"
      printf 'model:\n  - Input: {shape: [28], dtype: int32}\n'
      printf '  - Embedding: {input_dim: 65, output_dim: 8, mask_zero: true}\n'
      for layer in "$@"; do printf '  - %s\n' "$layer"; done
      printf '  - Dense: {units: 10, activation: softmax}\n%s\n' "$tail_cfg"; } > "$name.yaml"
    out=$("$ks" fit "$name.yaml" -o "$name.ksm" --threads 1 --no-record --epochs 1 2>&1)
    check "$name: fit exits 0" $? "$out"
    compare "$name" "$name.ksm" "tok_${mode}_test_x.npy" 28
}
masked_model mask_lstm 31 trailing "LSTM: {units: 12}"
masked_model mask_gru 32 trailing "GRU: {units: 12, return_sequences: true}" \
    "GRU: {units: 8, go_backwards: true}"
masked_model mask_bi 33 trailing "Bidirectional: {layer: {LSTM: {units: 8}}, merge_mode: concat}"
masked_model mask_avg 34 trailing "GlobalAveragePooling1D: {}"
# padding anywhere: the steps kept are the steps ksearch keeps, wherever the zeros are
masked_model mask_any 35 anywhere \
    "Bidirectional: {layer: {GRU: {units: 6, return_sequences: true}}, merge_mode: sum}" \
    "LSTM: {units: 6, return_sequences: true}" "SimpleRNN: {units: 5, return_sequences: true}" \
    "GlobalAveragePooling1D: {}"

# what ONNX's operators cannot express: one message, exit 2, no file
seq_model masked 27 "LSTM: {units: 4, go_backwards: true, return_sequences: true}" "Flatten: {}"
out=$("$ks" export masked.ksm --onnx masked.onnx 2>&1); rc=$?
[[ $rc -eq 2 && $out == *"go_backwards with return_sequences"* && ! -e masked.onnx ]]
check "go_backwards with return_sequences is refused" $? "$rc: $out"

# ---------------------------------------------------------------- convolutional models

# convolutional models: channels last in ksearch, NCHW in ONNX (Conv with group for the
# depthwise ones, MaxPool, AveragePool, Global*Pool, Pad; TensorFlow's asymmetric same
# padding as explicit pads); the (28, 28) images feed a (28, 28, 1) input
cat > cnn.yaml <<YAML
name: onnx_cnn
seed: 14
data:
$data
model:
  - Rescaling: {scale: 2.0, offset: -1.0, input_shape: [28, 28, 1]}
  - RandomFlip: {mode: horizontal}
  - RandomTranslation: {height_factor: 0.1, width_factor: 0.1}
  - Conv2D: {filters: 8, kernel_size: 3, activation: relu, padding: same}
  - MaxPooling2D: {pool_size: 2}
  - DepthwiseConv2D: {kernel_size: 4, depth_multiplier: 2, strides: 2, padding: same}
  - BatchNormalization: {}
  - SeparableConv2D: {filters: 8, kernel_size: [2, 3], padding: same, activation: tanh}
  - AveragePooling2D: {pool_size: 3, strides: 2, padding: same}
  - ZeroPadding2D: {padding: [[1, 0], [0, 2]]}
  - Conv2D: {filters: 6, kernel_size: 2, dilation_rate: 2, activation: elu}
  - SpatialDropout2D: {rate: 0.2}
  - GlobalMaxPooling2D: {keepdims: true}
  - Flatten: {}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
cat > seq.yaml <<YAML
name: onnx_seq
seed: 15
data:
$data
model:
  - Conv1D: {filters: 8, kernel_size: 3, padding: causal, dilation_rate: 2,
             activation: relu, input_shape: [28, 28]}
  - MaxPooling1D: {pool_size: 3, strides: 2}
  - Conv1D: {filters: 8, kernel_size: 4, strides: 2, padding: same}
  - AveragePooling1D: {padding: same}
  - ZeroPadding1D: {padding: [1, 2]}
  - Conv1D: {filters: 6, kernel_size: 1}
  - GlobalAveragePooling1D: {}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
cat > pooled.yaml <<YAML
name: onnx_pooled
seed: 16
data:
$data
model:
  - Reshape: {target_shape: [28, 28, 1], input_shape: [28, 28]}
  - Conv2D: {filters: 8, kernel_size: [3, 2], strides: [2, 1], use_bias: false}
  - MaxPooling2D: {pool_size: [3, 2], padding: same}
  - GlobalAveragePooling2D: {}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
for name in cnn seq pooled; do
    out=$("$ks" fit $name.yaml -o $name.ksm --threads 1 --no-record 2>&1)
    check "$name: fit exits 0" $? "$out"
done
compare cnn cnn.ksm x.npy 28,28,1
compare seq seq.ksm
compare pooled pooled.ksm

# ---------------------------------------------------------------- ensembles

cat > study.yaml <<YAML
name: onnx_study
seed: 13
data:
$data
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: \$act}
  - BatchNormalization: {}
  - Dense: {units: 10, activation: softmax}
$tail_cfg
search:
  method: grid
  metric: {name: val_accuracy, goal: maximize}
  parallel: 1
  parameters:
    units: {values: [16, 32]}
    act: {values: [relu, tanh]}
YAML
out=$("$ks" study.yaml --fresh 2>&1)
check "ensemble study runs" $? "$out"
if "$ks" ensemble runs/onnx_study --top 3 --weights nelder-mead -o ens.ksm >ens.log 2>&1; then
    check "ksearch ensemble (arithmetic) exits 0" 0
    compare ensemble ens.ksm
else
    check "ksearch ensemble (arithmetic) exits 0" 1 "$(cat ens.log)"
fi
if "$ks" ensemble runs/onnx_study --top 3 --weights nelder-mead --average geometric \
    -o geo.ksm >geo.log 2>&1; then
    check "ksearch ensemble (geometric) exits 0" 0
    compare geometric geo.ksm
else
    check "ksearch ensemble (geometric) exits 0" 1 "$(cat geo.log)"
fi

# ---------------------------------------------------------------- functional models

# two inputs (the same images), a sub-model called on both, a shared layer, every merge
# layer, and two outputs: the class and a coarse group
cat > func.yaml <<YAML
name: onnx_functional
seed: 14
data:
  train: {idx: $fmnist/train, scale: 255, rows: [0, 5000], inputs: {image: images, again: images},
          targets: {clothing: labels, group: {from: labels, map: [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]}}}
  test: {idx: $fmnist/t10k, scale: 255, rows: [0, 1000], inputs: {image: images, again: images},
         targets: {clothing: labels, group: {from: labels, map: [0, 1, 0, 0, 0, 2, 0, 2, 3, 2]}}}
model:
  models:
    encoder: [{Flatten: {}}, {Dense: {units: 32, activation: relu}}, {BatchNormalization: {}}]
  layers:
    - Input: {shape: [28, 28], name: image}
    - Input: {shape: [28, 28], name: again}
    - encoder: {inputs: image, name: a}
    - encoder: {inputs: again, name: b}
    - Dense: {units: 16, activation: tanh, inputs: a, name: shared}
    - shared: {inputs: b, name: shared_b}
    - Add: {inputs: [shared, shared_b], name: add}
    - Subtract: {inputs: [shared, shared_b], name: sub}
    - Multiply: {inputs: [add, sub, shared], name: mul}
    - Average: {inputs: [add, sub, mul], name: avg}
    - Maximum: {inputs: [add, sub], name: max}
    - Minimum: {inputs: [add, sub], name: min}
    - Concatenate: {inputs: [a, avg, max, min], name: joined}
    - Dense: {units: 10, activation: softmax, name: clothing}
    - Dense: {units: 4, activation: softmax, inputs: joined, name: group}
  outputs: [clothing, group]
compile:
  optimizer: {Adam: {learning_rate: 0.002}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 1, batch_size: 32, verbose: 0}
YAML
out=$("$ks" fit func.yaml -o func.ksm --threads 1 --no-record 2>&1)
check "functional: fit exits 0" $? "$out"
out=$("$ks" export func.ksm --onnx func.onnx 2>&1)
check "functional: export exits 0" $? "$out"
"$ks" predict func.ksm func.yaml -o func.csv >/dev/null 2>&1
check "functional: predict exits 0" $?
out=$(ORT_DIR=$ort_dir node compare.js func.onnx x.npy func.csv 2>&1); rc=$?
echo "functional: onnxruntime vs ksearch predict: $out"
check "functional: onnxruntime agrees with predict on both outputs" $rc "$out"
[[ $out == "outputs clothing group inputs image again "* ]]
check "functional: the graph's inputs and outputs carry the model's names" $? "$out"

# a residual CNN whose Conv2D is shared (called on its own output): one kernel in the file
cat > rescnn.yaml <<YAML
name: onnx_rescnn
seed: 17
data:
$data
model:
  layers:
    - Input: {shape: [28, 28, 1], name: image}
    - Conv2D: {filters: 4, kernel_size: 3, padding: same, activation: relu, name: stem}
    - Conv2D: {filters: 4, kernel_size: 3, padding: same, activation: tanh, name: shared}
    - shared: {name: shared_again}
    - Add: {inputs: [stem, shared_again]}
    - MaxPooling2D: {}
    - GlobalAveragePooling2D: {}
    - Dense: {units: 10, activation: softmax}
$tail_cfg
YAML
out=$("$ks" fit rescnn.yaml -o rescnn.ksm --threads 1 --no-record 2>&1)
check "rescnn: fit exits 0" $? "$out"
compare rescnn rescnn.ksm x.npy 28,28,1
kernels=$(strings rescnn.onnx 2>&1 | grep kernel)
[[ $kernels == *shared/kernel* && $kernels != *shared_again/kernel* ]]
check "rescnn: the shared Conv2D's kernel is in the file once" $? "$kernels"

# ---------------------------------------------------------------- bad input

expect_bad() {   # expect_bad NAME ARGS...: exit 2, one line on stderr, no output file
    local name=$1 err rc
    shift
    rm -f bad.onnx
    err=$("$ks" export "$@" 2>&1 >/dev/null); rc=$?
    [[ $rc -eq 2 ]]; check "$name: exit status 2" $? "got $rc: $err"
    [[ $(wc -l <<<"$err") -eq 1 && -n $err ]]; check "$name: one message" $? "$err"
    [[ ! -e bad.onnx ]]; check "$name: no ONNX file" $?
}
head -c 3000 mlp.ksm > truncated.ksm
expect_bad "truncated model" truncated.ksm --onnx bad.onnx
cp mlp.ksm flipped.ksm
printf '\xff' | dd of=flipped.ksm bs=1 seek=2000 conv=notrunc status=none
expect_bad "damaged model" flipped.ksm --onnx bad.onnx
[[ -s ens.ksm ]]; check "the ensemble file to truncate exists" $?
head -c 5000 ens.ksm > truncated_ens.ksm
expect_bad "truncated ensemble" truncated_ens.ksm --onnx bad.onnx
expect_bad "not a model" mlp.yaml --onnx bad.onnx
expect_bad "missing file" no_such.ksm --onnx bad.onnx
err=$("$ks" export mlp.ksm 2>&1 >/dev/null); rc=$?
[[ $rc -eq 2 && $err == *"--onnx"* ]]; check "--onnx is required" $? "$rc: $err"
out=$("$ks" export --help 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"--onnx FILE"* ]]; check "export --help" $? "($rc) $out"
out=$("$ks" --help 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"ksearch export MODEL.ksm --onnx OUT.onnx"* ]]
check "export in the command list" $? "($rc) $out"

echo "$passed passed, $failed failed, 0 skipped"
