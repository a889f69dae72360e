# lib.sh — what the bench scripts share (source it): Debian's PyTorch installed once if
# missing (needs root), and medians, spreads and ratios of "RESULT name value" lines.

python=/usr/bin/python3         # Debian's python, where python3-torch lives (not a pyenv shim)

# need_torch SCRIPT: install python3-torch and python3-numpy unless present
need_torch() {
    "$python" -c 'import torch, numpy' 2>/dev/null && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "$1: PyTorch is missing: run as root, or apt-get install python3-torch python3-numpy" >&2
        exit 1
    fi
    echo "installing python3-torch python3-numpy (once; large)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3-torch python3-numpy >/dev/null
}

# median NAME FILE: the median of NAME's values in FILE ("RESULT NAME VALUE" lines)
median() {
    awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$2" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) print "nan";
              else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# spread NAME FILE: (max − min) / median, in percent
spread() {
    awk -v k="$1" '$1 == "RESULT" && $2 == k { print $3 }' "$2" | sort -g |
        awk '{ v[NR] = $1 } END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
              printf "%.1f", (m > 0 ? 100 * (v[NR] - v[1]) / m : 0) }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }'; }
