# study_lib.sh — what the study e2e scripts (tests/e2e_study_*.sh) share: the counters
# and check, a scratch folder removed on exit (the processes in $pids killed and the
# files in $immutable made mutable first), Fashion-MNIST study files, waiting on a
# study's database, and the tables compared with an uninterrupted run.  Sourced from the
# repository's root (study_setup then works in the scratch folder), never run alone.

ks=$(realpath "${KSEARCH:-./build/ksearch}")
fmnist=/usr/share/datasets/fashion-mnist
passed=0 failed=0 skipped=0
pids=()
immutable=()

check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
# a check that cannot run here: counted as skipped, never as passed
skip() { echo "skipped: $1"; skipped=$((skipped + 1)); }
q() { sqlite3 -batch "$@"; }
# the last line: "N passed, N failed" (and ", N skipped" when some were)
finish() {
    if [[ $skipped -gt 0 ]]; then echo "$passed passed, $failed failed, $skipped skipped"
    else echo "$passed passed, $failed failed"; fi
}

study_cleanup() {
    local p f
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    for f in "${immutable[@]}"; do chattr -i "$f" 2>/dev/null; done
    [[ -n ${KEEP:-} ]] || rm -rf "$tmp"
}

# study_setup NAME [fmnist]: the scratch folder /tmp/ks_e2e_NAME.*, entered; with
# "fmnist" the script is skipped as a whole where Fashion-MNIST is missing
study_setup() {
    tmp=$(mktemp -d "/tmp/ks_e2e_$1.XXXXXX")
    trap study_cleanup EXIT
    command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
    if [[ ${2:-} == fmnist && ! -f $fmnist/t10k-images-idx3-ubyte.gz ]]; then
        echo "skipped: no Fashion-MNIST in $fmnist"
        echo "0 passed, 0 failed, 1 skipped"
        exit 0
    fi
    cd "$tmp" || exit 1
}

# fmnist_study FILE NAME SEED METHOD ROWS EPOCHS MAX_TRIALS PARALLEL UNITS LR [DROPOUT]:
# an MLP on the first ROWS of t10k (validation: rows 9000-9500) with Adam, searching
# units (a values list), the learning rate (LR: a parameter spec) and, when given,
# the rate of a Dropout layer (DROPOUT: a spec); the objective val_accuracy
fmnist_study() {
    local dropout_layer="" dropout_param=""
    if [[ -n ${11:-} ]]; then
        dropout_layer=$'\n  - Dropout: {rate: $dropout}'
        dropout_param=$'\n'"    dropout: ${11}"
    fi
    cat > "$1" <<YAML
name: $2
seed: $3
data:
  train:      {idx: $fmnist/t10k, scale: 255, rows: [0, $5]}
  validation: {idx: $fmnist/t10k, scale: 255, rows: [9000, 9500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: relu}$dropout_layer
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: \$learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: $6, batch_size: 32, verbose: 0}
search:
  method: $4
  metric: {name: val_accuracy, goal: maximize}
  max_trials: $7
  parallel: $8
  parameters:
    units: {values: $9}$dropout_param
    learning_rate: ${10}
YAML
}

# hyperband_study FILE NAME SEED ROWS R PARALLEL: fmnist_study's MLP under Hyperband with
# max_epochs R and factor 3 (units [8, 16], learning rate 1e-3 to 1e-1, log)
hyperband_study() {
    fmnist_study "$1" "$2" "$3" hyperband "$4" "$5" 0 "$6" '[8, 16]' '{float: [1.0e-3, 1.0e-1], log: true}'
    sed -i -e '/max_trials: 0/d' -e "s/^  parallel: $6\$/  parallel: $6\n  max_epochs: $5\n  factor: 3/" "$1"
}

# wait_exit PID SECONDS: the process's exit status, or 124 (then killed) after SECONDS
wait_exit() {
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
        sleep 0.02
    done
    kill -9 "$1" 2>/dev/null
    wait "$1"
    return 124
}

# wait_db DB PID SQL: until the count SQL gives is >= 1 (0), or the process ended or
# 30 s passed first (1)
wait_db() {
    local i r
    for ((i = 0; i < 1500; i++)); do
        r=$(q "$1" "$3" 2>/dev/null)
        [[ ${r:-0} =~ ^[0-9]+$ && ${r:-0} -ge 1 ]] && return 0
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.02
    done
    return 1
}

# What an uninterrupted run is compared with: each trial's row; every epoch and batch
# value (name, step, epoch, value); the best checkpoints' bytes (a hash)
trials_of() { q "$1" "SELECT number, params, seed, status, budget, epochs, quote(objective), best_epoch FROM trial ORDER BY number;"; }
values_of() { q "$1" "SELECT t.number, m.name, m.step, m.epoch, quote(m.value) FROM metric m JOIN trial t ON t.id = m.trial_id ORDER BY 1, 2, 3, 4;"; }
ensembles_of() { q "$1" "SELECT name, json FROM ensemble ORDER BY name;"; }
# how many checkpoints pruned trials still have
pruned_ckpts() {
    q "$1" "SELECT count(*) FROM checkpoint c JOIN trial t ON t.id = c.trial_id
             WHERE t.status = 'pruned';"
}
best_bytes() {
    q "$1" "SELECT hex(c.data) FROM trial t JOIN checkpoint c ON c.trial_id = t.id
             WHERE c.kind = 'best' ORDER BY t.number;" | md5sum
}
