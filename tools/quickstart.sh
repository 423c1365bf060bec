#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up, builds and runs shakedown's main job: the default compatibility
# matrix (netns/matrices/default.ini) — every built-in ClientHello profile
# through tunnels, a clamped MSS, PMTUD black holes, a fragment-dropping
# firewall and a split-ClientHello server bug, over IPv4 and IPv6 — with
# the HTML, JUnit and JSON reports in ./shakedown-report/. Without root it
# falls back to building and dissecting hellos (no namespaces).
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/setup-deps.sh
bash tools/setup-peers.sh --print-node > /dev/null   # Node.js 24 for the post-quantum server
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

out=shakedown-report
mkdir -p "$out"
status=0
"$sd" matrix --json "$out/matrix.json" --junit "$out/junit.xml" --markdown "$out/summary.md" \
  --html "$out/report.html" || status=$?
echo
echo "reports: $out/report.html (open it in a browser), junit.xml, summary.md, matrix.json"
echo
echo "why the post-quantum hello dies in the black hole:"
"$sd" run --profile chrome-pq --path tunnel-1280-blackhole --seed quickstart | sed -n '/outcome/,$p'
exit $status
