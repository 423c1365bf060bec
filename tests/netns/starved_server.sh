#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The split-ClientHello cells keep their verdict when the server's thread
# wakes late. A single-read server judges its first read; the shape's gap
# is there to end that read before the next segment arrives. On a loaded
# machine (ASan, two matrices on two cores) its thread could wake after
# the gap and read both segments at once: the cell flipped from reset to
# ok. The engine now holds a piece after a pause until the server has read
# the acknowledged bytes before it (timing_ms.held).
#
# The late wake-up is injected, so that it happens every time:
# SHAKEDOWN_FAULT_SERVER_STALL_MS makes the server thread sleep before
# each connection's first read, as a descheduled thread would.
#
#   engine ──seg 1──▶ server kernel (ACK) ··· thread asleep 60 ms ··· read(seg 1) → reset
#          ◀─ ACK ── gap 20 ms · held until the read · seg 2 (never needed)
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"

# Every profile that needs two segments, at three gaps, to a single-read
# server; the expectations are the default matrix's.
cat > "$TMP/m.ini" <<'EOF'
[matrix]
description = split hellos to a single-read server whose thread wakes late
seed = starved
[cells starved]
profiles = chrome-pq firefox-pq openssl35 kyber-draft p384-mlkem1024 mlkem1024
paths = clean
servers = single-read
shapes = gap:5 gap:20 gap:40
[expect]
reset = * clean single-read
EOF

rc=0
SHAKEDOWN_FAULT_SERVER_STALL_MS=60 "$S" matrix "$TMP/m.ini" -q --json "$TMP/m.json" \
  2> "$TMP/m.err" || rc=$?
check "matrix exit 0: every cell reset as expected ($(head -c 300 "$TMP/m.err"))" test "$rc" -eq 0
cells=$(jq '.cells | length' "$TMP/m.json")
check "$cells cells ran, want 18" test "$cells" -eq 18
jq_is "the server's first read is the first segment in every cell" "$TMP/m.json" \
  '[.cells[] | select(.server_report.reads[0] != .flight.segments[0])] | length' 0
# Every cell waited for the server: the stall (60 ms) is longer than each gap.
jq_is "every cell was held" "$TMP/m.json" '[.cells[] | select(.timing_ms.held > 0)] | length' 18
jq_is "each hold lasted the stall less the gap, give or take" "$TMP/m.json" \
  '[.cells[] | (60 - (.shape | ltrimstr("gap:") | tonumber)) as $w
   | select(.timing_ms.held < $w - 5 or .timing_ms.held > $w + 100)] | length' 0
echo "held: $(jq -c '[.cells[] | .timing_ms.held]' "$TMP/m.json") ms"

# Without the fault the same cells hold for nothing: a pause costs no more
# than the shape asks on an idle machine.
rc=0
"$S" matrix "$TMP/m.ini" -q --json "$TMP/idle.json" 2> "$TMP/idle.err" || rc=$?
check "idle: exit 0" test "$rc" -eq 0
jq_is "idle: held at most 5 ms in any cell" "$TMP/idle.json" '[.cells[] | select(.timing_ms.held > 5)] | length' 0

# The correct server is never held for: it reads whatever came.
SHAKEDOWN_FAULT_SERVER_STALL_MS=60 "$S" run --json --profile chrome-pq --path clean --shape gap:20 \
  > "$TMP/openssl.json" 2> "$TMP/openssl.err" || true
jq_is "openssl server: ok, not held" "$TMP/openssl.json" '[.outcome, .timing_ms.held] | join(" ")' "ok 0"

# A blackholed piece is never acknowledged, so it is never held: the
# black hole is decided as fast as without the fault.
SHAKEDOWN_FAULT_SERVER_STALL_MS=60 "$S" run --json --profile chrome-pq --path tunnel-1280-blackhole \
  --server single-read --shape gap:20 > "$TMP/bh.json" 2> "$TMP/bh.err" || true
jq_is "black hole: blackhole, not held" "$TMP/bh.json" '[.outcome, .timing_ms.held] | join(" ")' "blackhole 0"
check "no temporary file left" test -z "$(ls -A "$TMPDIR")"
finish
