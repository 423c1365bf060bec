#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown topo up --keep / topo down: named namespaces a person can enter
# with `ip netns exec`, real TLS across them with stock openssl, and nothing
# left after `topo down`.
#
#   P-client (kernel owns 10.0.0.1) ── P-tunnel (mtu 1280) ── P-server (10.0.1.2)
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
P=sdt$$
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  "$S" topo down "$P" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT

"$S" topo up tunnel-1280-blackhole --keep --name "$P" > "$TMP/up.txt"
check "topo up --keep exits 0" test $? -eq 0
check "prints the namespaces" grep -q "namespaces: $P-client $P-tunnel $P-server" "$TMP/up.txt"
for n in client tunnel server; do
  check "ip netns sees $P-$n" bash -c "ip netns list | grep -q '^$P-$n'"
done
check "client kernel owns 10.0.0.1" bash -c "ip -n $P-client -4 addr show | grep -q 10.0.0.1/24"
check "tunnel link MTU 1280" bash -c "ip -n $P-server link show s0 | grep -q 'mtu 1280'"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=t \
  -keyout "$TMP/k.pem" -out "$TMP/c.pem" -days 1 2>/dev/null
ip netns exec "$P-server" openssl s_server -accept 4433 -cert "$TMP/c.pem" -key "$TMP/k.pem" \
  -tls1_3 -naccept 1 -quiet > /dev/null 2>&1 &
srv=$!
for _ in $(seq 1 100); do
  ip netns exec "$P-server" ss -Hltn 'sport = :4433' | grep -q . && break; sleep 0.02
done
echo | ip netns exec "$P-client" timeout 5 openssl s_client -connect 10.0.1.2:4433 -tls1_3 \
  > "$TMP/sc.txt" 2>&1
check "TLS 1.3 across the kept path with stock openssl" grep -q "TLSv1.3" "$TMP/sc.txt"

expect_exit 2 "topo up twice" "$S" topo up clean --keep --name "$P"
"$S" topo down "$P" > "$TMP/down.txt"
check "topo down exits 0" test $? -eq 0
check "topo down removed 3" grep -q "removed 3" "$TMP/down.txt"
check "no namespace left" bash -c "! ip netns list | grep -q '^$P-'"
expect_exit 2 "topo down again" "$S" topo down "$P"
expect_exit 2 "bad prefix" "$S" topo down "a-b"
expect_exit 2 "unknown path" "$S" topo up nowhere --keep
finish
