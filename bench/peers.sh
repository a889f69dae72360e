# peers.sh — sourced by the benchmark scripts: installs their PyTorch peer once.
# need_torch SCRIPT PYTHON: Debian's python3-torch and python3-numpy for PYTHON (which
# must be Debian's /usr/bin/python3; a pyenv python3 does not see Debian's packages),
# installed with apt-get when missing (as root; on this machine 148 MB of packages).
need_torch() {
    local script=$1 python=$2
    "$python" -c 'import torch, numpy' 2>/dev/null && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "$script: PyTorch is missing: run as root, or apt-get install python3-torch python3-numpy" >&2
        exit 1
    fi
    echo "installing python3-torch python3-numpy (once; large)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-torch python3-numpy >/dev/null
}
