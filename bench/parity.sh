#!/usr/bin/env bash
# parity.sh — the convolutional layers against PyTorch (`make bench-parity`): builds
# parity_conv (the engine side) and runs parity.py, which compares every layer kind's
# outputs and gradients (1e-4) and 200 SGD steps of the studies' CNN (1e-3); one
# thread each side.  Installs python3-torch once if missing.  Exit 1 if a check fails.
#   bash bench/parity.sh [PARITY_CONV] [IDX_PREFIX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
bin=${1:-}
. "$here/lib.sh"
need_torch parity.sh
if [[ -z $bin ]]; then
    make -C "$root" -j2 build/bench/parity_conv >/dev/null
    bin=$root/build/bench/parity_conv
fi
[[ $bin == /* ]] || bin=$PWD/$bin
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cd "$here"
exec "$python" "$here/parity.py" "$bin" "${@:2}"
