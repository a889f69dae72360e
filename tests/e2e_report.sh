#!/usr/bin/env bash
# ksearch report end to end: the HTML report of a small real Hyperband study (the
# quickstart's shape, smaller; written when the study ends and on demand, the same
# bytes), of a study with failed trials, of a one-trial `ksearch fit` run, and of a
# synthetic 10,000-trial study (< 2 s, < 5 MB); its numbers read back from the page and
# compared with study.db; reports made while a study runs; damaged, newer or missing
# databases (one message, exit 2, no file).  Then every report in headless Chromium
# (tests/e2e_report_browser.js over playwright-core): no JavaScript error, no network
# request, every view, no empty plot, screenshots.  Without Chromium, node or npm (or
# offline without the npm cache) the browser part is counted as skipped.
#   KS_REPORT_SHOTS=DIR   keep the screenshots in DIR
#   KS_REPORT_DOCS=DIR    also run the real quickstart and put its screenshots in DIR
set -u
set -o pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
ks=${KSEARCH:-./build/ksearch}
ks=$(cd "$(dirname "$ks")" && pwd)/$(basename "$ks")
maker=$(dirname "$ks")/tests/test_report          # builds the synthetic study
npm_dir=${KS_REPORT_NPM:-/tmp/ks_report_npm}
chromium=${KS_CHROMIUM:-/usr/bin/chromium}
fmnist=/usr/share/datasets/fashion-mnist
passed=0 failed=0 skipped=0
check() {   # check NAME CONDITION-STATUS [DETAIL]
    if [[ $2 -eq 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $1 ${3:-}"; fi
}
skip() {    # skip WHAT WHY
    skipped=$((skipped + 1))
    echo "skipped: $1 ($2)"
}
finish() {
    echo "$passed passed, $failed failed, $skipped skipped"
    exit $((failed > 0))
}

tmp=$(mktemp -d /tmp/ks_e2e_report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ------------------------------------------------------- the page's own script
bash tracker/embed_assets.sh "$tmp/assets.c"
cmp -s "$tmp/assets.c" tracker/report_html_assets.c
check "tracker/report_html_assets.c is generated from the .js and .css (run tracker/embed_assets.sh)" $?
if command -v node >/dev/null; then
    out=$(node --check tracker/report_html.js 2>&1)
    check "the report's script parses" $? "$out"
fi

if [[ ! -f $fmnist/train-images-idx3-ubyte.gz ]]; then
    skip "the studies" "no Fashion-MNIST in $fmnist"
    finish
fi
cd "$tmp" || exit 1

# ------------------------------------------- a small real study (quickstart's shape)
cat > small.yaml <<YAML
name: small
seed: 42
data:
  train:      {idx: $fmnist/train, scale: 255, rows: [0, 2000]}
  validation: {idx: $fmnist/train, scale: 255, rows: [55000, 56000]}
  test:       {idx: $fmnist/t10k, scale: 255, rows: [0, 1000]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$n_neurons, activation: relu, repeat: \$n_hidden}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: \$learning_rate, momentum: 0.9}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 9, batch_size: 32, verbose: 0}
callbacks:
  - EarlyStopping: {monitor: val_loss, patience: 3, restore_best_weights: true}
search:
  method: hyperband
  metric: {name: val_accuracy, goal: maximize}
  parallel: 2
  max_epochs: 9
  factor: 3
  parameters:
    n_hidden: {int: [1, 3]}
    n_neurons: {int: [16, 128], log: true}
    learning_rate: {float: [1.0e-3, 1.0e-1], log: true}
ensemble: {top: 3, weights: [nelder-mead, greedy]}
YAML
# reports made while it runs: each one whole, the study undisturbed
"$ks" small.yaml --parallel 2 >study.out 2>&1 &
study_pid=$!
live=0 live_bad=0
while kill -0 "$study_pid" 2>/dev/null; do
    if [[ -f runs/small/study.db ]]; then
        if "$ks" report runs/small -o live.html >live.out 2>&1; then
            live=$((live + 1))
            grep -q '</html>' live.html || live_bad=$((live_bad + 1))
        elif ! grep -q 'no study\|no such study database\|not a ksearch study database (an empty file)' live.out; then
            live_bad=$((live_bad + 1))
            cat live.out
        fi
    fi
    sleep 0.3
done
wait "$study_pid"
check "the study runs while reports are made" $? "$(tail -5 study.out)"
check "reports made while it ran ($live) are whole" $((live_bad > 0 || live == 0)) "$live made, $live_bad bad"
grep -q '^report: *runs/small/report.html$' study.out
check "the study ends by writing its report" $? "$(tail -4 study.out)"
[[ -s runs/small/report.html ]]
check "runs/small/report.html is there" $?
out=$("$ks" report runs/small 2>&1 >/dev/null; "$ks" report runs/small -o again.html 2>&1)
check "ksearch report RUNDIR -o FILE" $? "$out"
cmp -s runs/small/report.html again.html
check "the report on demand is the one written at the end (same bytes)" $?
"$ks" report runs/small/study.db -o fromdb.html >/dev/null 2>&1 && cmp -s fromdb.html again.html
check "RUNDIR may be the study.db file" $?

# ---------------------------------- the numbers on the page are study.db's (node)
if command -v node >/dev/null && command -v sqlite3 >/dev/null; then
    sqlite3 -separator $'\t' runs/small/study.db \
        "SELECT number, status, printf('%.17g', objective), params, best_epoch FROM trial ORDER BY number" >trials.tsv
    sqlite3 -separator $'\t' runs/small/study.db \
        "SELECT t.number, m.name, m.epoch, printf('%.17g', m.value) FROM metric m JOIN trial t ON t.id = m.trial_id WHERE m.step = -1 AND m.name <> 'iterations'" >metrics.tsv
    cat > readback.js <<'JS'
const fs = require('fs');
const html = fs.readFileSync(process.argv[2], 'utf8');
const m = /<script type="application\/json" id="ks-data">([\s\S]*?)<\/script>/.exec(html);
const D = JSON.parse(m[1]), T = D.trials, bad = [];
// sqlite3's printf is not exact in the 17th digit: equal within 1e-13 here (test_report.c compares
// the page's numbers with study.db's exactly, through SQLite's C API)
const near = (a, b) => a === b || (a !== null && b !== null && Math.abs(a - b) <= 1e-13 * Math.max(1, Math.abs(b)));
const rows = fs.readFileSync('trials.tsv', 'utf8').trim().split('\n').map(l => l.split('\t'));
if (rows.length !== T.number.length) bad.push('trials: ' + T.number.length + ' vs ' + rows.length);
const P = D.params.map(p => p.name);
rows.forEach((r, i) => {
  const [num, status, obj, params, best] = r;
  if (T.number[i] !== Number(num)) bad.push('number ' + num);
  if (T.status[i] !== status) bad.push('status of ' + num);
  const o = obj === '' ? null : Number(obj);
  if (!near(T.objective[i], o)) bad.push('objective of ' + num + ': ' + T.objective[i] + ' vs ' + o);
  if (T.best_epoch[i] !== Number(best)) bad.push('best epoch of ' + num);
  const pj = JSON.parse(params);
  P.forEach((name, k) => { if (T.params[k][i] !== pj[name]) bad.push(name + ' of ' + num); });
});
// every metric value: at the best epoch in the table, by epoch in the curve
const byTrial = new Map(T.number.map((n, i) => [n, i]));
let checked = 0;
for (const line of fs.readFileSync('metrics.tsv', 'utf8').trim().split('\n')) {
  const [num, name, epoch, value] = line.split('\t'), i = byTrial.get(Number(num));
  const v = value === '' ? null : Number(value), e = Number(epoch);
  if (name === D.study.metric && !near(T.curve[i][e], v)) bad.push('curve of ' + num + ' at ' + e);
  const best = T.best_epoch[i] >= 0 ? T.best_epoch[i] : T.epochs[i] - 1;
  if (e === best) {
    const k = D.metrics.names.indexOf(name);
    if (k < 0 || !near(D.metrics.at_best[k][i], v)) bad.push(name + ' of ' + num + ' at ' + e);
    checked++;
  }
}
if (!checked) bad.push('no metric value compared');
console.log(bad.length ? 'differences: ' + bad.slice(0, 10).join('; ') : 'equal: ' + rows.length + ' trials, ' + checked + ' values at best epochs');
process.exit(bad.length ? 1 : 0);
JS
    out=$(node readback.js runs/small/report.html 2>&1)
    check "objectives, parameters, statuses and metric values on the page equal study.db's" $? "$out"
else
    skip "reading the numbers back with node" "node or sqlite3 missing"
fi

# --------------------------------------------------- a study with failed trials
cat > failing.yaml <<YAML
name: failing
seed: 1
data:
  train:      {idx: $fmnist/train, scale: 255, rows: [0, 1000]}
  validation: {idx: $fmnist/train, scale: 255, rows: [55000, 55500]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: \$units, activation: relu}
  - Dense: {units: 1}
compile:
  optimizer: {SGD: {learning_rate: \$learning_rate}}
  loss: mse
  metrics: [mae]
fit: {epochs: 3, batch_size: 32, verbose: 0}
search:
  method: grid
  metric: {name: val_loss, goal: minimize}
  parallel: 2
  parameters:
    units: {values: [8, 16]}
    learning_rate: {values: [0.001, 10.0]}
YAML
out=$("$ks" failing.yaml 2>&1)
check "a study whose trials diverge runs to its end" $? "$out"
grep -q '"error":{"1":"TerminateOnNaN' runs/failing/report.html
check "the report holds the failed trials' reasons" $? "$(grep -o '"error":{[^}]*}' runs/failing/report.html)"
# a report that cannot be written is a warning, never a failed study
mv runs/failing/report.html failing.html && mkdir runs/failing/report.html
out=$("$ks" failing.yaml 2>&1)
check "a study whose report cannot be written still ends well" $? "$out"
[[ $(grep -c "^warning: the study's report was not written: " <<<"$out") == 1 ]]
check "one warning says the report was not written" $? "$(tail -2 <<<"$out")"
leftover=$(find runs/failing -maxdepth 1 -name 'report.html.*')
[[ -z $leftover ]]; check "no temporary file left beside it" $? "$leftover"
rmdir runs/failing/report.html && mv failing.html runs/failing/report.html

# ------------------------------------------------------------ a ksearch fit run
cat > fitrun.yaml <<YAML
name: fitrun
seed: 42
data:
  train:      {idx: $fmnist/train, scale: 255, rows: [0, 2000]}
  validation: {idx: $fmnist/train, scale: 255, rows: [55000, 56000]}
model:
  - Flatten: {input_shape: [28, 28]}
  - Dense: {units: 32, activation: relu}
  - Dense: {units: 10, activation: softmax}
compile:
  optimizer: {SGD: {learning_rate: 0.05}}
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
fit: {epochs: 4, batch_size: 32, verbose: 0}
YAML
out=$("$ks" fit fitrun.yaml 2>&1 && "$ks" report runs/fitrun 2>&1)
check "the report of a ksearch fit run" $? "$out"
grep -q '"kind":"fit"' runs/fitrun/report.html
check "it is shown as one training" $?

# ------------------------------------------------- a synthetic 10,000-trial study
mkdir -p big
out=$("$maker" --make-study big 10000 2>&1)
check "a synthetic 10,000-trial study" $? "$out"
echo "$out"
# the time it costs (CPU: on a busy machine the wall clock measures the others too)
TIMEFORMAT='%R %U %S'
{ time "$ks" report big -o big.html >big.out 2>&1; } 2>big.time
rc=$?
check "its report" $rc "$(cat big.out)"
read -r wall user sys <big.time
cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
bytes=$(stat -c %s big.html 2>/dev/null || echo 0)
echo "report of 10,000 trials: $wall s wall, $cpu s CPU, $bytes bytes"
[[ $bytes -gt 0 && $bytes -lt 5000000 ]]
check "the 10,000-trial report is under 5 MB ($bytes bytes)" $?
if [[ $ks == */build/ksearch ]]; then
    awk -v c="$cpu" 'BEGIN { exit !(c < 2) }'
    check "the 10,000-trial report takes under 2 s ($cpu s CPU, $wall s wall)" $?
else
    skip "the 2 s bound" "a sanitizer or other build: timed only"
fi
# ----------------------------------------- damaged, newer, missing: exit 2, no file
bad_db() {   # bad_db NAME EXPECTED-WORDS
    rm -f bad.html
    "$ks" report "$1" -o bad.html >bad.out 2>bad.err
    local rc=$?
    [[ $rc -eq 2 && ! -e bad.html && $(wc -l <bad.err) -eq 1 ]] && grep -q "$2" bad.err
    check "report of $1: one message, exit 2, no file" $? "rc $rc: $(cat bad.err)"
}
cp runs/failing/study.db damaged.db
page=$(sqlite3 damaged.db "PRAGMA page_size") root=$(sqlite3 damaged.db "SELECT rootpage FROM sqlite_master WHERE name = 'trial'")
dd if=/dev/zero of=damaged.db bs=1 seek=$(((root - 1) * page)) count=64 conv=notrunc 2>/dev/null
bad_db damaged.db 'damaged'
cp runs/failing/study.db newer.db && sqlite3 newer.db "UPDATE meta SET value = '99' WHERE key = 'schema_version'"
bad_db newer.db 'newer ksearch'
printf 'not a database at all' >text.db
bad_db text.db 'not a ksearch study database'
bad_db nowhere 'no such study database'
"$ks" report >/dev/null 2>&1
check "ksearch report without RUNDIR: exit 2" $(($? != 2))
"$ks" report runs/small --bogus >/dev/null 2>&1
check "an unknown option: exit 2" $(($? != 2))
"$ks" report --help | grep -q -- '-o FILE .*\[RUNDIR/report.html\]'
check "ksearch report --help lists its options with defaults" $?

# ---------------------------------------------------- the real quickstart (docs)
if [[ -n ${KS_REPORT_DOCS:-} ]]; then
    out=$("$ks" "$repo/studies/quickstart.yaml" --fresh 2>&1)
    check "the quickstart" $? "$(tail -5 <<<"$out")"
fi

# ------------------------------------------------------------- in a real browser
have_pw() { node -e "require('$npm_dir/node_modules/playwright-core')" >/dev/null 2>&1; }
if [[ ! -x $chromium ]]; then
    skip "the reports in Chromium" "no $chromium (CI installs Debian's chromium)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    skip "the reports in Chromium" "node/npm not available"
else
    if ! have_pw; then
        mkdir -p "$npm_dir"
        timeout 600 npm install --prefix "$npm_dir" --no-audit --no-fund --ignore-scripts \
            playwright-core >"$npm_dir/install.log" 2>&1
    fi
    if ! have_pw; then
        skip "the reports in Chromium" "playwright-core could not be installed (offline?); see $npm_dir/install.log"
    else
        shots=${KS_REPORT_SHOTS:-$tmp/shots}
        all=history,parallel,importance,slices,contour,curves,timeline
        specs=("small=runs/small/report.html:$all"
               "failing=runs/failing/report.html:history,parallel,slices,curves,timeline"
               "fit=runs/fitrun/report.html:history,curves,timeline"
               "big=big.html:$all")
        [[ -n ${KS_REPORT_DOCS:-} ]] && specs+=("quickstart=runs/quickstart/report.html:$all")
        out=$(timeout 900 node "$repo/tests/e2e_report_browser.js" "$npm_dir" "$chromium" "$shots" "${specs[@]}" 2>&1)
        rc=$?
        echo "$out" | grep -E '^(timing|ok|FAILED)'
        for name in small failing fit big; do
            grep -q "^ok $name:" <<<"$out"
            check "$name's report in Chromium: views, plots, no error, no request" $? "$(grep "$name" <<<"$out" | head -5)"
        done
        check "the browser run" $rc "$(tail -3 <<<"$out")"
        if [[ -n ${KS_REPORT_DOCS:-} ]]; then
            mkdir -p "$KS_REPORT_DOCS"
            for v in history parallel importance curves timeline; do
                cp "$shots/quickstart-$v.png" "$KS_REPORT_DOCS/report-$v.png" || break
                # smaller files for the repository, where pngquant is installed
                if command -v pngquant >/dev/null; then
                    pngquant --quality 60-90 --strip --force --output "$KS_REPORT_DOCS/report-$v.png" \
                        -- "$KS_REPORT_DOCS/report-$v.png"
                fi
            done
            check "the quickstart's screenshots in $KS_REPORT_DOCS" $?
        fi
    fi
fi
finish
