# seed_space.sh — sourced by the search benchmarks: the seed space's study sections
# (Géron ch. 10: a Fashion-MNIST MLP of $n_hidden layers of $n_neurons, SGD at
# $learning_rate), the one definition that search.sh and record_curves.sh share.

seed_space_data=/usr/share/datasets/fashion-mnist/train

# seed_space NAME SEED TRAIN_ROWS VAL_ROWS: the name, seed, data, model and compile
# sections; training rows [0, TRAIN_ROWS), validation rows [55000, 55000 + VAL_ROWS)
seed_space() {
    local data=$seed_space_data
    cat <<YAML
name: $1
seed: $2
data:
  train:      {idx: $data, scale: 255, rows: [0, $3]}
  validation: {idx: $data, scale: 255, rows: [55000, $((55000 + $4))]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$n_neurons, activation: relu, repeat: \$n_hidden}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: \$learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
YAML
}
