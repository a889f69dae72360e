#!/usr/bin/env bash
# search.pruner in real studies.  Random search with the median rule and grid search with
# ASHA stop exactly the trials their rule says (recomputed here from study.db's metric
# rows), and give the same trials, statuses, epochs and metric rows under --parallel 1
# and --parallel 2, after kills (SIGKILL, Ctrl-C) and reruns, and (with the MPI build)
# under mpirun -np 3.  A pruned trial is recorded pruned at the epoch it reached, keeps
# its last checkpoint, ends its TensorBoard session and shows as pruned in ls and show;
# ensembles take complete trials only.  Bad pruners: one message FILE:LINE:COL, exit 2,
# nothing written.
set -u -o pipefail
cd "$(dirname "$0")/.."
root=$PWD
source tests/study_lib.sh
study_setup pruner fmnist

# study FILE NAME METHOD PARALLEL PRUNER [ROWS EPOCHS MAX_TRIALS]: units and the learning
# rate (a wide range: some trials learn, some do not) on ROWS images, with a pruner
study() {
    local lr='{float: [1.0e-4, 0.5], log: true}'
    [[ $3 == grid ]] && lr='{values: [0.0001, 0.003, 0.3]}'
    fmnist_study "$1" "$2" 11 "$3" "${6:-1000}" "${7:-6}" "${8:-8}" "$4" '[8, 16]' "$lr"
    sed -i "/^  parallel: /a\\  pruner: $5" "$1"
}
median='{median: {n_startup_trials: 2, n_warmup_epochs: 1}}'
asha='{asha: {min_epochs: 1, factor: 2}}'

# verdicts DB RULE: every trial's checked epochs recomputed from the metric rows (awk,
# independent of ksearch's code) — "ok" when each pruned trial was pruned at the first
# checked epoch where the rule says so and every other trial at none, else what differs.
# RULE: "median STARTUP WARMUP" (interval 1) or "asha MIN FACTOR"; val_accuracy is
# maximized; a trial's last epoch is never checked
verdicts() {
    {
        q "$1" "SELECT 'T', number, status, epochs, budget FROM trial ORDER BY number;"
        q "$1" "SELECT 'V', t.number, m.epoch, printf('%.17g', m.value) FROM metric m
                JOIN trial t ON t.id = m.trial_id WHERE m.name = 'val_accuracy';"
    } | awk -F'|' -v rule="$2" '
        $1 == "T" { n = $2 + 1; st[$2] = $3; ep[$2] = $4; bu[$2] = $5 }
        $1 == "V" { v[$2, $3] = $4 + 0; has[$2, $3] = 1 }
        function checked(k, e,   r) {
            if (e >= bu[k] - 1) return 0
            if (r0 == "median") return k >= a1 && e >= a2
            for (r = a1; r < e + 1; r *= a2) ;
            return r == e + 1
        }
        function best(k, e,   b, i) {
            b = ""
            for (i = 0; i <= e; i++) if (has[k, i] && (b == "" || v[k, i] > b)) b = v[k, i]
            return b
        }
        function prune(k, e,   b, j, m, c, x, i, t, better, keep) {
            b = best(k, e)
            if (b == "") return 1
            if (r0 == "median") {
                m = 0
                for (j = 0; j < k; j++) if (ep[j] > e && has[j, e]) x[++m] = v[j, e]
                if (m == 0) return 0
                for (i = 2; i <= m; i++) for (c = i; c > 1 && x[c - 1] > x[c]; c--) { t = x[c]; x[c] = x[c - 1]; x[c - 1] = t }
                med = m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
                return b < med
            }
            m = 1; better = 0
            for (j = 0; j < k; j++) if (ep[j] >= e + 1 && (c = best(j, e)) != "") { m++; if (c > b) better++ }
            keep = int(m / a2); if (keep < 1) keep = 1
            return better >= keep
        }
        END {
            split(rule, r, " "); r0 = r[1]; a1 = r[2] + 0; a2 = r[3] + 0; bad = ""
            for (k = 0; k < n; k++) {
                want = "complete"; at = bu[k]
                for (e = 0; e < ep[k]; e++) if (checked(k, e) && prune(k, e)) { want = "pruned"; at = e + 1; break }
                if (st[k] != want || ep[k] != at) bad = bad sprintf(" trial %d: %s at %d epochs, the rule says %s at %d;", k, st[k], ep[k], want, at)
            }
            if (n == 0) bad = " no trials"
            print bad == "" ? "ok" : bad
        }'
}
counts() { q "$1" "SELECT sum(status = 'pruned') || ' pruned, ' || sum(status = 'complete') || ' complete' FROM trial;"; }

# ---- the rule, and the same trials on 1 and 2 workers
for case in "random median" "grid asha"; do
    read -r method rule <<<"$case"
    spec=$median rulev="median 2 1"
    [[ $rule == asha ]] && spec=$asha rulev="asha 1 2"
    for p in 1 2; do
        mkdir "${method}_p$p"
        study "${method}_p$p/s.yaml" s "$method" "$p" "$spec"
        (cd "${method}_p$p" && "$ks" s.yaml >out 2>err)
        check "$method + $rule, --parallel $p: exit 0" $? "$(cat "${method}_p$p/err")"
    done
    db=${method}_p1/runs/s/study.db
    row=$(q "$db" "SELECT sum(status = 'pruned') >= 1 AND sum(status = 'complete') >= 2 FROM trial;")
    [[ $row == 1 ]]
    check "$method + $rule: some trials pruned, some complete ($(counts "$db"))" $?
    out=$(verdicts "$db" "$rulev")
    [[ $out == ok ]]
    check "$method + $rule: exactly the trials the rule says are pruned, each where it says" $? "$out"
    ref=$(trials_of "$db") got=$(trials_of "${method}_p2/runs/s/study.db")
    [[ -n $ref && $got == "$ref" ]]
    check "$method + $rule: --parallel 2 gives --parallel 1's trials, statuses and epochs" $? \
        "$(diff <(echo "$ref") <(echo "$got") | head -6)"
    [[ $(values_of "$db") == $(values_of "${method}_p2/runs/s/study.db") ]]
    check "$method + $rule: and every metric row" $?
done

# ---- a pruned trial, read back
db=random_p1/runs/s/study.db
k=$(q "$db" "SELECT number FROM trial WHERE status = 'pruned' ORDER BY number LIMIT 1;")
row=$(q "$db" "SELECT t.epochs < t.budget, (SELECT count(*) FROM metric m WHERE m.trial_id = t.id
                AND m.name = 'val_accuracy'), t.epochs, c.epoch + 1 FROM trial t JOIN checkpoint c
                ON c.trial_id = t.id AND c.kind = 'last' WHERE t.number = ${k:-0};")
IFS='|' read -r short rows epochs last <<<"$row"
[[ $short == 1 && $rows == "$epochs" && $last == "$epochs" ]]
check "pruned trial $k: its epochs' rows up to where it stopped and its last checkpoint there" $? "($row)"
out=$("$ks" ls random_p1/runs/s 2>&1)
grep -qE "^ +$k +pruned" <<<"$out"
check "ls shows trial $k pruned" $? "$out"
"$ks" show random_p1/runs/s "$k" 2>&1 | grep -q "pruned"
check "show says trial $k is pruned" $?
grep -q "^trial $k pruned: " random_p1/out
check "the progress line says trial $k pruned" $? "$(grep "^trial $k " random_p1/out)"
run=$(printf 'random_p1/runs/s/tensorboard/trial-%04d' "$k")
cat "$run"/events.out.tfevents.* 2>/dev/null | grep -aq session_end_info
check "trial $k's TensorBoard session ended" $?

# ---- an ensemble takes complete trials only
mkdir ens
study ens/s.yaml e random 1 "$median"
printf 'ensemble: {top: 20, weights: uniform}\n' >>ens/s.yaml
(cd ens && "$ks" s.yaml >out 2>err)
check "a study with a pruner and an ensemble: exit 0" $? "$(cat ens/err)"
n_complete=$(q ens/runs/e/study.db "SELECT count(*) FROM trial WHERE status = 'complete';")
members=$(sed -n 's/^ensemble of the top [0-9]* trials\{0,1\} by [a-z_]* (\([0-9, ]*\)).*/\1/p' ens/out | head -1)
want=$(q ens/runs/e/study.db "SELECT group_concat(number, ', ') FROM (SELECT number FROM trial
        WHERE status = 'complete' ORDER BY objective DESC, number);")
[[ -n $members && $(tr -d ' ' <<<"$members" | tr ',' '\n' | sort -n) == $(tr -d ' ' <<<"$want" | tr ',' '\n' | sort -n) ]]
check "its ensemble takes the complete trials, no pruned one" $? "(members $members; complete $want)"

# ---- killed (SIGKILL) twice and Ctrl-C'd once on 2 workers, then run to the end: the
# uninterrupted run's trials (a trial resumed after a checked epoch asks its verdict again)
mkdir ref_kill kill
study ref_kill/s.yaml k random 1 "$median" 3000 8 10
study kill/s.yaml k random 2 "$median" 3000 8 10
(cd ref_kill && "$ks" s.yaml >out 2>err)
check "the reference (--parallel 1): exit 0" $? "$(cat ref_kill/err)"
db=kill/runs/k/study.db
for at in "2 KILL" "4 INT" "6 KILL"; do
    read -r n sig <<<"$at"
    (cd kill && exec "$ks" s.yaml >>out 2>>err) &
    pid=$!
    pids+=("$pid")
    wait_db "$db" "$pid" "SELECT count(*) >= $n FROM trial WHERE status IN ('complete', 'pruned');"
    check "$n trials finished before SIG$sig" $?
    kill -"$sig" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
done
(cd kill && "$ks" s.yaml >>out 2>>err)
check "after the kills, the last run exits 0" $? "$(tail -3 kill/err)"
ref=$(trials_of ref_kill/runs/k/study.db) got=$(trials_of "$db")
[[ -n $ref && $got == "$ref" ]]
check "killed and resumed on 2 workers: the uninterrupted run's trials ($(counts "$db"))" $? \
    "$(diff <(echo "$ref") <(echo "$got") | head -6)"
[[ $(values_of ref_kill/runs/k/study.db) == $(values_of "$db") ]]
check "and every metric row" $?

# ---- killed while it waited for a prune verdict (its epoch and checkpoint recorded, not
# yet its end): the rerun asks that verdict first and records it pruned there, not trained on
cp -r random_p1 waited
db=waited/runs/s/study.db
k=$(q "$db" "SELECT number FROM trial WHERE status = 'pruned' ORDER BY number LIMIT 1;")
q "$db" "UPDATE trial SET status = 'interrupted' WHERE number = ${k:-0};"
(cd waited && "$ks" s.yaml >out2 2>err2)
check "a trial stopped while waiting for its verdict: the rerun exits 0" $? "$(cat waited/err2)"
grep -q "^1 unfinished trial" waited/out2
check "the rerun resumes trial $k" $? "$(head -3 waited/out2)"
ref=$(trials_of random_p1/runs/s/study.db) got=$(trials_of "$db")
[[ -n $ref && $got == "$ref" ]]
check "trial $k ends pruned where it was, as in the uninterrupted run" $? \
    "$(diff <(echo "$ref") <(echo "$got") | head -6)"
[[ $(values_of random_p1/runs/s/study.db) == $(values_of "$db") ]]
check "and no epoch was trained after it" $?

# ---- MPI: the same trials from 2 worker ranks (where Open MPI is installed)
if command -v mpicc >/dev/null && command -v mpirun >/dev/null; then
    make -C "$root" MPI=1 -j2 build-mpi/ksearch >build.log 2>&1
    check "make MPI=1 builds build-mpi/ksearch" $? "$(tail -5 build.log)"
    for method in random grid; do
        spec=$median
        [[ $method == grid ]] && spec=$asha
        mkdir "${method}_mpi"
        study "${method}_mpi/s.yaml" s "$method" 1 "$spec"
        (cd "${method}_mpi" && mpirun --allow-run-as-root --oversubscribe --quiet -np 3 \
            "$root/build-mpi/ksearch" s.yaml >out 2>err)
        check "$method, mpirun -np 3: exit 0" $? "$(cat "${method}_mpi/err")"
        # the MPI build's numbers are the plain build's when built alike
        if [[ $ks == "$root/build/ksearch" ]]; then
            ref=$(trials_of "${method}_p1/runs/s/study.db") got=$(trials_of "${method}_mpi/runs/s/study.db")
            [[ -n $ref && $got == "$ref" ]]
            check "$method, 2 MPI ranks: --parallel 1's trials, statuses and epochs" $? \
                "$(diff <(echo "$ref") <(echo "$got") | head -6)"
        else
            skip "$method, 2 MPI ranks against $ks (another build's rounding)"
        fi
        rulev="median 2 1"
        [[ $method == grid ]] && rulev="asha 1 2"
        out=$(verdicts "${method}_mpi/runs/s/study.db" "$rulev")
        [[ $out == ok ]]
        check "$method, 2 MPI ranks: exactly the trials the rule says" $? "$out"
    done
else
    skip "MPI: no Open MPI (mpicc, mpirun)"
fi

# ---- bad pruners: one message at its place, exit 2, nothing written
mkdir bad && cd bad
# bad FILE METHOD PRUNER MESSAGE: MESSAGE a pattern after FILE:LINE: (the column, the text)
bad() {
    local f=$1 rc line
    study "$f" b "$2" 1 "$3"
    [[ $2 == hyperband ]] && sed -i -e '/max_trials/d' "$f"
    line=$(grep -n '^  pruner: ' "$f" | cut -d: -f1)
    "$ks" "$f" >out 2>err
    rc=$?
    [[ $rc -eq 2 && $(wc -l <err) -eq 1 && $(cat err) == $f:$line:$4 && ! -e runs ]]
    check "$2 + pruner $3: exit 2, one message at its place, nothing written" $? "(rc $rc) $(cat err)"
}
bad a.yaml hyperband median '11: search.pruner: hyperband prunes its trials by itself *'
bad b.yaml bohb "$asha" '11: search.pruner: bohb prunes its trials by itself *'
bad c.yaml random medain '11: search.pruner: no pruner "medain" (did you mean "median"?)*'
bad d.yaml random '{asha: {factor: 1}}' '27: search.pruner (asha): factor must be *'
bad e.yaml random '{median: {n_warmup_epoch: 1}}' '*"n_warmup_epoch" (did you mean "n_warmup_epochs"?)*'
cd ..

finish
