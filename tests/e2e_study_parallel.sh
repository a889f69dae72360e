#!/usr/bin/env bash
# Parallel workers change nothing but the time: for grid and random search, the same
# study run with --parallel 1, 2 and 3 gives the same trials (numbers, parameters,
# seeds, budgets, statuses) and the same value of every metric at every epoch, exactly:
# each trial's random streams (initial weights, shuffling, dropout, the random
# sampler's draw) derive from the study seed and the trial number alone.  And Hyperband
# with two workers trains exactly the epochs of its plan.
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_parallel.XXXXXX)
trap '[[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
q() { sqlite3 -batch "$@"; }

# study FILE METHOD: 10 small trials with dropout (a random stream of its own)
study() {
    cat > "$1" <<YAML
name: par
seed: 2024
data:
  train: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, 2000]}
  validation_split: 0.2
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: relu}
  - Dropout: {rate: \$dropout}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: \$learning_rate, momentum: 0.9}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 3, batch_size: 32, verbose: 0}
search:
  method: $2
  metric: {name: val_loss, goal: minimize}
  max_trials: 10
  parameters:
    units: {values: [8, 16]}
    dropout: {values: [0.0, 0.3]}
    learning_rate: $3
YAML
}

trials_of() { q "$1" "SELECT number, params, seed, budget, status, epochs, best_epoch, quote(objective)
                        FROM trial ORDER BY number;"; }
metrics_of() {
    q "$1" "SELECT t.number, m.name, m.step, m.epoch, quote(m.value)
              FROM metric m JOIN trial t ON t.id = m.trial_id
             ORDER BY t.number, m.name, m.step, m.epoch;"
}

cd "$tmp"
for method in grid random; do
    if [[ $method == grid ]]; then
        lr='{values: [0.01, 0.05, 0.1]}'     # 12 points, max_trials keeps 10
    else
        lr='{float: [1.0e-3, 1.0e-1], log: true}'
    fi
    for p in 1 2 3; do
        mkdir -p "$method$p"
        study "$method$p/s.yaml" "$method" "$lr"
        (cd "$method$p" && "$ks" s.yaml --parallel "$p" >out 2>err)
        check "$method --parallel $p: exit 0" $? "$(cat "$method$p/err")"
        grep -q "$p worker" "$method$p/out"
        check "$method --parallel $p: ran with $p worker(s)" $?
    done
    db1=${method}1/runs/par/study.db
    t1=$(trials_of "$db1") m1=$(metrics_of "$db1")
    # the reference run is whole: 10 distinct complete trials of 3 epochs, 4 values each
    row=$(q "$db1" "SELECT count(*), count(DISTINCT params), count(DISTINCT seed),
                           sum(status = 'complete' AND epochs = 3),
                           (SELECT count(*) FROM metric WHERE step = -1
                              AND name NOT IN ('learning_rate', 'iterations')) FROM trial;")
    [[ $row == "10|10|10|10|120" ]]
    check "$method: 10 distinct complete trials, 3 epochs x 4 values recorded ($row)" $?
    for p in 2 3; do
        db=${method}$p/runs/par/study.db
        t=$(trials_of "$db")
        [[ $t == "$t1" ]]
        check "$method: --parallel $p gives the trials of --parallel 1 (numbers, params, seeds, objectives)" $? \
            "$(diff <(echo "$t1") <(echo "$t") | head -6)"
        m=$(metrics_of "$db")
        [[ $m == "$m1" ]]
        check "$method: --parallel $p gives every metric value of --parallel 1" $? \
            "$(diff <(echo "$m1") <(echo "$m") | head -6)"
        # and the workers really overlapped (else this proves nothing about threads)
        ov=$(q "$db" "SELECT count(*) FROM trial a JOIN trial b ON a.number < b.number
                       WHERE a.started < b.ended AND b.started < a.ended;")
        [[ $ov -ge 1 ]]
        check "$method: with --parallel $p some trials ran at the same time ($ov pairs)" $?
    done
    if [[ $method == grid ]]; then
        # grid: trial i is point i of the product (last parameter fastest)
        got=$(q "$db1" "SELECT json_extract(params, '$.units') || ' ' || json_extract(params, '$.dropout')
                              || ' ' || json_extract(params, '$.learning_rate') FROM trial ORDER BY number;" |
              paste -sd,)
        want=""
        for u in 8 16; do for d in 0 0.3; do for l in 0.01 0.05 0.1; do
            want+="${want:+,}$u $d $l"; done; done; done
        want=$(echo "$want" | cut -d, -f1-10)
        [[ $got == "$want" ]]
        check "grid: trials are the first 10 points of the product, in order" $? "($got)"
    fi
done

# hyperband with 2 workers trains exactly its plan: for R = 9, eta = 3 the brackets are
# 9 trials at 1 epoch -> 3 at 3 -> 1 at 9, 5 at 3 -> 1 at 9, and 3 at 9; a promotion
# continues from the checkpoint, so 9*1 + 3*2 + 1*6 + 5*3 + 1*6 + 3*9 = 69 epochs, 17
# trials, 5 of them at the full 9 epochs (a promotion seen late would add more)
fmnist=/usr/share/datasets/fashion-mnist
mkdir hb
cat > hb/s.yaml <<YAML
name: hb
seed: 5
data:
  train:      {idx: $fmnist/t10k, scale: 255, rows: [0, 1000]}
  validation: {idx: $fmnist/t10k, scale: 255, rows: [9000, 9500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile: {optimizer: {SGD: {learning_rate: \$lr}}, loss: sparse_categorical_crossentropy, metrics: [accuracy]}
fit: {epochs: 9, batch_size: 64, verbose: 0}
search:
  method: hyperband
  metric: {name: val_accuracy, goal: maximize}
  max_epochs: 9
  factor: 3
  parallel: 2
  parameters:
    units: {int: [4, 64]}
    lr: {float: [1.0e-3, 1.0e-1], log: true}
YAML
(cd hb && "$ks" s.yaml >out 2>err)
check "hyperband --parallel 2: exit 0" $? "$(cat hb/err)"
row=$(q hb/runs/hb/study.db "SELECT sum(epochs), count(*), sum(epochs = 9) FROM trial;")
[[ $row == "69|17|5" ]]
check "hyperband with 2 workers trains its plan: 69 epochs, 17 trials, 5 at 9 epochs ($row)" $?
echo "$passed passed, $failed failed"
