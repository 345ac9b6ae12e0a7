#!/bin/sh
# SPDX-License-Identifier: MIT
# Checks that committed generated files are current, where their generators can
# run here: the golden fixtures (needs Debian's python3-torch and
# ../shared/bench/ref_torch.py) and core/digits_data.c (needs python3-sklearn's
# digits.csv.gz).  Exit 77 (meson: skipped) when neither generator can run.
# usage: check_generated.sh SOURCE_ROOT
set -u
root=$1
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ran=0
fail=0

ref="$root/../shared/bench/ref_torch.py"
if [ -x "$py" ] && [ -f "$ref" ] && "$py" -c "import torch" >/dev/null 2>&1; then
    ran=1
    "$py" "$root/tests/golden/gen_golden.py" --ref-dir "$(dirname "$ref")" --out-dir "$tmp" 2>/dev/null
    for f in "$root"/tests/golden/*.safetensors; do
        "$py" "$root/tests/golden/compare_safetensors.py" "$f" "$tmp/$(basename "$f")" 1e-6 ||
            fail=$((fail + 1))
    done
else
    echo "skip golden fixtures: no python3-torch or ../shared/bench here"
fi

csv=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ -x "$py" ] && [ -f "$csv" ]; then
    ran=1
    "$py" "$root/tools/gen_digits_data.py" "$csv" "$tmp/digits_data.c" >/dev/null
    if cmp -s "$tmp/digits_data.c" "$root/core/digits_data.c"; then
        echo "core/digits_data.c: current"
    else
        echo "core/digits_data.c differs from tools/gen_digits_data.py's output"
        fail=$((fail + 1))
    fi
else
    echo "skip core/digits_data.c: no $csv here"
fi

[ "$ran" -eq 1 ] || exit 77
[ "$fail" -eq 0 ]
