#!/bin/sh
# SPDX-License-Identifier: MIT
# Re-creates every shipped model with the exact commands recorded in
# models/README.md and in each file's "provenance" metadata.  Run from the
# repository root after a build:  sh models/train_all.sh
# The 2-D models train two at a time with one thread each (2-core machines),
# then digits with both threads.
set -eu
MT=${MT:-build/tools/manifold-train}
(
    $MT train --dataset eight_gaussians --out models/eight_gaussians.safetensors --steps 20000 --seed 1 --threads 1
    $MT train --dataset imbalanced_square --out models/imbalanced_square.safetensors --steps 20000 --seed 1 --threads 1
    $MT train --dataset swiss_roll --out models/swiss_roll.safetensors --steps 20000 --seed 1 --threads 1
) &
(
    $MT train --dataset gaussian --out models/gaussian.safetensors --steps 20000 --seed 1 --threads 1
    $MT train --dataset two_moons --out models/two_moons.safetensors --steps 20000 --seed 1 --threads 1
) &
wait
$MT train --dataset digits --out models/digits.safetensors --hidden 512,512,512 --batch 256 --lr 0.0005 --steps 40000 --seed 1 --threads 2 --dequantise
$MT sample --model models/digits.safetensors --n 60 --png models/digits_samples.png > /dev/null
