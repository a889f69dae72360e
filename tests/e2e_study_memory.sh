#!/usr/bin/env bash
# Memory over a long study: 200 small trials (random search, one worker) end with a
# resident set within 10% of the one after 20 trials — nothing a trial allocates
# outlives it.  VmRSS is sampled from outside, in /proc/PID/status, while the progress
# output counts the finished trials.  Then short studies (a clean one, its rerun, one
# with a failed trial, `ksearch ls`) under valgrind --leak-check=full: no leak, no
# error (skipped when valgrind is not installed).
set -u -o pipefail
cd "$(dirname "$0")/.."
ks=$(realpath "${KSEARCH:-./build/ksearch}")
tmp=$(mktemp -d /tmp/ks_e2e_memory.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill -9 "$pid" 2>/dev/null; [[ -n ${KEEP:-} ]] || rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
check() { if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi; }
# a sanitizer build: ASan's quarantine holds freed memory (RSS grows by design) and
# valgrind cannot run an ASan binary; those checks belong to the plain build
sanitized=
# gcc links the sanitizer runtime dynamically, clang statically: look for its entry point
grep -aqE '__(asan|tsan)_init' "$ks" && sanitized=1
command -v sqlite3 >/dev/null || { echo "sqlite3 (the command) is missing: make deps"; echo "0 passed, 1 failed"; exit 1; }
cd "$tmp"

# study FILE TRIALS PARALLEL EPOCHS ROWS
study() {
    cat > "$1" <<YAML
name: mem
seed: 9
data:
  train:      {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [0, $5]}
  validation: {idx: /usr/share/datasets/fashion-mnist/t10k, scale: 255, rows: [9000, 9200]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: 8, activation: \$activation}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {Adam: {learning_rate: \$learning_rate}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: $4, batch_size: 32, verbose: 0}
callbacks:
  - TensorBoard: {histogram_freq: 1}
search:
  method: random
  metric: {name: val_accuracy, goal: maximize}
  max_trials: $2
  parallel: $3
  parameters:
    activation: {values: [relu, tanh]}
    learning_rate: {float: [1.0e-3, 1.0e-2], log: true}
YAML
}

# VmRSS of pid in kB into $r, the finished trials (progress lines) into $n: builtins
# only, so that sampling is cheap and frequent
sample() {
    local key value rest lines
    r= n=0
    while read -r key value rest; do
        [[ $key == VmRSS: ]] && r=$value
    done < "/proc/$1/status" 2>/dev/null
    [[ -f $2 ]] && mapfile -t lines < "$2"
    for key in "${lines[@]}"; do [[ $key == "trial "[0-9]*" complete"* ]] && n=$((n + 1)); done
}

mkdir long && study long/s.yaml 200 1 1 2000
start=$(date +%s.%N)
(cd long && exec "$ks" s.yaml >out 2>err) &
pid=$!
rss20= rss_last= n20=0 n_last=0 samples=0
while kill -0 "$pid" 2>/dev/null; do
    sample "$pid" long/out
    if [[ -n $r ]]; then
        samples=$((samples + 1))
        [[ -z $rss20 && $n -ge 20 ]] && rss20=$r n20=$n
        # the end: the largest of the samples after 180 trials
        [[ $n -ge 180 && ( -z $rss_last || $r -gt $rss_last ) ]] && rss_last=$r
        [[ $n -ge 20 ]] && n_last=$n
    fi
    sleep 0.01
done
wait "$pid"
rc=$?
pid=
secs=$(echo "$(date +%s.%N) - $start" | bc)
check "200 trials: exit 0" "$rc" "$(cat long/err)"
row=$(sqlite3 long/runs/mem/study.db "SELECT count(*), sum(status = 'complete' AND epochs = 1) FROM trial;")
[[ $row == "200|200" ]]
check "200 trials: all complete ($row)" $?
[[ -n $rss20 && $n20 -le 40 && $n_last -ge 190 ]]
check "RSS sampled after ~20 trials and at the end ($samples samples; at $n20 trials and at $n_last)" $?
if [[ -n $rss20 && -n $rss_last ]]; then
    echo "RSS after $n20 trials: $rss20 kB; largest after 180 trials: $rss_last kB (${secs%.*} s)"
    if [[ -n $sanitized ]]; then
        echo "RSS within 10%: skipped (sanitizer build: ASan's quarantine keeps freed memory)"
        skipped=$((skipped + 1))
    else
        [[ $((rss_last * 10)) -le $((rss20 * 11)) ]]
        check "RSS at the end (the largest after 180 trials: $rss_last kB) within 10% of after $n20 ($rss20 kB)" $?
    fi
fi

# --- valgrind: short studies, no leak and no error
if command -v valgrind >/dev/null && [[ -z $sanitized ]]; then
    vg() { valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect,possible \
                    --error-exitcode=99 "$@"; }
    mkdir vg && study vg/s.yaml 3 2 2 300
    (cd vg && vg "$ks" s.yaml >out 2>err)
    rc=$?
    [[ $rc -eq 0 ]]
    check "valgrind: a study of 3 trials on 2 workers, no leak or error" $? "(rc $rc) $(tail -20 vg/err)"
    (cd vg && vg "$ks" s.yaml >out2 2>err2)
    rc=$?
    [[ $rc -eq 0 ]] && grep -q "(resuming)" vg/out2
    check "valgrind: its rerun (resuming a finished study), no leak or error" $? "(rc $rc) $(tail -20 vg/err2)"
    (cd vg && vg "$ks" ls runs/mem >out3 2>err3)
    rc=$?
    [[ $rc -eq 0 ]]
    check "valgrind: ksearch ls, no leak or error" $? "(rc $rc) $(tail -20 vg/err3)"
    # a failed trial (NaN loss) takes the other path
    mkdir vgf
    sed 's/learning_rate: {float: .*/learning_rate: {values: [0.01, 1.0e6]}/; s/loss: sparse_categorical_crossentropy/loss: mse/;
         s/units: 10, activation: softmax/units: 1/; s/metrics: \[accuracy\]/metrics: [mae]/;
         s/name: val_accuracy, goal: maximize/name: val_loss, goal: minimize/; s/method: random/method: grid/;
         s/activation: {values: \[relu, tanh\]}/activation: {values: [relu]}/; s/Adam/SGD/' vg/s.yaml > vgf/s.yaml
    (cd vgf && vg "$ks" s.yaml >out 2>err)
    rc=$?
    row=$(sqlite3 vgf/runs/mem/study.db "SELECT group_concat(status, ' ') FROM (SELECT status FROM trial ORDER BY number);")
    [[ $rc -eq 0 && $row == "complete failed" ]]
    check "valgrind: a study with a diverging (failed) trial, no leak or error" $? "(rc $rc, $row) $(tail -20 vgf/err)"
else
    if [[ -n $sanitized ]]; then echo "valgrind: skipped (a sanitizer build)"; else echo "valgrind: skipped (not installed)"; fi
    skipped=$((skipped + 1))
fi
echo "$passed passed, $failed failed, $skipped skipped"
