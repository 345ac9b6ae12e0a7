#!/bin/sh
# SPDX-License-Identifier: MIT
# Drives manifold-train as a user would: every command's --help, the errors a
# script relies on (exit 2 for usage errors, 1 for failures, a message naming
# the problem, every error line starting "manifold-train: "), and a tiny
# train -> sample -> eval round trip.
# usage: test_manifold_train.sh PATH/TO/manifold-train
set -u
MT=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

# A failure's error line, the stderr line with the expected message, starts with the
# program's name ("manifold-train: ..."), and no line with "error:".
prefixed() { # expected substring
    grep -- "$1" "$tmp/err" | head -n 1 | grep -q '^manifold-train: ' &&
        ! grep -q 'error:' "$tmp/err"
}

check() { # name, expected exit code, expected stderr/stdout substring, command...
    name=$1 want_rc=$2 want_msg=$3
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -ne "$want_rc" ] || ! grep -q -- "$want_msg" "$tmp/out" "$tmp/err"; then
        echo "FAIL $name: exit $rc (want $want_rc), output:"
        cat "$tmp/out" "$tmp/err" | head -5
        fail=$((fail + 1))
    elif [ "$want_rc" -ne 0 ] && ! prefixed "$want_msg"; then
        echo "FAIL $name: the error does not start with 'manifold-train: ':"
        head -3 "$tmp/err"
        fail=$((fail + 1))
    else
        pass=$((pass + 1))
    fi
}

check "top help" 0 "commands:" "$MT" --help
check "no command" 2 "missing COMMAND" "$MT"
check "unknown command" 2 "unknown command 'fly'" "$MT" fly
for c in train sample eval; do
    check "$c help" 0 "usage: manifold-train $c" "$MT" "$c" --help
done
check "train needs args" 2 "needs --dataset and --out" "$MT" train
check "unknown dataset" 2 "unknown data set 'moons'" "$MT" train --dataset moons --out "$tmp/x"
check "unknown option" 2 "unknown option '--stepz'" "$MT" train --dataset ring --stepz 3
check "missing value" 2 "needs a value" "$MT" train --dataset ring --out
check "bad seed" 2 "--seed needs a non-negative integer" "$MT" sample --model x --seed -1
check "bad number" 2 "--steps needs a number" "$MT" train --dataset ring --out "$tmp/x" --steps 10x
check "negative" 2 "--batch needs a number" "$MT" train --dataset ring --out "$tmp/x" --batch -4
check "out of range" 2 "--lr needs a number" "$MT" train --dataset ring --out "$tmp/x" --lr 5
check "bad hidden" 2 "bad --hidden" "$MT" train --dataset ring --out "$tmp/x" --hidden 8,,8
check "odd emb" 2 "bad --hidden" "$MT" train --dataset ring --out "$tmp/x" --emb 7
check "bad schedule" 1 "schedule" "$MT" train --dataset ring --out "$tmp/x" --schedule cubic:1
check "no such model" 1 "$tmp/none" "$MT" sample --model "$tmp/none"
once() { # name, path: stderr names the file exactly once (its directory and its base name too)
    n=$(grep -o -F -- "$2" "$tmp/err" | wc -l)
    b=$(grep -o -F -- "$(basename "$2")" "$tmp/err" | wc -l)
    d=$(grep -o -F -- "$(dirname "$2")" "$tmp/err" | wc -l)
    if [ "$n" -eq 1 ] && [ "$b" -eq 1 ] && [ "$d" -eq 1 ]; then
        pass=$((pass + 1))
    else
        echo "FAIL $1: '$2' named $n times, its base name $b times, its directory $d times:"
        cat "$tmp/err"
        fail=$((fail + 1))
    fi
}
once "no such model" "$tmp/none"
printf 'not a model' >"$tmp/junk.safetensors"
check "junk model" 1 "junk.safetensors" "$MT" sample --model "$tmp/junk.safetensors"
once "junk model" "$tmp/junk.safetensors"
mkdir "$tmp/adir"
check "a directory as the model" 1 "$tmp/adir" "$MT" sample --model "$tmp/adir"
once "a directory as the model" "$tmp/adir"
check "unwritable out" 1 "/nonexistent/dir/m.safetensors" "$MT" train --dataset ring \
    --out /nonexistent/dir/m.safetensors --steps 2 --hidden 8 --emb 4 --batch 8
once "unwritable out" /nonexistent/dir/m.safetensors

# A tiny model end to end.
check "train" 0 "wrote" "$MT" train --dataset ring --out "$tmp/ring.safetensors" --steps 60 \
    --hidden 16,16 --emb 8 --batch 64 --warmup 10 --threads 1
check "no temp left" 0 "ring.safetensors" ls "$tmp"
# The progress line (a line per tenth in a log): the held-out loss is '-' until its first
# evaluation (--eval-every 30: half way), never nan.
check "train progress" 0 "held-out -" "$MT" train --dataset ring --out "$tmp/ring2.safetensors" \
    --steps 60 --hidden 16 --emb 8 --batch 64 --warmup 10 --threads 1 --eval-every 30
steps=$(grep -c '^step .*held-out' "$tmp/err")
if [ "$steps" -ge 5 ] && ! grep -qi 'nan' "$tmp/err" &&
    grep '^step 60/60' "$tmp/err" | grep -q 'held-out [0-9]'; then
    pass=$((pass + 1))
else
    echo "FAIL train progress: $steps progress lines, or a nan, or no held-out figure at the end:"
    cat "$tmp/err"
    fail=$((fail + 1))
fi
rm -f "$tmp/ring2.safetensors"
# --png on a 2-D model: a usage error said before any sampling (nothing on stdout)
check "png on a 2-D model" 2 "draws 8x8 digit grids" "$MT" sample --model "$tmp/ring.safetensors" \
    --png "$tmp/ring.png"
[ ! -s "$tmp/out" ] && pass=$((pass + 1)) || { echo "FAIL --png: samples printed before the refusal"; fail=$((fail + 1)); }
[ "$(ls "$tmp" | grep -c tmp)" -eq 0 ] && pass=$((pass + 1)) || { echo "FAIL temp file left"; fail=$((fail + 1)); }
check "sample csv" 0 "," "$MT" sample --model "$tmp/ring.safetensors" --n 5 --steps 20 --threads 1
lines=$("$MT" sample --model "$tmp/ring.safetensors" --n 7 --steps 10 --threads 1 | wc -l)
[ "$lines" -eq 7 ] && pass=$((pass + 1)) || { echo "FAIL sample: $lines lines, want 7"; fail=$((fail + 1)); }
check "unwritable samples" 1 "/nonexistent/dir/s.csv" "$MT" sample --model "$tmp/ring.safetensors" \
    --n 2 --steps 5 --out /nonexistent/dir/s.csv
once "unwritable samples" /nonexistent/dir/s.csv
check "sample json" 0 "]]" "$MT" sample --model "$tmp/ring.safetensors" --n 2 --steps 5 --format json
check "bad sampler" 2 "unknown sampler 'euler'" "$MT" sample --model "$tmp/ring.safetensors" --sampler euler
check "bad precision" 2 "unknown precision 'fp8'" "$MT" sample --model "$tmp/ring.safetensors" \
    --precision fp8
check "sample in bf16" 0 "," "$MT" sample --model "$tmp/ring.safetensors" --n 5 --steps 20 \
    --threads 1 --precision bf16
check "too many steps" 2 "exceeds the schedule" "$MT" sample --model "$tmp/ring.safetensors" --steps 5000
check "png on 2-D with --n" 2 "draws 8x8 digit grids" "$MT" sample --model "$tmp/ring.safetensors" \
    --n 2 --steps 5 --png "$tmp/x.png"
check "eval" 0 "sw2_floor" "$MT" eval --model "$tmp/ring.safetensors" --n 50 --reps 2 --steps 20 \
    --threads 1
check "eval metrics" 0 '"entropy_knn":{"value"' "$MT" eval --model "$tmp/ring.safetensors" \
    --n 50 --reps 1 --steps 20 --nll-n 20 --ode-entropy-n 20 --ode-steps 10 --threads 1
check "eval likelihood" 0 '"likelihood":{"nll"' "$MT" eval --model "$tmp/ring.safetensors" \
    --n 50 --reps 1 --steps 20 --nll-n 20 --ode-steps 10 --threads 2
check "eval ode entropy" 0 '"ode_entropy":{"nll"' "$MT" eval --model "$tmp/ring.safetensors" \
    --n 50 --reps 1 --steps 20 --nll-n 0 --ode-entropy-n 20 --ode-steps 10
check "eval bad div" 2 "auto, exact or hutchinson" "$MT" eval --model "$tmp/ring.safetensors" \
    --div fast
check "eval bad kernel" 2 "rbf or cosine" "$MT" eval --model "$tmp/ring.safetensors" \
    --vendi-kernel poly
check "eval bad grid" 2 "below --hi" "$MT" eval --model "$tmp/ring.safetensors" --lo 2 --hi 1
check "eval k too large" 2 "--k needs a number in \[1, 64\]" "$MT" eval --model "$tmp/ring.safetensors" --k 65
# Same seed, same samples (determinism through the whole tool).
a=$("$MT" sample --model "$tmp/ring.safetensors" --n 4 --steps 10 --seed 3 --threads 1)
b=$("$MT" sample --model "$tmp/ring.safetensors" --n 4 --steps 10 --seed 3 --threads 1)
[ -n "$a" ] && [ "$a" = "$b" ] && pass=$((pass + 1)) || { echo "FAIL determinism"; fail=$((fail + 1)); }

echo "manifold-train: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
