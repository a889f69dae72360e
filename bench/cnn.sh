#!/usr/bin/env bash
# cnn.sh — the CNN benchmark (`make bench-cnn`): the studies' Fashion-MNIST CNN trained
# by ksearch (bench_cnn.c) and by PyTorch (torch_cnn.py) in this run, one thread each,
# at batch 32 and 128; run.sh with BENCH_MODEL=cnn (see bench/README.md).
#   bash bench/cnn.sh [BENCH_CNN]     env: BENCH_REPS=3 BENCH_STEPS=200 BENCH_EPOCHS=3
set -euo pipefail
BENCH_MODEL=cnn exec bash "$(cd "$(dirname "$0")" && pwd)/run.sh" "$@"
