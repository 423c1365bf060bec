#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs representative commands under valgrind memcheck and counts findings:
# memory errors, definite leaks, and file descriptors left open at exit
# other than 0, 1, 2 and those inherited from the parent. Without root
# only the commands that build no namespace run.
#
#   tools/valgrind.sh          exit 0 no finding, 1 findings, 2 usage, 3 no valgrind
#
# Commands: list, hello, dissect (record stream and pcap), bad input, and
# as root: run on clean, run through a black hole, run --server nginx,
# run through an exec hop (haproxy), an emulated censor reassembling IP
# fragments, run --server node-pq (when Node.js 24
# is found), a matrix of a few cells writing JSON and HTML. The verdicts
# do not matter here (valgrind slows the harness twenty-fold): its exit
# codes 0..4 are accepted, valgrind's own (99) is a finding.
set -uo pipefail
case ${1:-} in -h|--help) sed -n '3,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0;; esac
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
S=${SHAKEDOWN:-$root/build/shakedown}
[ -x "$S" ] || { echo "valgrind.sh: no binary at $S (build first, or set SHAKEDOWN)" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "valgrind.sh: no valgrind (bash tools/setup-deps.sh)" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp/tmpdir
mkdir -p "$TMPDIR"
FX=$root/../shared/fixtures/chromium-156-clienthello.pcap

n=0 findings=0
vg() {
  local name=$1 rc=0 log errs leaks fds; shift
  n=$((n + 1))
  log=$tmp/$name.log
  valgrind -q --track-fds=yes --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --error-exitcode=99 --log-file="$log" \
    --suppressions="$root/tools/valgrind.supp" \
    "$S" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || rc=$?
  errs=$(grep -c 'ERROR SUMMARY: [1-9]' "$log")
  leaks=$(grep -c 'definitely lost in' "$log")
  # "Open file descriptor N: ..." not followed by "<inherited from parent>".
  fds=$(awk '/Open (file descriptor|AF_[A-Z0-9]* socket) [0-9]+/ {
      match($0, /(descriptor|socket) [0-9]+/); fd = substr($0, RSTART, RLENGTH); sub(/.* /, "", fd)
      pending = (fd > 2) ? fd : ""; next }
    pending != "" && /inherited from parent/ { pending = ""; next }
    pending != "" && /==[0-9]+==  *$/ { c++; pending = ""; next }
    END { if (pending != "") c++; print c + 0 }' "$log")
  if [ "$rc" -eq 99 ] || [ "$rc" -gt 4 ] || [ $((errs + leaks + fds)) -gt 0 ]; then
    findings=$((findings + 1))
    echo "FINDING $name (exit $rc, $errs error summaries, $leaks definite leaks, $fds fds left open):"
    sed 's/^/  /' "$log" | head -60
  else
    echo "ok $name (exit $rc)"
  fi
}

vg list-profiles list profiles
vg list-paths list paths --json
vg hello hello --profile chrome-pq --seed 1 --json
"$S" hello --profile firefox-pq --seed 1 --out "$tmp/h.bin" > /dev/null
vg dissect-records dissect "$tmp/h.bin" --json
[ -f "$FX" ] && vg dissect-pcap dissect "$FX"
vg bad-path run --profile classic --path "$tmp/nope.ini"
if [ "$(id -u)" -eq 0 ]; then
  vg run-clean run --profile chrome-pq --path clean --json
  vg run-blackhole run --profile chrome-pq --path tunnel-1280-blackhole --pcap-dir "$tmp/pcaps"
  vg run-nginx run --profile chrome-pq --path clean --server nginx
  vg run-haproxy run --profile chrome-pq --path haproxy-sni --sni example.com
  vg run-defrag run --profile chrome-pq --path censor-first-record --shape ipfrag:600 --json
  if "$S" run --profile classic --path clean --server node-pq > /dev/null 2>&1; then
    vg run-node-pq run --profile chrome-pq --path clean --server node-pq
  else
    echo "skip run-node-pq: no Node.js 24"
  fi
  vg matrix matrix bench --only '*/mss-536/*' --jobs 2 -q --json "$tmp/m.json" --html "$tmp/m.html"
else
  echo "skip the commands that build namespaces: not root"
fi
echo "valgrind: $n commands, $findings with findings"
[ "$findings" -eq 0 ]
