#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Benchmark: one passing cell (chrome-pq through a 3-namespace path, TLS 1.3
# handshake against OpenSSL) as `shakedown run`, process start to exit,
# against the hand-written equivalent timed in the same invocation: `ip`
# commands for the namespaces and veths, `openssl s_server` and
# `openssl s_client`. Also: further cells on a built path (--repeat) and the
# time to decide a blackhole. Prints ratios; asserts nothing about speed.
# Usage: tools/bench_run.sh [N] (default 15 runs each). Needs root.
set -u
N=${1:-15}
SD=${SHAKEDOWN:-$(dirname "$0")/../build/shakedown}
[ "$(id -u)" -eq 0 ] || { echo "bench_run: needs root: skip"; exit 77; }
command -v openssl >/dev/null || { echo "bench_run: no openssl: skip"; exit 77; }
TMP=$(mktemp -d)
pfx=sdb$$
cleanup() {
  for n in c r s; do ip netns del "$pfx-$n" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench \
  -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 2>/dev/null

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The hand-written cell: what a person scripts with iproute2 and openssl.
hand_cell() {
  local c=$pfx-c r=$pfx-r s=$pfx-s
  ip netns add $c && ip netns add $r && ip netns add $s
  ip link add c0 netns $c type veth peer name r0 netns $r
  ip link add r1 netns $r type veth peer name s0 netns $s
  ip -n $c addr add 10.0.0.1/24 dev c0; ip -n $r addr add 10.0.0.2/24 dev r0
  ip -n $r addr add 10.0.1.1/24 dev r1; ip -n $s addr add 10.0.1.2/24 dev s0
  for x in "$c c0" "$r r0" "$r r1" "$s s0"; do set -- $x
    ip netns exec "$1" ethtool -K "$2" tso off gso off tx off >/dev/null 2>&1
    ip -n "$1" link set "$2" up; done
  ip -n $c link set lo up; ip -n $s link set lo up
  ip netns exec $r sysctl -qw net.ipv4.ip_forward=1
  ip -n $c route add default via 10.0.0.2; ip -n $s route add default via 10.0.1.1
  ip netns exec $s openssl s_server -accept 443 -cert "$TMP/cert.pem" -key "$TMP/key.pem" \
    -tls1_3 -naccept 1 -quiet >/dev/null 2>&1 &
  local srv=$! ok=1
  for _ in $(seq 1 200); do
    ip netns exec $s ss -Hltn 'sport = :443' 2>/dev/null | grep -q . && break; sleep 0.005
  done
  if echo | ip netns exec $c timeout 5 openssl s_client -connect 10.0.1.2:443 -tls1_3 \
      -groups X25519 >/dev/null 2>&1; then ok=0; fi
  kill $srv 2>/dev/null; wait $srv 2>/dev/null
  ip netns del $c; ip netns del $r; ip netns del $s
  return $ok
}

fail=0
for i in $(seq 1 "$N"); do
  t=$(now); "$SD" run --profile chrome-pq --path clean --seed "bench$i" >/dev/null || fail=1
  echo $(( ($(now) - t) / 1000 )) >> "$TMP/sd"
  t=$(now); hand_cell || fail=1
  echo $(( ($(now) - t) / 1000 )) >> "$TMP/hand"
done
sd=$(median < "$TMP/sd"); hand=$(median < "$TMP/hand")
"$SD" run --profile chrome-pq --path clean --repeat 100 --json > "$TMP/rep.json" || fail=1
"$SD" run --profile chrome-pq --path tunnel-1280-blackhole --expect blackhole --repeat 5 --json \
  > "$TMP/bh.json" || fail=1
rep=$(sed -n 's/.*"median": \([0-9]*\).*/\1/p' "$TMP/rep.json" | head -1)
bh=$(sed -n 's/.*"median": \([0-9]*\).*/\1/p' "$TMP/bh.json" | head -1)
awk -v sd="$sd" -v hand="$hand" -v rep="$rep" -v bh="$bh" -v n="$N" 'BEGIN {
  printf "passing cell, fresh path, process start to exit (median of %d):\n", n
  printf "  shakedown run          %8.1f ms\n", sd / 1000
  printf "  ip + openssl by hand   %8.1f ms\n", hand / 1000
  printf "  ratio                  %8.1fx faster\n", hand / sd
  printf "further cells on a built path (median of 100): %.2f ms each\n", rep / 1000
  printf "blackhole decided (median of 5): %.1f ms\n", bh / 1000
}'
[ $fail -eq 0 ] || { echo "bench_run: a cell failed"; exit 1; }
