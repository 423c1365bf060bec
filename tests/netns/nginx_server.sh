#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --server nginx: Debian's nginx (OpenSSL 3.0) started in the server
# namespace with the lab certificate, judged like any server from the
# captures and the client's own TLS session; nothing of it outlives a run.
#
#   client(engine) ──link0── hop(s) ──linkN── server(nginx, kernel TCP)
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
command -v nginx >/dev/null || { echo "no nginx: skip"; exit 77; }

cell() {
  local name=$1; shift
  local rc=0
  SD_NGINX_TEST=$$ "$S" run --server nginx --seed "nginx-$name" --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  if [ $rc -ge 2 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}
# The harness's private directories go under TMPDIR: it must end empty.
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
# Other users' nginx (apt starts one; other labs run theirs) do not count:
# ours carry this test's marker in their environment.
ours() {
  local n=0 p
  for p in $(pgrep -x nginx); do grep -qsa "SD_NGINX_TEST=$$" /proc/"$p"/environ && n=$((n + 1)); done
  echo "$n"
}

cell clean --profile chrome-pq --path clean
jq_is "chrome-pq: ok, X25519 (OpenSSL 3.0 has no ML-KEM)" "$TMP/clean.json" '"\(.outcome) \(.negotiated.group) \(.negotiated.handshake_completed)"' "ok x25519 true"
jq_is "nginx's flight reached the client" "$TMP/clean.json" '.server_flight_bytes > 1000' true
cell hrr --profile p256-mlkem768 --path clean
jq_is "PQ-only shares: HelloRetryRequest to X25519" "$TMP/hrr.json" '"\(.outcome) \(.negotiated.group)"' "ok-hrr x25519"
cell gap --profile chrome-pq --path clean --shape gap:50
jq_is "a split hello with a gap: nginx reassembles it" "$TMP/gap.json" .outcome ok
cell bh --profile chrome-pq --path tunnel-1280-blackhole
jq_is "black hole still named" "$TMP/bh.json" '"\(.outcome) \(.detail.breaking)"' "blackhole tunnel"
cell v6 --profile chrome-pq --path ipv6-1280 --ipv6
jq_is "IPv6" "$TMP/v6.json" .outcome ok
cell mb --profile chrome-pq --path sslsplit-1k
jq_is "a middlebox in front of nginx" "$TMP/mb.json" '"\(.outcome) \(.detail.breaking)"' "reset sslsplit"
expect_exit 2 "--keylog is refused" "$S" run --server nginx --profile chrome-pq --path clean --keylog "$TMP/k"
check "no nginx of ours left running" test "$(ours)" -eq 0
check "no temp directory left" test -z "$(ls -A "$TMPDIR")"
finish
