#!/usr/bin/env bash
# rank0.sh — what one controller sustains (`make MPI=1 bench-rank0`): bench_rank0 under
# mpirun with 2, 4, 8 and 16 simulated worker ranks (oversubscribed: -np N+1 on any
# machine) that send the seed MLP's epoch records as fast as they can, under three
# checkpoint policies; rank 0 commits each into study.db and TensorBoard as a study's
# controller does.  Prints the epoch reports per second and checkpoint MB/s rank 0
# sustained.  See README's "Scaling out" for what the figures mean.
#   bash bench/rank0.sh [BENCH_RANK0]
#   env: RANK0_SECONDS=5 RANK0_RANKS="2 4 8 16" RANK0_CKPT_MB=2
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-}
seconds=${RANK0_SECONDS:-5}
ranks=${RANK0_RANKS:-2 4 8 16}
mb=${RANK0_CKPT_MB:-2}
if ! command -v mpirun >/dev/null; then
    echo "rank0.sh: no mpirun (Open MPI): make deps" >&2
    exit 1
fi
if [[ -z $bin ]]; then
    make -C "$root" MPI=1 -j2 build-mpi/bench/bench_rank0 >/dev/null
    bin=$root/build-mpi/bench/bench_rank0
fi
[[ $bin == /* ]] || bin=$PWD/$bin
[[ -x $bin ]] || { echo "rank0.sh: $bin is not built" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# policy rows: a name, --every K (0: no checkpoint while training), --histograms
policies=("every epoch, histograms:1:1" "every 10 epochs, histograms:10:1" "at the end only:0:0")
echo "== rank 0 alone: simulated worker ranks send the seed MLP's epoch records for ${seconds} s"
echo "   (logs; histograms of its 6 weights; a ${mb} MB checkpoint, last and best, as the policy says)"
echo "   $(getconf _NPROCESSORS_ONLN) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(mpirun --version 2>/dev/null | head -1)"
printf '%-8s  %-28s  %9s  %10s  %13s\n' "workers" "checkpoints" "reports" "reports/s" "checkpoint MB/s"
for n in $ranks; do
    for p in "${policies[@]}"; do
        IFS=: read -r name every hist <<<"$p"
        rm -rf "$scratch/run"
        line=$(mpirun --allow-run-as-root --oversubscribe --quiet -np $((n + 1)) "$bin" \
            "$scratch/run" --seconds "$seconds" --every "$every" --histograms "$hist" \
            --checkpoint-mb "$mb")
        read -r workers _ _ _ reports _ rate ckpt <<<"$line"
        printf '%-8s  %-28s  %9s  %10s  %13s\n' "$workers" "$name" "$reports" "$rate" "$ckpt"
    done
done
