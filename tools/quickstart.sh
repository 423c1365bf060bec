#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up, builds and runs shakedown's main job. Until the path engine lands
# that is: build Chrome's post-quantum ClientHello and dissect it, then
# dissect a real Chromium 156 capture and show where its two TCP segments cut
# the X25519MLKEM768 key share.
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/setup-deps.sh
cmake -S . -B build > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }

sd=build/shakedown
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== shakedown list profiles"
"$sd" list profiles
echo
echo "== shakedown hello --profile chrome-pq --sni example.com --out hello.bin"
"$sd" hello --profile chrome-pq --sni example.com --out "$out/hello.bin"
echo
echo "== shakedown dissect hello.bin"
"$sd" dissect "$out/hello.bin" | head -8
fixture=$root/../shared/fixtures/chromium-156-clienthello.pcap
if [ -f "$fixture" ]; then
  echo
  echo "== shakedown dissect chromium-156-clienthello.pcap (a real browser, two connections)"
  "$sd" dissect "$fixture" | grep -E '^ClientHello|segments|cut at|^ServerHello|selected'
fi
