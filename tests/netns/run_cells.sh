#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown run, end to end: real namespaces, the user-space client, a real
# OpenSSL server, every hop captured. One cell per acceptance case.
#
#   client(engine) ──link0── hop(s) ──linkN── server(OpenSSL 3.0, kernel TCP)
#        c0                h1l  h1r            s0
#
# Each path file under netns/paths/ gives the hops and their behaviours.
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }

# cell NAME ARGS...: runs a cell, JSON into $TMP/NAME.json
cell() {
  local name=$1; shift
  "$S" run --seed "$name" --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err"
  local rc=$?
  if [ $rc -ge 2 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}

cell clean --profile chrome-pq --path clean
jq_is "clean: ok" "$TMP/clean.json" .outcome ok
jq_is "clean: two segments" "$TMP/clean.json" '.flight.segments | length' 2
jq_is "clean: X25519" "$TMP/clean.json" .negotiated.group x25519
jq_is "clean: handshake completed" "$TMP/clean.json" .negotiated.handshake_completed true
jq_is "clean: server completed too" "$TMP/clean.json" .server_report.handshake_completed true
jq_is "clean: pass" "$TMP/clean.json" .pass true

cell bh --profile chrome-pq --path tunnel-1280-blackhole
jq_is "blackhole: outcome" "$TMP/bh.json" .outcome blackhole
jq_is "blackhole: names the hop" "$TMP/bh.json" .detail.breaking tunnel
jq_is "blackhole: oversize drops at the hop" "$TMP/bh.json" '.hops[0].oversize_drops > 0' true
jq_is "blackhole: no ICMP reached the client" "$TMP/bh.json" .detail.icmp_reached_client false
jq_is "blackhole: nothing delivered" "$TMP/bh.json" .truncation.delivered 0
cell bh_classic --profile classic --path tunnel-1280-blackhole
jq_is "blackhole path, classic: ok" "$TMP/bh_classic.json" .outcome ok

cell pmtud --profile chrome-pq --path tunnel-1300-pmtud
jq_is "pmtud: ok" "$TMP/pmtud.json" .outcome ok
jq_is "pmtud: ICMP in the evidence" "$TMP/pmtud.json" '.flight.pmtu[0].mtu' 1300
jq_is "pmtud: re-segmented" "$TMP/pmtud.json" '[.flight.retransmissions[] | select(.length <= 1260)] | length > 0' true
cell nopmtud --profile chrome-pq --path tunnel-1300-pmtud --shape no-pmtud
jq_is "no-pmtud: blackhole" "$TMP/nopmtud.json" .outcome blackhole
jq_is "no-pmtud: the ICMP was ignored" "$TMP/nopmtud.json" '.flight.pmtu[0].ignored' true

cell mss --profile chrome-pq --path mss-536
jq_is "mss-536: ok" "$TMP/mss.json" .outcome ok
jq_is "mss-536: >= 4 segments" "$TMP/mss.json" '.flight.segments | length >= 4' true
cell rec --profile chrome-pq --path clean --shape records:512
jq_is "records:512: ok" "$TMP/rec.json" .outcome ok
jq_is "records:512: >= 4 records" "$TMP/rec.json" '.flight.records >= 4' true

cell v6 --profile chrome-pq --path ipv6-1280 --ipv6
jq_is "ipv6-1280: ok" "$TMP/v6.json" .outcome ok
jq_is "ipv6-1280: family" "$TMP/v6.json" .family ipv6
cell v6frag --profile chrome-pq --path v6-frag-drop --ipv6 --shape ipfrag:600
jq_is "v6-frag-drop ipfrag: frag-lost" "$TMP/v6frag.json" .outcome frag-lost
jq_is "v6-frag-drop: names the hop" "$TMP/v6frag.json" .detail.breaking firewall

cell single --profile chrome-pq --path clean --server single-read --shape gap:50
jq_is "single-read + gap: not ok" "$TMP/single.json" '.outcome != "ok"' true
jq_is "single-read + gap: the server broke it" "$TMP/single.json" .detail.breaking server

cell chain --profile chrome-pq --path clean --chain-size 20000
jq_is "chain-size 20000: ok" "$TMP/chain.json" .outcome ok
jq_is "chain-size 20000: flight >= 20000" "$TMP/chain.json" '.server_flight_bytes >= 20000' true

# Per-hop pcaps: valid checksums, readable by tshark, the hello in both.
cell pcaps --profile chrome-pq --path tunnel-1300-pmtud --pcap-dir "$TMP/pcaps"
jq_is "pcaps: ok" "$TMP/pcaps.json" .outcome ok
check "pcaps: one per veth end" test "$(ls "$TMP/pcaps" | wc -l)" -eq 6
check "pcaps: c0 and h1l saw the same frames" cmp -s "$TMP/pcaps/client-c0.pcap" "$TMP/pcaps/lan-h1l.pcap"
if command -v tshark > /dev/null; then
  for f in "$TMP"/pcaps/*.pcap; do
    n=$(tshark -r "$f" -o tcp.check_checksum:TRUE -o ip.check_checksum:TRUE \
      -Y '!icmp && (tcp.checksum.status == "Bad" || ip.checksum.status == "Bad")' 2>/dev/null | wc -l)
    # (ICMP errors quote a cut TCP header whose checksum cannot verify.)
    check "$(basename "$f"): no bad checksums" test "$n" -eq 0
  done
  n=$(tshark -r "$TMP/pcaps/lan-h1l.pcap" -Y 'tls.handshake.type == 1' 2>/dev/null | wc -l)
  check "lan-h1l.pcap: tshark sees the ClientHello" test "$n" -ge 1
  n=$(tshark -r "$TMP/pcaps/lan-h1l.pcap" -Y 'icmp.type == 3 && icmp.code == 4' 2>/dev/null | wc -l)
  check "lan-h1l.pcap: the frag-needed crossed toward the client" test "$n" -ge 1
fi

# Shapes through a clean path: the cut lands where asked, the server still
# reassembles, and the handshake completes.
cell split --profile chrome-pq --path clean --shape split@key_share.X25519MLKEM768
jq_is "split@field: ok" "$TMP/split.json" .outcome ok
jq_is "split@field: first segment ends at the share" "$TMP/split.json" '.flight.segments[0] < 700' true
cell rev --profile chrome-pq --path clean --shape order:reverse
jq_is "order:reverse: ok" "$TMP/rev.json" .outcome ok
cell dup --profile chrome-pq --path clean --shape dup,gap:5
jq_is "dup,gap: ok" "$TMP/dup.json" .outcome ok
cell frag4 --profile chrome-pq --path clean --shape ipfrag:600
jq_is "ipfrag:600 over IPv4: ok" "$TMP/frag4.json" .outcome ok
jq_is "ipfrag:600: fragments counted" "$TMP/frag4.json" '.flight.ip_fragments >= 3' true
cell splitoff --profile chrome-pq --path clean --shape split@100+600
jq_is "split@100+600: segments" "$TMP/splitoff.json" '.flight.segments[0:2] | join(",")' "100,500"

# HRR through the in-path server: a P-384-only client gets ok on X25519?
# (OpenSSL 3.0 prefers X25519; the p384 profile offers it without a share.)
cell hrr --profile p384-mlkem1024 --path clean
jq_is "HRR to x25519: ok-hrr" "$TMP/hrr.json" .outcome ok-hrr
jq_is "HRR group" "$TMP/hrr.json" .negotiated.group x25519

# Exit codes: a cell that misses its expectation exits 1; bad input 2.
"$S" run --profile chrome-pq --path tunnel-1280-blackhole > /dev/null 2>&1
check "blackhole exits 1" test $? -eq 1
"$S" run --profile chrome-pq --path tunnel-1280-blackhole --expect blackhole > /dev/null 2>&1
check "blackhole expected exits 0" test $? -eq 0
expect_exit 2 "unknown path" "$S" run --profile chrome-pq --path nowhere
expect_exit 2 "bad shape" "$S" run --profile chrome-pq --path clean --shape gap:99999
printf '[path]\ndescription = a 1000-byte tunnel\n[hop small]\nbehaviours = mtu:1000\n' > "$TMP/small.ini"
expect_exit 2 "ipv6 on a path below 1280" "$S" run --profile chrome-pq --path "$TMP/small.ini" --ipv6
cell small --profile chrome-pq --path "$TMP/small.ini"
jq_is "a user's path file: 1000-byte tunnel, PMTUD works" "$TMP/small.json" .outcome ok
expect_exit 2 "unknown field" "$S" run --profile chrome-pq --path clean --shape split@nonsense
# --detect: Cloudflare Radar's three checks, probed on the same path.
cell detect_ok --profile chrome-pq --path clean --detect
jq_is "detect: a correct server shows none" "$TMP/detect_ok.json" '[.detections[] | select(.exhibited)] | length' 0
jq_is "detect: the HRR probe went through an HRR" "$TMP/detect_ok.json" .detections.hrr_failure.hrr true
cell detect_sr --profile classic --path clean --server single-read --detect
jq_is "detect: single-read server fails the split hello" "$TMP/detect_sr.json" \
  '[.detections.split_clienthello.exhibited, .detections.split_clienthello.outcome, .detections.split_clienthello.breaking] | join(",")' \
  "true,reset,server"
jq_is "detect: ... and only that" "$TMP/detect_sr.json" '[.detections[] | select(.exhibited) | .name] | join(",")' "split ClientHello"
rc=0; "$S" run --profile classic --path clean --server single-read --detect > /dev/null 2>&1 || rc=$?
check "detect: a failure exhibited exits 1" test "$rc" -eq 1

finish
