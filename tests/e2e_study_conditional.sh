#!/usr/bin/env bash
# Conditional and per-index parameters and search.enqueue in real studies, under every
# method: a small regression (200 rows of tests/data/f200.csv) whose optimizer is a
# choice of {SGD: …} and {Adam: …} with each one's own learning rate (SGD's momentum
# only with SGD) and a width per hidden layer.  Each method runs the enqueued
# configuration first; every trial records exactly its active parameters (in study.db,
# `ksearch ls` and the HParams session); grid runs each active combination once; a
# model-based method run twice gives the same trials.  Bad conditions: one message
# FILE:LINE:COL, exit 2, nothing written.
set -u -o pipefail
cd "$(dirname "$0")/.."
data=$(realpath tests/data)
source tests/study_lib.sh
study_setup cond
cp "$data/f200.csv" .

# study FILE METHOD [OPTION...]: each OPTION a line of the search section
study() {
    local f=$1 method=$2 o
    shift 2
    cat > "$f" <<'YAML'
name: cond
seed: 3
data:
  train: {csv: ../f200.csv, target: y, rows: [0, 150]}
  validation: {csv: ../f200.csv, target: y, rows: [150, 200]}
model:
  - Dense: {units: $units, activation: relu, repeat: $n_hidden}
  - Dense: {units: 1}
compile: {optimizer: $optimizer, loss: mse}
fit: {epochs: 9, batch_size: 32, verbose: 0}
callbacks:
  - TensorBoard: {}
search:
  method: METHOD
  enqueue:
    - {n_hidden: 2, units: [16, 4], optimizer: SGD, sgd_lr: 0.01, momentum: 0.9}
  parameters:
    n_hidden: {int: [0, 2]}
    units: {values: [4, 16], per: n_hidden}
    optimizer:
      values:
        - SGD: {learning_rate: $sgd_lr, momentum: $momentum}
        - Adam: {learning_rate: $adam_lr}
    sgd_lr: {float: [1.0e-3, 1.0e-1], log: true, grid_points: 2, when: {optimizer: SGD}}
    momentum: {float: [0.0, 0.99], grid_points: 2, when: {optimizer: SGD}}
    adam_lr: {float: [1.0e-3, 1.0e-2], log: true, grid_points: 2, when: {optimizer: Adam}}
YAML
    sed -i "s/METHOD/$method/" "$f"
    for o in "$@"; do sed -i "/^  method: /a\\  $o" "$f"; done
}

# trials whose parameters are not exactly the active ones
wrong_params() {
    q "$1" "SELECT count(*) FROM trial WHERE NOT (
      (json_extract(params, '\$.optimizer') = 'SGD' AND json_type(params, '\$.sgd_lr') = 'real'
       AND json_type(params, '\$.momentum') IS NOT NULL AND json_type(params, '\$.adam_lr') IS NULL
       OR json_extract(params, '\$.optimizer') = 'Adam' AND json_type(params, '\$.adam_lr') = 'real'
       AND json_type(params, '\$.sgd_lr') IS NULL AND json_type(params, '\$.momentum') IS NULL)
      AND (json_type(params, '\$.units_0') IS NOT NULL) = (json_extract(params, '\$.n_hidden') > 0)
      AND (json_type(params, '\$.units_1') IS NOT NULL) = (json_extract(params, '\$.n_hidden') > 1)
      AND json_type(params, '\$.units_2') IS NULL);"
}

enqueued='{"n_hidden":2,"units_0":16,"units_1":4,"optimizer":"SGD","sgd_lr":0.01,"momentum":0.9}'
for method in grid random bayesian tpe hyperband bohb; do
    mkdir -p "$method"
    case $method in
    grid) opts=() ;;
    random) opts=("max_trials: 8") ;;
    bayesian) opts=("max_trials: 10" "n_initial: 4" "candidates: 200") ;;
    tpe) opts=("max_trials: 12" "n_startup_trials: 4") ;;
    hyperband) opts=("max_epochs: 9") ;;
    bohb) opts=("max_epochs: 9" "max_trials: 17" "min_points_in_model: 3") ;;
    esac
    study "$method/s.yaml" "$method" "${opts[@]}"
    (cd "$method" && "$ks" s.yaml >out 2>err)
    check "$method: the study runs to the end (exit 0)" $? "$(cat "$method/err")"
    db=$method/runs/cond/study.db
    n=$(q "$db" "SELECT count(*) FROM trial;")
    [[ $n -gt 4 ]]
    check "$method: $n trials" $?
    [[ $(q "$db" "SELECT params FROM trial WHERE number = 0;") == "$enqueued" ]]
    check "$method: trial 0 is the enqueued configuration" $? \
        "$(q "$db" "SELECT params FROM trial WHERE number = 0;")"
    bad=$(wrong_params "$db")
    [[ $bad == 0 ]]
    check "$method: every trial has exactly its active parameters" $? "($bad do not)"
    [[ $(q "$db" "SELECT count(*) FROM trial WHERE status NOT IN ('complete', 'pruned');") == 0 ]]
    check "$method: every trial complete (or pruned)" $?
done

# run again: the finished study resumes, its trials read back (inactive = absent) as they were
before=$(q random/runs/cond/study.db "SELECT group_concat(params, ';') FROM (SELECT params FROM trial ORDER BY number);")
(cd random && "$ks" s.yaml >out2 2>err2)
check "random: run again, the study resumes (exit 0)" $? "$(cat random/err2)"
after=$(q random/runs/cond/study.db "SELECT group_concat(params, ';') FROM (SELECT params FROM trial ORDER BY number);")
grep -q "(resuming)" random/out2 && [[ $after == "$before" ]]
check "random: resumed, its trials unchanged" $?

# grid: (1 + 2 + 4 widths) × (2 SGD rates × 2 momenta + 2 Adam rates) = 42, each once,
# after the enqueued one
db=grid/runs/cond/study.db
row=$(q "$db" "SELECT count(*), count(DISTINCT params) FROM trial WHERE number > 0;")
[[ $row == "42|42" ]]
check "grid: 42 active combinations, each once" $? "($row)"

# a model-based method twice: the same trials
for method in tpe bohb; do
    mkdir -p "again_$method"
    cp "$method/s.yaml" "again_$method/s.yaml"
    (cd "again_$method" && "$ks" s.yaml >out 2>err)
    a=$(q "$method/runs/cond/study.db" "SELECT group_concat(params, ';') FROM (SELECT params FROM trial ORDER BY number);")
    b=$(q "again_$method/runs/cond/study.db" "SELECT group_concat(params, ';') FROM (SELECT params FROM trial ORDER BY number);")
    [[ -n $a && $a == "$b" ]]
    check "$method: run again, the same trials" $?
done

# reading back: ls, show, the HParams sessions (an Adam trial has no momentum), report
db=random/runs/cond/study.db
adam=$(q "$db" "SELECT number FROM trial WHERE json_extract(params, '\$.optimizer') = 'Adam' LIMIT 1;")
out=$("$ks" ls random/runs/cond 2>&1)
check "ls exits 0" $? "$out"
line=$(grep -E "^ +$adam +complete" <<<"$out")
[[ $line == *"optimizer=Adam adam_lr="* && $line != *momentum* && $line != *sgd_lr* ]]
check "ls: an Adam trial shows adam_lr and no SGD parameter" $? "$line"
out=$("$ks" show random/runs/cond "$adam" 2>&1)
grep -q "^parameters: n_hidden=[0-9] .*optimizer=Adam adam_lr=[0-9.e-]*$" <<<"$out"
check "show: the Adam trial's parameters, no inactive one" $? "$(head -3 <<<"$out")"
run=$(printf 'random/runs/cond/tensorboard/trial-%04d' "$adam")
session=$(find "$run" -maxdepth 1 -name 'events.out.tfevents.*' | head -1)
[[ -n $session ]] && grep -aq adam_lr "$session" && ! grep -aq momentum "$session"
check "HParams: the Adam trial's session has adam_lr and no momentum" $?
"$ks" tensorboard random/runs/cond >/dev/null 2>&1
check "ksearch tensorboard rewrites the logs (exit 0)" $?
session=$(find "$run" -maxdepth 1 -name 'events.out.tfevents.*' | head -1)
[[ -n $session ]] && ! grep -aq momentum "$session"
check "HParams rewritten: still no momentum in the Adam trial's session" $?
"$ks" report random/runs/cond -o r.html >/dev/null 2>&1 && grep -q adam_lr r.html
check "report: written, with the conditional parameters" $?
# fANOVA over every complete trial, on the parameters they all have (Optuna's rule)
grep -q '"importance":{"trials":8,"trees":[0-9]*,"params":\["n_hidden","optimizer"\]' r.html
check "report: importance over the 8 trials, of the parameters every trial has" $? \
    "$(grep -o '"importance":{[^}]\{0,120\}' r.html)"

# in a real browser (where tests/e2e_report.sh installed playwright-core): the parallel
# coordinates draw a trial's line through an axis only where it has the parameter (an SGD
# trial's through momentum's, an Adam trial's not: no fake 0)
npm_dir=${KS_REPORT_NPM:-/tmp/ks_report_npm} chromium=${KS_CHROMIUM:-/usr/bin/chromium}
if [[ -x $chromium ]] && command -v node >/dev/null &&
    node -e "require('$npm_dir/node_modules/playwright-core')" >/dev/null 2>&1; then
    cat > axes.js <<'JS'
const path = require('path');
const [pw, chromium, file] = process.argv.slice(2);
const { chromium: bt } = require(path.join(pw, 'node_modules', 'playwright-core'));
(async () => {
  const b = await bt.launch({ executablePath: chromium, args: ['--no-sandbox'] });
  const page = await b.newPage();
  const errors = [];
  page.on('pageerror', e => errors.push(e.message));
  await page.goto('file://' + path.resolve(file));
  await page.waitForSelector('body[data-rendered=yes]', { timeout: 120000 });
  // every vertex of the lines, counted per axis (x), axes left to right
  const counts = await page.evaluate(() => {
    const at = new Map();
    for (const p of document.querySelectorAll('#parallel path.pc'))
      for (const m of p.getAttribute('d').matchAll(/[ML](-?[\d.]+) (-?[\d.]+)/g))
        at.set(m[1], (at.get(m[1]) || 0) + 1);
    return [...at.entries()].sort((a, b) => a[0] - b[0]).map(e => e[1]);
  });
  console.log(JSON.stringify({ counts, errors }));
  await b.close();
})().catch(e => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
JS
    out=$(timeout 300 node axes.js "$npm_dir" "$chromium" r.html 2>&1)
    sgd=$(q "$db" "SELECT count(*) FROM trial WHERE json_extract(params, '\$.optimizer') = 'SGD';")
    all=$(q "$db" "SELECT count(*) FROM trial;")
    # axes: n_hidden units_0 units_1 optimizer sgd_lr momentum adam_lr, the objective
    m=$(node -e "const o = JSON.parse(process.argv[1]); console.log(o.errors && o.errors.length ? 'error' : o.counts[5] + ',' + o.counts[7])" "$out" 2>/dev/null)
    [[ $m == "$sgd,$all" ]]
    check "report in Chromium: lines cross momentum's axis for the $sgd SGD trials only (of $all)" $? "$m $out"
else
    skip "the conditional report in Chromium (no chromium, node or playwright-core: tests/e2e_report.sh installs it)"
fi

# bad input: one message FILE:LINE:COL, exit 2, nothing written
bad() {
    local what=$1 expect=$2
    mkdir -p "bad_$3"
    study "bad_$3/s.yaml" random "max_trials: 4"
    sed -i "$4" "bad_$3/s.yaml"
    out=$(cd "bad_$3" && "$ks" s.yaml 2>&1 >/dev/null)
    rc=$?
    [[ $rc -eq 2 && $(wc -l <<<"$out") -eq 1 && $out == s.yaml:$expect ]]
    check "bad: $what (exit 2, one message at its place)" $? "(rc $rc) $out"
    [[ ! -e bad_$3/runs ]]
    check "bad: $what: nothing written" $?
}
bad "a condition on an unknown parameter" \
    "25:73: parameter sgd_lr: when: optimiser is not a parameter (did you mean optimizer?)" \
    1 "s/when: {optimizer: SGD}}/when: {optimiser: SGD}}/; /^    momentum/d; s/, momentum: \$momentum//"
bad "a cycle of conditions" \
    "21:34: the conditions form a cycle: kind → optimizer → kind; *" 2 \
    "s/^    optimizer:$/    kind: {values: [a, b], when: {optimizer: SGD}}\n    optimizer:/; s/^      values:$/      when: {kind: a}\n      values:/"
bad "a per-index parameter without its repeat" \
    "7:20: \$units has a value per copy of a layer (per: n_hidden), and this is not a layer with repeat: \$n_hidden*" \
    3 "s/repeat: \$n_hidden/repeat: 2/; s/^    n_hidden: .*/    n_hidden: {int: [0, 2]}\n    depth: {int: [1, 2]}/; s/units: \$units, activation/units: \$units, depth: \$n_hidden, activation/"
bad "a conditional parameter outside its branch" \
    "10:27: \$momentum exists only when optimizer is SGD, and it may not be here*" 4 \
    "s/^fit: {epochs: 9/fit: {epochs: 9, shuffle: \$momentum/"
bad "an enqueued value out of range" \
    "17:77: search.enqueue\\[0\\]: momentum must be a number in \\[0, 0.99\\], got 1.5" 5 \
    "s/momentum: 0.9}/momentum: 1.5}/"
finish
[[ $failed -eq 0 ]]
