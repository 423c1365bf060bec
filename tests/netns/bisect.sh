#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown bisect, end to end: each search runs real cells (user-space
# client, real namespaces, OpenSSL server) and must land on the boundary the
# path's device really has; the cells on both sides are re-run with
# `shakedown run` to show they really differ.
#
#   client(engine) ──link0── hop ──link1── server(OpenSSL 3.0)
#        c0               h1l  h1r           s0
#   sslsplit-1k: hop buffers 1024 stream bytes   (size)
#   tunnel-1280-blackhole: link1 MTU varied, ICMP filtered (mtu)
#   censor-first-record: first record whole in the first segment (split)
#   ats-blind-tunnel, haproxy-peek: time between segments (gap)
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }

# bisect NAME ARGS...: the search as JSON into $TMP/NAME.json; exit code in $TMP/NAME.rc
bisect() {
  local name=$1; shift
  local rc=0
  "$S" bisect --seed "$name" --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  echo "$rc" > "$TMP/$name.rc"
  if [ $rc -ge 2 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}
# run_is DESCRIPTION WANT-OUTCOME ARGS...: one `run` cell's outcome
run_is() {
  local d=$1 want=$2; shift 2
  local got
  got=$("$S" run --json "$@" 2>"$TMP/run.err" | jq -r .outcome)
  if [ "$got" = "$want" ]; then ok; else bad "$d: run gave '$got', want '$want' ($(cat "$TMP/run.err"))"; fi
}
# within_bound NAME: cells_run <= ceil(log2(HI - LO)) + 2, from the range itself
within_bound() {
  local lo hi n k=0
  lo=$(jq .range[0] "$TMP/$1.json"); hi=$(jq .range[1] "$TMP/$1.json"); n=$(jq .cells_run "$TMP/$1.json")
  while [ $((1 << k)) -lt $((hi - lo)) ]; do k=$((k + 1)); done
  if [ "$n" -le $((k + 2)) ]; then ok; else bad "$1: $n cells for range $lo..$hi, bound $((k + 2))"; fi
}
# adjacent NAME LO-OUTCOME HI-OUTCOME: the two cells around the threshold
adjacent() {
  jq_is "$1: neighbours" "$TMP/$1.json" '.hi.value - .lo.value' 1
  jq_is "$1: low side" "$TMP/$1.json" .lo.cell.outcome "$2"
  jq_is "$1: high side" "$TMP/$1.json" .hi.cell.outcome "$3"
  jq_is "$1: threshold is the high side" "$TMP/$1.json" '.threshold == .hi.value' true
  jq_is "$1: flip" "$TMP/$1.json" .flip true
  jq_is "$1: exit 0" "$TMP/$1.rc" . 0
  jq_is "$1: probes in order, ends first" "$TMP/$1.json" \
    '[.probes[0].value, .probes[1].value] == .range and (.probes | length) == .cells_run' true
  within_bound "$1"
}

# ---- size: sslsplit's 1 KiB buffer counts record headers --------------------
limit=$(sed -n "s/^behaviours *=.*buffer-limit:\([0-9][0-9]*\).*/\1/p" "$SD_SOURCE_DIR/netns/paths/sslsplit-1k.ini")
[ "$limit" = 1024 ] || bad "sslsplit-1k buffer-limit is '$limit'"
bisect size --path sslsplit-1k --over size
adjacent size ok reset
# One record: stream = message + 5. The buffer holds 1024 stream bytes, so a
# message of 1019 (stream 1024) fits and 1020 (stream 1025) does not.
jq_is "size: threshold message bytes" "$TMP/size.json" .threshold $((limit - 5 + 1))
jq_is "size: threshold handshake length" "$TMP/size.json" .threshold_sizes.handshake_length $((limit - 5 + 1 - 4))
jq_is "size: threshold stream bytes" "$TMP/size.json" .threshold_sizes.stream_bytes $((limit + 1))
jq_is "size: stream bytes below" "$TMP/size.json" .threshold_sizes.below_stream_bytes "$limit"
jq_is "size: the hi cell's hello is that size" "$TMP/size.json" .hi.cell.flight.clienthello_bytes 1020
jq_is "size: ... and its wire bytes" "$TMP/size.json" .hi.cell.flight.wire_bytes 1025
jq_is "size: reset by the proxy" "$TMP/size.json" .hi.cell.detail.breaking sslsplit
jq_is "size: default profile classic" "$TMP/size.json" .profile classic
jq_is "size: starts below 1 KiB" "$TMP/size.json" '.range[0] < 1019' true
run_is "size: run --pad-to 1019" ok --profile classic --path sslsplit-1k --pad-to 1019 --seed size
run_is "size: run --pad-to 1020" reset --profile classic --path sslsplit-1k --pad-to 1020 --seed size
bisect size_range --path sslsplit-1k --over size --range 900:1100
adjacent size_range ok reset
jq_is "size, narrow range: same threshold" "$TMP/size_range.json" .threshold 1020
jq_is "size, narrow range: 10 cells at most" "$TMP/size_range.json" '.cells_run <= 10' true
# --confirm runs the neighbours again, outside the count: a buffer limit repeats.
bisect size_confirm --path sslsplit-1k --over size --range 900:1100 --confirm 2
jq_is "confirm: stable" "$TMP/size_confirm.json" .confirm.stable true
jq_is "confirm: low side again" "$TMP/size_confirm.json" '.confirm.lo_outcomes | join(",")' ok,ok
jq_is "confirm: high side again" "$TMP/size_confirm.json" '.confirm.hi_outcomes | join(",")' reset,reset
jq_is "confirm: not in cells_run" "$TMP/size_confirm.json" '.cells_run <= 10' true
jq_is "confirm: exit 0" "$TMP/size_confirm.rc" . 0

# ---- no flip: both ends the same, exit 1 -----------------------------------
bisect noflip --path clean --over size --range 600:3000
jq_is "no flip: exit 1" "$TMP/noflip.rc" . 1
jq_is "no flip: flag" "$TMP/noflip.json" .flip false
jq_is "no flip: no threshold" "$TMP/noflip.json" .threshold null
jq_is "no flip: two cells" "$TMP/noflip.json" .cells_run 2

# ---- mtu: the black hole starts where the largest segment no longer fits ---
bisect mtu --path tunnel-1280-blackhole --over mtu --profile chrome-pq
adjacent mtu blackhole ok
jq_is "mtu: the tunnel's link" "$TMP/mtu.json" .link tunnel
jq_is "mtu: threshold = largest segment + 40" "$TMP/mtu.json" '.threshold == (.hi.cell.flight.segments | max) + 40' true
jq_is "mtu: threshold_packet agrees" "$TMP/mtu.json" '.threshold_packet.largest_packet == .threshold' true
jq_is "mtu: the tunnel dropped it" "$TMP/mtu.json" .lo.cell.detail.breaking tunnel
t=$(jq .threshold "$TMP/mtu.json")
for m in $((t - 1)) "$t"; do
  printf '[path]\nclient_mtu = 1500\nserver_advmss = 1460\n[hop tunnel]\nbehaviours = mtu:%s, icmp-filter\n' "$m" > "$TMP/tun-$m.ini"
done
run_is "mtu: run at $((t - 1))" blackhole --profile chrome-pq --path "$TMP/tun-$((t - 1)).ini" --seed mtu
run_is "mtu: run at $t" ok --profile chrome-pq --path "$TMP/tun-$t.ini" --seed mtu

# The same kind of path, but a server advertising MSS 1200: segments of 1200
# bytes, so the black hole starts below 1240.
printf '[path]\nclient_mtu = 1500\nserver_advmss = 1200\n[hop tunnel]\nbehaviours = mtu:1280, icmp-filter\n' > "$TMP/tun-mss.ini"
bisect mtu_mss --path "$TMP/tun-mss.ini" --over mtu --profile chrome-pq
adjacent mtu_mss blackhole ok
jq_is "mtu, MSS 1200: threshold 1240" "$TMP/mtu_mss.json" .threshold 1240
jq_is "mtu, MSS 1200: segments of 1200" "$TMP/mtu_mss.json" '.hi.cell.flight.segments | max' 1200

bisect mtu6 --path tunnel-1280-blackhole --over mtu --profile chrome-pq --ipv6
adjacent mtu6 blackhole ok
jq_is "mtu, IPv6: range from 1280" "$TMP/mtu6.json" .range[0] 1280
jq_is "mtu, IPv6: threshold = largest segment + 60" "$TMP/mtu6.json" '.threshold == (.hi.cell.flight.segments | max) + 60' true

# ---- split: the censor wants the first record whole in the first segment ---
bisect split --path censor-first-record --over split --profile chrome-pq --shape records:1000
adjacent split reset ok
jq_is "split: threshold = first record + header" "$TMP/split.json" '.threshold == .hi.cell.flight.record_lengths[0] + 5' true
jq_is "split: 1005" "$TMP/split.json" .threshold 1005
jq_is "split: the low cell's first segment" "$TMP/split.json" .lo.cell.flight.segments[0] 1004
jq_is "split: the censor reset it" "$TMP/split.json" .lo.cell.detail.breaking censor
run_is "split: run split@1004" reset --profile chrome-pq --path censor-first-record --shape records:1000,split@1004 --seed split
run_is "split: run split@1005" ok --profile chrome-pq --path censor-first-record --shape records:1000,split@1005 --seed split

# ---- gap: a blind tunnel and an SNI peek that give up on a pause ------------
# Timers on a shared machine: the threshold is near the device's setting,
# not on it (under load a probe's pause runs long).
bisect gap_ats --path ats-blind-tunnel --over gap --range 0:100
adjacent gap_ats ok closed
jq_is "gap, ATS: near its 10 ms" "$TMP/gap_ats.json" '.threshold >= 4 and .threshold <= 20' true
jq_is "gap, ATS: closed by ats" "$TMP/gap_ats.json" .hi.cell.detail.breaking ats
bisect gap_peek --path haproxy-peek --over gap --range 0:100
adjacent gap_peek ok reset
jq_is "gap, peek: near its 5 ms" "$TMP/gap_peek.json" '.threshold >= 2 and .threshold <= 12' true
run_is "gap, peek: run gap:0" ok --profile chrome-pq --path haproxy-peek --shape gap:0
run_is "gap, peek: run gap:40" reset --profile chrome-pq --path haproxy-peek --shape gap:40

# ---- text output says what the size counts ---------------------------------
"$S" bisect --path sslsplit-1k --over size --range 900:1100 --seed text > "$TMP/text.out" 2>&1
check "text: names the unit" grep -q "4-byte header" "$TMP/text.out"
check "text: both sizes at the threshold" grep -q "handshake message 1020 bytes.*record stream 1025 bytes" "$TMP/text.out"
check "text: cells run" grep -q "cells run" "$TMP/text.out"
finish
