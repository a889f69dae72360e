#!/usr/bin/env bash
# rnn.sh — recurrent layers against PyTorch (`make bench-rnn`): the row-wise
# Fashion-MNIST LSTM(128) (28 steps of 28 features) trained by ksearch (bench_rnn.c) and
# by Debian's PyTorch 1.13 nn.LSTM (torch_lstm.py), one thread each, the same steps and
# batch sizes (32 and 128), REPS rounds alternating which goes first, in one run; prints
# the medians and the ratios (by wall clock and by CPU time), and fails (exit 1) only if
# the engine allocates inside a training step.  Installs python3-torch if missing.
#   bash bench/rnn.sh [BENCH_RNN]     env: BENCH_REPS=3 BENCH_STEPS=100 BENCH_EPOCHS=3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
. "$here/lib.sh"
need_torch rnn.sh
bin=${1:-}
reps=${BENCH_REPS:-3}
steps=${BENCH_STEPS:-100}
epochs=${BENCH_EPOCHS:-3}
args=(-s "$steps" -e "$epochs" -b 32 -b 128)
if [[ -z $bin ]]; then
    make -C "$root" -j2 build/bench/bench_rnn >/dev/null
    bin=$root/build/bench/bench_rnn
fi
[[ $bin == /* ]] || bin=$PWD/$bin
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/all"
for ((r = 1; r <= reps; r++)); do
    order=(ks torch)
    [[ $((r % 2)) -eq 0 ]] && order=(torch ks)
    for side in "${order[@]}"; do
        if [[ $side == ks ]]; then "$bin" "${args[@]}" >"$tmp/out"; else
            "$python" "$here/torch_lstm.py" "${args[@]}" >"$tmp/out"; fi
        cat "$tmp/out" >>"$tmp/all"
        grep -v -E '^RESULT ' "$tmp/out" | sed "s/^/  [$r] /"
    done
done
echo
echo "== LSTM(128) over 28 steps of 28 features — median of $reps runs, 1 thread each, $epochs x $steps timed steps"
printf '%-22s %12s %12s %16s %16s\n' "" "ksearch" "PyTorch" "ksearch/PyTorch" "by CPU time"
for b in 32 128; do
    k=$(median "ks_sps_$b" "$tmp/all")
    t=$(median "torch_sps_$b" "$tmp/all")
    printf "%-22s %12.0f %12.0f %16s %16s\n" "$(printf "batch %3d samples/s" "$b")" "$k" "$t" \
        "$(ratio "$k" "$t")" "$(ratio "$(median "ks_cpu_sps_$b" "$tmp/all")" "$(median "torch_cpu_sps_$b" "$tmp/all")")"
done
printf 'spread (max-min)/median: ksearch %s%% %s%%, PyTorch %s%% %s%%\n' \
    "$(spread ks_sps_32 "$tmp/all")" "$(spread ks_sps_128 "$tmp/all")" \
    "$(spread torch_sps_32 "$tmp/all")" "$(spread torch_sps_128 "$tmp/all")"
printf 'allocations per training step, engine: %g (batch 32), %g (batch 128)\n' \
    "$(median ks_allocs_per_step_32 "$tmp/all")" "$(median ks_allocs_per_step_128 "$tmp/all")"
bad=$(awk '$1 == "RESULT" && $2 ~ /^ks_allocs_per_step_/ && $3 != 0' "$tmp/all" | wc -l)
if [[ $bad -ne 0 ]]; then
    echo "FAIL: the engine allocated memory inside a training step"
    exit 1
fi
