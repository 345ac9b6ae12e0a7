#!/bin/bash
# SPDX-License-Identifier: MIT
# manifold-healthcheck PORT [PATH] - exit 0 when http://127.0.0.1:PORT/PATH (default
# /healthz) answers 200.  The image's HEALTHCHECK: bash's /dev/tcp, no curl needed.
set -u
port=${1:-8081}
path=${2:-/healthz}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 3 _ status _ <&3 || exit 1
[ "$status" = 200 ]
