#!/usr/bin/env bash
# run.sh — the engine benchmarks (`make bench`): ksearch's training speed against
# PyTorch, both measured in this run with one thread, as ratios.  BENCH_MODEL=mlp (the
# seed MLP, bench_engine.c + torch_mlp.py, batches 32 and 256) or cnn (the studies' CNN,
# bench_cnn.c + torch_cnn.py, batches 32 and 128; bench/cnn.sh).  Installs its peers
# (python3-torch, python3-numpy) if missing, builds the engine program, runs both
# programs REPS times alternately and prints the medians; see bench/README.md.
#   bash bench/run.sh [BENCH_PROGRAM]   env: BENCH_MODEL=mlp BENCH_REPS=3 BENCH_STEPS BENCH_EPOCHS=3
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-}
model=${BENCH_MODEL:-mlp}
case $model in
    mlp) program=bench_engine peer=torch_mlp.py b1=32 b2=256 default_steps=600 ;;
    cnn) program=bench_cnn peer=torch_cnn.py b1=32 b2=128 default_steps=200 ;;
    *) echo "run.sh: BENCH_MODEL must be mlp or cnn, got $model" >&2; exit 2 ;;
esac
reps=${BENCH_REPS:-3}
steps=${BENCH_STEPS:-$default_steps}
epochs=${BENCH_EPOCHS:-3}
args=(-s "$steps" -e "$epochs" -b "$b1" -b "$b2")

# ---- peers: Debian's PyTorch and NumPy, installed once, here only (never by the tests)
. "$here/lib.sh"
need_torch run.sh

# ---- build (make bench has built it already and passes its path)
if [[ -z $bin ]]; then
    make -C "$root" -j2 "build/bench/$program" >/dev/null
    bin=$root/build/bench/$program
fi
[[ $bin == /* ]] || bin=$PWD/$bin
[[ -x $bin ]] || { echo "run.sh: $bin is not built" >&2; exit 1; }

# the same thread count on both sides: one (OpenBLAS, OpenMP, torch intra-op)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# glibc's malloc gives freed blocks back to the system (trim, munmap) and PyTorch then
# page-faults on the tensors it allocates every step: 25-40% of its time at batch 32, and
# varying from run to run.  The main table runs PyTorch as its users run it (glibc's
# defaults); a second table gives it higher thresholds, its best and steadiest speed.
# The engine allocates nothing per step, so this does not change ksearch's side.
tunables=glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=268435456
tuned=GLIBC_TUNABLES=${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}$tunables
echo "environment of both sides: OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

info() { awk -v k="$1" '$1 == "INFO" && $2 == k { print $3; exit }' "$2"; }

# run_config LABEL FILE [env args…]: REPS rounds of both programs, alternating which goes first
run_config() {
    local label=$1 file=$2; shift 2
    local r first
    : >"$file"
    echo "== $label: $reps rounds of ksearch and PyTorch, alternating order"
    for ((r = 1; r <= reps; r++)); do
        for first in ks torch; do
            if [[ $((r % 2)) -eq 0 ]]; then first=$([[ $first == ks ]] && echo torch || echo ks); fi
            if [[ $first == ks ]]; then
                env "$@" "$bin" "${args[@]}" >"$tmp/out"
            else
                env "$@" "$python" "$here/$peer" "${args[@]}" >"$tmp/out"
            fi
            cat "$tmp/out" >>"$file"
            # the set-up lines once, the measurements of every round
            grep -v -E '^(RESULT|INFO) ' "$tmp/out" |
                { if [[ $r -eq 1 ]]; then cat; else grep -E ' batch '; fi; } | sed "s/^/  [$r] /"
        done
    done
}

# table LABEL FILE CORETYPE
table() {
    local label=$1 f=$2 ct=$3 b k t
    echo
    echo "== $model, $label — median of $reps runs, 1 thread each, $epochs x $steps timed steps after a warm-up epoch"
    printf '%-22s %12s %12s %16s\n' "" "ksearch" "PyTorch" "ksearch/PyTorch"
    for b in "$b1" "$b2"; do
        k=$(median "ks_sps_$b" "$f")
        t=$(median "torch_sps_$b" "$f")
        printf "%-22s %12.0f %12.0f %16s\n" "$(printf "batch %3d samples/s" "$b")" "$k" "$t" "$(ratio "$k" "$t")"
    done
    printf '%-22s %12s %12s\n' "spread (max-min)/med" \
        "$(spread "ks_sps_$b1" "$f")% $(spread "ks_sps_$b2" "$f")%" \
        "$(spread "torch_sps_$b1" "$f")% $(spread "torch_sps_$b2" "$f")%"
    printf 'ratio by CPU time of the process instead of wall clock: %s (batch %d), %s (batch %d)\n' \
        "$(ratio "$(median "ks_cpu_sps_$b1" "$f")" "$(median "torch_cpu_sps_$b1" "$f")")" "$b1" \
        "$(ratio "$(median "ks_cpu_sps_$b2" "$f")" "$(median "torch_cpu_sps_$b2" "$f")")" "$b2"
    for b in "$b2" "$b1"; do
        printf 'sgemm share of the ksearch step, batch %3d: %s%% (its products replayed alone); %s%% (timed inside fit)\n' \
            "$b" "$(median "ks_sgemm_share_$b" "$f")" "$(median "ks_sgemm_infit_share_$b" "$f")"
    done
    printf 'GFLOP/s of the ksearch step (its sgemm products per CPU second of the whole step): %s (batch %d), %s (batch %d); sgemm alone: %s, %s\n' \
        "$(median "ks_gflops_$b1" "$f")" "$b1" "$(median "ks_gflops_$b2" "$f")" "$b2" \
        "$(median "ks_sgemm_gflops_$b1" "$f")" "$(median "ks_sgemm_gflops_$b2" "$f")"
    printf 'allocations per training step, engine: %g (batch %d), %g (batch %d); whole process: %g, %g\n' \
        "$(median "ks_allocs_per_step_$b1" "$f")" "$b1" "$(median "ks_allocs_per_step_$b2" "$f")" "$b2" \
        "$(median "ks_process_allocs_per_step_$b1" "$f")" "$(median "ks_process_allocs_per_step_$b2" "$f")"
    printf 'OPENBLAS_CORETYPE=%s (OpenBLAS core used: ksearch %s, PyTorch %s)\n' "$ct" \
        "$(info ks_corename "$f")" "$(info torch_corename "$f")"
}

env_ct=${OPENBLAS_CORETYPE:-}
main_label="OPENBLAS_CORETYPE=${env_ct:-(unset)} as in the environment, glibc malloc defaults"
tuned_label="OPENBLAS_CORETYPE=${env_ct:-(unset)}, malloc thresholds raised (PyTorch at its best)"
run_config "$main_label" "$tmp/main"
run_config "$tuned_label" "$tmp/tuned" "$tuned"
if [[ -n $env_ct ]]; then
    run_config "OPENBLAS_CORETYPE unset (autodetected), glibc malloc defaults" "$tmp/auto" \
        -u OPENBLAS_CORETYPE
fi

table "$main_label" "$tmp/main" "${env_ct:-(unset)}"
table "$tuned_label" "$tmp/tuned" "${env_ct:-(unset)}"
if [[ -n $env_ct ]]; then
    table "OPENBLAS_CORETYPE unset (autodetected), glibc malloc defaults" "$tmp/auto" "(unset)"
else
    echo
    echo "(OPENBLAS_CORETYPE is not set here: the tables above are already the autodetected core)"
fi

# the engine promises no allocation inside a training step
bad=$(awk '$1 == "RESULT" && $2 ~ /^ks_allocs_per_step_/ && $3 != 0' "$tmp"/main "$tmp"/tuned "$tmp"/auto 2>/dev/null | wc -l)
if [[ $bad -ne 0 ]]; then
    echo "FAIL: the engine allocated memory inside a training step (see above)"
    exit 1
fi
