#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up, builds and runs shakedown's main job. Until matrix files land,
# that is a small matrix of `shakedown run` cells: a classic and a
# post-quantum ClientHello through the built-in paths, each judged from what
# every hop saw. Without root it falls back to building and dissecting
# hellos (no namespaces).
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/setup-deps.sh
cmake -S . -B build > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
sd=build/shakedown

if [ "$(id -u)" -ne 0 ]; then
  echo "(not root: no namespaces; showing the wire core instead)"
  "$sd" hello --profile chrome-pq --sni example.com
  fixture=$root/../shared/fixtures/chromium-156-clienthello.pcap
  [ -f "$fixture" ] && "$sd" dissect "$fixture" | grep -E '^ClientHello|segments|cut at'
  exit 0
fi

paths=(clean pppoe-1492 wireguard-1420 tunnel-1300-pmtud tunnel-1280-blackhole mss-536)
profiles=(classic chrome-pq firefox-pq p384-mlkem1024)
printf '%-16s' profile
for p in "${paths[@]}"; do printf ' %-22s' "$p"; done
echo
status=0
for prof in "${profiles[@]}"; do
  printf '%-16s' "$prof"
  for p in "${paths[@]}"; do
    out=$("$sd" run --profile "$prof" --path "$p" --seed quickstart --json 2>&1) || true
    o=$(printf '%s' "$out" | sed -n 's/^  "outcome": "\(.*\)",$/\1/p')
    printf ' %-22s' "${o:-error}"
    [ -n "$o" ] || { status=1; echo; echo "$out" >&2; }
  done
  echo
done
echo
echo "why the post-quantum hello dies in the black hole:"
"$sd" run --profile chrome-pq --path tunnel-1280-blackhole --seed quickstart | sed -n '/outcome/,$p'
exit $status
