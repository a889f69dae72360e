#!/usr/bin/env bash
# search.sh — the search benchmark (`make bench-search`): on the seed space (Géron ch. 10,
# Fashion-MNIST MLP) at one fixed total epoch budget, each method's best val_accuracy,
# epochs spent and wall time over 5 seeds, with Optuna (TPE + HyperbandPruner, PyTorch) in
# the same run; then the parallel speedup of 2 workers.  See bench/README.md.
#   bash bench/search.sh [KSEARCH] [--search-only | --parallel-only]
#   env: SEARCH_SEEDS="1 2 3 4 5" SEARCH_METHODS="grid random bayesian hyperband tpe bohb
#        bohb+min_bandwidth=0.2 tpe+multivariate=true random+pruner=median random+pruner=asha
#        optuna" (METHOD+KEY=VALUE...: a row of METHOD with those options of its search
#        section; a VALUE NAME(K=V,K=V) is the map {NAME: {K: V, K: V}}, e.g.
#        random+pruner=asha(min_epochs=3,factor=3); +max_trials=N replaces floor(B/R))
#        SEARCH_TRAIN_ROWS=55000 SEARCH_VAL_ROWS=5000 SEARCH_MAX_EPOCHS=27 SEARCH_FACTOR=3
#        SEARCH_PATIENCE=10 SEARCH_PARALLEL=2
#        SPEEDUP_TRIALS=12 SPEEDUP_EPOCHS=5 SPEEDUP_REPS=1 SEARCH_KEEP=DIR (keep the runs)
#        SPEEDUP_MPI=MPI_KSEARCH (the speedup also with 2 worker ranks x 1 thread under
#        mpirun, e.g. build-mpi/ksearch from make MPI=1)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=
do_search=1
do_speedup=1
for arg in "$@"; do
    case $arg in
    --search-only) do_speedup=0 ;;
    --parallel-only) do_search=0 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "search.sh: unknown option $arg" >&2; exit 2 ;;
    *) bin=$arg ;;
    esac
done
seeds=${SEARCH_SEEDS:-1 2 3 4 5}
methods=${SEARCH_METHODS:-grid random bayesian hyperband tpe bohb bohb+min_bandwidth=0.2 tpe+multivariate=true random+pruner=median random+pruner=asha optuna}
train_rows=${SEARCH_TRAIN_ROWS:-55000}
val_rows=${SEARCH_VAL_ROWS:-5000}
R=${SEARCH_MAX_EPOCHS:-27}
eta=${SEARCH_FACTOR:-3}
patience=${SEARCH_PATIENCE:-10}
parallel=${SEARCH_PARALLEL:-2}
sp_trials=${SPEEDUP_TRIALS:-12}
sp_epochs=${SPEEDUP_EPOCHS:-5}
sp_reps=${SPEEDUP_REPS:-1}
sp_mpi=${SPEEDUP_MPI:-}
source "$here/seed_space.sh"
data=$seed_space_data
python=/usr/bin/python3         # Debian's python, where python3-optuna lives (not a pyenv shim)
val_end=$((55000 + val_rows))

# ---- peers: the sqlite3 CLI (to read study.db); Optuna, PyTorch and NumPy for the Optuna row
apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "search.sh: $* missing: run as root, or apt-get install $*" >&2
        return 1
    fi
    echo "installing $* (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
command -v sqlite3 >/dev/null || apt_install sqlite3
have_optuna=0
if [[ $do_search -eq 1 && " $methods " == *" optuna "* ]]; then
    if "$python" -c 'import optuna, torch, numpy' 2>/dev/null ||
        { apt_install python3-optuna python3-torch python3-numpy &&
            "$python" -c 'import optuna, torch, numpy'; }; then
        have_optuna=1
    else
        echo "search.sh: no Optuna row (python3-optuna, python3-torch, python3-numpy)" >&2
    fi
fi

# ---- the ksearch binary (make bench-search has built it and passes its path)
if [[ -z $bin ]]; then
    make -C "$root" -j2 build/ksearch >/dev/null
    bin=$root/build/ksearch
fi
[[ $bin == /* ]] || bin=$PWD/$bin
[[ -x $bin ]] || { echo "search.sh: $bin is not built" >&2; exit 1; }

# one BLAS thread per process outside the workers too (the controller sets 1 per worker)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if [[ -n ${SEARCH_KEEP:-} ]]; then
    scratch=$SEARCH_KEEP
    mkdir -p "$scratch"
else
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
fi
cd "$scratch"                   # ksearch writes runs/NAME/ under the current directory

now() { date +%s.%N; }
q() { sqlite3 -batch -noheader "$1" "$2"; }

# mean_sd V...: "mean ± sd" (sample sd; 0 for one value)
mean_sd() {
    printf '%s\n' "$@" | awk -v p="${fmt:-%.4f}" '{ v[NR] = $1; s += $1 }
        END { m = s / NR; for (i = 1; i <= NR; i++) d += (v[i] - m) ^ 2
              sd = NR > 1 ? sqrt(d / (NR - 1)) : 0; f = p " ± " p; printf f, m, sd }'
}
mean() { printf '%s\n' "$@" | awk -v p="${fmt:-%.1f}" '{ s += $1 } END { printf p, s / NR }'; }

# ---- the epoch budget B: one Hyperband iteration (every bracket once) for R and η, as
# search/sampler_hyperband.c plans it: bracket s has n = ceil((s_max+1)·η^s/(s+1))
# configurations; rung i keeps floor(n/η^i) of them, at round(R·η^(i−s)) epochs (the top
# rung R); a promoted trial continues, so it trains only the epochs between its rungs.
budget=$(awk -v R="$R" -v eta="$eta" 'BEGIN {
    smax = 0; p = 1; while (p * eta <= R) { p *= eta; smax++ }
    B = 0; configs = 0
    for (s = smax; s >= 0; s--) {
        es = eta ^ s; n = int(((smax + 1) * es + s) / (s + 1)); configs += n; prev = 0
        for (i = 0; i <= s; i++) {
            ni = int(n / eta ^ i); r = i == s ? R : int(R / eta ^ (s - i) + 0.5); if (r < 1) r = 1
            B += ni * (r - prev); prev = r
        }
    }
    print B, configs }')
read -r B hb_configs <<<"$budget"
max_trials=$((B / R))

# ---- study files
# common NAME SEED ROWS: the name, seed, data, model, compile sections of the seed space
common() {
    echo "# generated by bench/search.sh"
    seed_space "$1" "$2" "$3" "$val_rows"
}

# row_name ROW: the row's name in file and study names (METHOD+KEY=VALUE... → letters,
# digits and _)
row_name() { echo "${1//[^A-Za-z0-9_]/_}"; }

# option_value VALUE: a row option's value as YAML: NAME(K=V,K=V) → {NAME: {K: V, K: V}}
# (a pruner with its options), else VALUE itself
option_value() {
    local kv out=
    local -a kvs
    if [[ $1 =~ ^([A-Za-z_]+)\((.*)\)$ ]]; then
        IFS=, read -ra kvs <<<"${BASH_REMATCH[2]}"
        for kv in "${kvs[@]}"; do out+="${out:+, }${kv%%=*}: ${kv#*=}"; done
        echo "{${BASH_REMATCH[1]}: {$out}}"
    else
        echo "$1"
    fi
}

# study ROW SEED: the benchmark's study of ROW (METHOD, or METHOD+KEY=VALUE+... with those
# options in the search section); prints its file name
study() {
    local m=${1%%+*} seed=$2 opt
    local f=bench_search_$(row_name "$1")_s$2.yaml
    local -a opts=()
    [[ $1 == *+* ]] && IFS=+ read -ra opts <<<"${1#*+}"
    {
        common "bench_search_$(row_name "$1")_s$seed" "$seed" "$train_rows"
        echo "fit: {epochs: $R, batch_size: 32, verbose: 0}"
        echo "callbacks:"
        echo "  - EarlyStopping: {monitor: val_loss, patience: $patience}"
        echo "search:"
        echo "  method: $m"
        echo "  metric: {name: val_accuracy, goal: maximize}"
        case $m in
        hyperband | bohb) echo "  max_epochs: $R"; echo "  factor: $eta" ;;
        *) [[ "+${1#*+}+" == *+max_trials=* ]] || echo "  max_trials: $max_trials" ;;
        esac
        for opt in "${opts[@]}"; do echo "  ${opt%%=*}: $(option_value "${opt#*=}")"; done
        echo "  parameters:"
        if [[ $m == grid ]]; then
            # the grid must fit max_trials: 2 × 2 × 3 = 12 points spread over the space
            # (a larger grid cut at max_trials would leave its first values only)
            echo "    n_hidden: {values: [1, 3]}"
            echo "    n_neurons: {values: [30, 100]}"
            echo "    learning_rate: {float: [3.0e-4, 3.0e-2], log: true, grid_points: 3}"
        else
            echo "    n_hidden: {int: [0, 3]}"
            echo "    n_neurons: {int: [1, 100]}"
            echo "    learning_rate: {float: [3.0e-4, 3.0e-2], log: true}"
        fi
    } >"$f"
    echo "$f"
}

# run_ksearch FILE NAME PARALLEL LOG: runs the study from scratch; prints its wall seconds
# run_ksearch FILE NAME P LOG: one study, --parallel P (P = mpi: 2 worker ranks of one
# thread each under mpirun, rank 0 the controller); prints the wall seconds
run_ksearch() {
    local t0 t1 cmd=("$bin" "$1" --parallel "$3" --fresh)
    [[ $3 == mpi ]] && cmd=(mpirun --allow-run-as-root --oversubscribe -np 3 "$sp_mpi" "$1"
        --parallel 1 --fresh)
    t0=$(now)
    if ! "${cmd[@]}" >"$4" 2>&1; then
        echo "search.sh: ksearch failed on $1 (log below)" >&2
        tail -20 "$4" >&2
        exit 1
    fi
    t1=$(now)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

# ---- 1. the methods at one budget
if [[ $do_search -eq 1 ]]; then
    echo "== search benchmark: the seed space (n_hidden 0-3, n_neurons 1-100, learning_rate"
    echo "   3e-4-3e-2 log), train rows [0, $train_rows), validation [55000, $val_end), batch 32,"
    echo "   EarlyStopping(val_loss, patience $patience); seeds: $seeds; --parallel $parallel"
    echo "   budget B = $B epochs: one Hyperband iteration for R = $R, η = $eta ($hb_configs" \
        "configurations);"
    echo "   hyperband, bohb: one iteration; grid/random/bayesian/tpe: max_trials floor(B/R) ="
    echo "   $max_trials of fit.epochs $R"
    echo
    results=$scratch/results
    : >"$results"
    for seed in $seeds; do
        for m in $methods; do
            if [[ $m == optuna ]]; then
                [[ $have_optuna -eq 1 ]] || continue
                t0=$(now)
                "$python" "$here/optuna_search.py" -B "$B" -s "$seed" -R "$R" --eta "$eta" \
                    --jobs "$parallel" --train-rows "$train_rows" --val-rows "$val_rows" \
                    --patience "$patience" -d "$data" >"optuna_s$seed.log" 2>&1 || {
                    echo "search.sh: optuna_search.py failed (log below)" >&2
                    tail -20 "optuna_s$seed.log" >&2
                    exit 1
                }
                t1=$(now)
                wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
                r() { awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "optuna_s$seed.log"; }
                best=$(r best) epochs=$(r epochs) trials=$(r trials) failed=0
                note="pruned $(r pruned), in-study $(r seconds) s"
            else
                f=$(study "$m" "$seed")
                name=bench_search_$(row_name "$m")_s$seed
                wall=$(run_ksearch "$f" "$name" "$parallel" "$name.log")
                db=runs/$name/study.db
                best=$(q "$db" "SELECT max(objective) FROM trial WHERE status IN ('complete', 'pruned')")
                epochs=$(q "$db" "SELECT total(epochs) FROM trial" | awk '{ printf "%d", $1 }')
                trials=$(q "$db" "SELECT count(*) FROM trial")
                failed=$(q "$db" "SELECT count(*) FROM trial WHERE status = 'failed'")
                note="pruned $(q "$db" "SELECT count(*) FROM trial WHERE status = 'pruned'")"
                note+=", best: $(q "$db" "SELECT params FROM trial WHERE status IN ('complete', 'pruned')
                                            ORDER BY objective DESC LIMIT 1")"
            fi
            [[ -n $best ]] || best=nan
            printf '%-22s seed %-3s best val_accuracy %.4f  %4s trials  %4s epochs  %7.1f s  (%s)\n' \
                "$m" "$seed" "$best" "$trials" "$epochs" "$wall" "$note"
            [[ $failed -eq 0 ]] || echo "   $failed failed trial(s): see $scratch/bench_search_$(row_name "$m")_s$seed.log"
            echo "$m $seed $best $epochs $wall $trials" >>"$results"
        done
    done

    echo
    echo "== search benchmark — budget B = $B epochs (R = $R, η = $eta), ${train_rows} train rows," \
        "--parallel $parallel, seeds: $seeds"
    printf '%-22s %-18s %-26s %8s %10s %8s %8s\n' method "best val_acc" "per seed" "trials" \
        "epochs" "wall s" "s/epoch"
    for m in $methods; do
        mapfile -t acc < <(awk -v m="$m" '$1 == m { print $3 }' "$results")
        [[ ${#acc[@]} -gt 0 ]] || continue
        mapfile -t ep < <(awk -v m="$m" '$1 == m { print $4 }' "$results")
        mapfile -t walls < <(awk -v m="$m" '$1 == m { print $5 }' "$results")
        mapfile -t tr < <(awk -v m="$m" '$1 == m { print $6 }' "$results")
        per=$(printf '%s ' "${acc[@]}" | awk '{ for (i = 1; i <= NF; i++) printf "%s%.4f", (i > 1 ? " " : ""), $i }')
        spe=$(awk -v m="$m" '$1 == m { w += $5; e += $4 } END { printf "%.3f", (e > 0 ? w / e : 0) }' "$results")
        printf '%-22s %-18s %-26s %8s %10s %8s %8s\n' "$m" "$(fmt=%.4f mean_sd "${acc[@]}")" "$per" \
            "$(fmt=%.0f mean "${tr[@]}")" "$(fmt=%.0f mean "${ep[@]}")" \
            "$(fmt=%.1f mean "${walls[@]}")" "$spe"
    done
    echo "best val_accuracy: mean ± sd over seeds of each study's best trial (pruned trials"
    echo "count with their best epoch); trials, epochs (sum of trial.epochs: epochs trained),"
    echo "wall (the whole process: data loading, Python's imports for optuna): means over seeds"
fi

# ---- 2. the parallel speedup: the same equal-cost trials with 1 and 2 workers
if [[ $do_speedup -eq 1 ]]; then
    sp_file=bench_speedup.yaml
    {
        common bench_speedup 7 "$train_rows"
        echo "fit: {epochs: $sp_epochs, batch_size: 32, verbose: 0}"
        echo "search:"
        echo "  method: grid          # $sp_trials trials of the same shape: only the learning rate varies"
        echo "  metric: {name: val_accuracy, goal: maximize}"
        echo "  parameters:"
        echo "    n_hidden: {values: [2]}"
        echo "    n_neurons: {values: [100]}"
        echo "    learning_rate: {float: [1.0e-3, 3.0e-2], log: true, grid_points: $sp_trials}"
    } >"$sp_file"
    echo
    echo "== parallel speedup: $sp_trials trials of 784-100-100-10, $sp_epochs epochs each on" \
        "$train_rows rows, no early stopping; $sp_reps round(s), alternating --parallel 1 and 2"
    sp=$scratch/speedup
    : >"$sp"
    db=runs/bench_speedup/study.db
    for ((r = 1; r <= sp_reps; r++)); do
        order="1 2${sp_mpi:+ mpi}"
        [[ $((r % 2)) -eq 0 ]] && order="${sp_mpi:+mpi }2 1"
        for p in $order; do
            wall=$(run_ksearch "$sp_file" bench_speedup "$p" "speedup_p$p.log")
            # from study.db: each trial's duration (started → ended) and the span of all of
            # them (the first start to the last end: the process less its data loading)
            read -r tmean tmin tmax tsum span n < <(q "$db" "SELECT avg(ended - started),
                min(ended - started), max(ended - started), total(ended - started),
                max(ended) - min(started), count(*) FROM trial WHERE status = 'complete'" |
                tr '|' ' ')
            printf '  [%d] %-13s %6.2f s wall, trials from first start to last end %6.2f s;' \
                "$r" "$([[ $p == mpi ]] && echo "2 ranks x 1:" || echo "--parallel $p:")" "$wall" "$span"
            printf ' %s trials of %.2f s mean (%.2f-%.2f), workers busy %.0f%% of that span\n' \
                "$n" "$tmean" "$tmin" "$tmax" "$(awk -v s="$tsum" -v w="$span" -v p="${p/mpi/2}" \
                'BEGIN { print 100 * s / (w * p) }')"
            echo "$p $wall $tmean $span" >>"$sp"
        done
    done
    med() { awk -v k="$1" -v c="$2" '$1 == k { print $c }' "$sp" | sort -g |
        awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
    awk -v w1="$(med 1 2)" -v w2="$(med 2 2)" -v d1="$(med 1 3)" -v d2="$(med 2 3)" \
        -v s1="$(med 1 4)" -v s2="$(med 2 4)" 'BEGIN {
        printf "speedup of --parallel 2 over --parallel 1 (medians):\n"
        printf "  whole process: %.2fx (%.2f s / %.2f s)\n", w1 / w2, w1, w2
        printf "  trials only:   %.2fx (%.2f s / %.2f s, first start to last end)\n", s1 / s2, s1, s2
        printf "a trial takes %.2f s alone and %.2f s beside another (%.2fx), so 2 workers can give\n", d1, d2, d2 / d1
        printf "at most %.2fx with these trials; the rest is time between trials and data loading\n", 2 * d1 / d2
        printf "%s\n", (w1 / w2 >= 1.8 ? "whole process: at least 1.8x" : "whole process: BELOW 1.8x")
        printf "%s\n", (s1 / s2 >= 1.8 ? "trials only: at least 1.8x" : "trials only: BELOW 1.8x") }'
    if [[ -n $sp_mpi ]]; then
        awk -v w2="$(med 2 2)" -v wm="$(med mpi 2)" -v s2="$(med 2 4)" -v sm="$(med mpi 4)" 'BEGIN {
            printf "2 worker ranks x 1 thread (mpirun -np 3) against --parallel 2 (medians):\n"
            printf "  whole process: %.2f s against %.2f s (%+.1f%%)\n", wm, w2, 100 * (wm / w2 - 1)
            printf "  trials only:   %.2f s against %.2f s (%+.1f%%)\n", sm, s2, 100 * (sm / s2 - 1)
            printf "%s\n", (wm <= 1.05 * w2 ? "whole process: within 5%" : "whole process: MORE than 5% slower") }'
    fi
fi
