#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Two matrices at the same time do not disturb each other's verdicts: the
# default matrix (every profile through every default path to every
# server, IPv4 and IPv6) runs once alone, then twice at once, and every
# cell's outcome of both concurrent runs must equal the solo run's.
#
#   shakedown matrix A: its labs (anonymous namespaces)  ┐ same host, same
#   shakedown matrix B: its labs (anonymous namespaces)  ┘ moment, no sharing
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
M=${SD_CONCURRENT_MATRIX:-default}

outcomes() { jq -r '.cells[] | "\(.id)\t\(.outcome)"' "$1" | sort; }
# Single-read cells whose server read more than the first segment at once:
# what a loaded machine did before the engine held a paused piece until
# the server had read (tests/netns/starved_server.sh). Listed to explain a
# difference; they are no longer excused.
merged() {
  jq -r '.cells[] | select(.server == "single-read" and (.server_report.reads // []) != []
    and .server_report.reads[0] > (.flight.segments[0] // 0)) | .id' "$1"
}

rc=0; "$S" matrix "$M" -q --json "$TMP/solo.json" 2> "$TMP/solo.err" || rc=$?
check "solo run completes (exit $rc: $(head -c 200 "$TMP/solo.err"))" test "$rc" -le 1
t0=$(date +%s%N)
"$S" matrix "$M" -q --json "$TMP/a.json" 2> "$TMP/a.err" & pa=$!
"$S" matrix "$M" -q --json "$TMP/b.json" 2> "$TMP/b.err" & pb=$!
ra=0; wait $pa || ra=$?
rb=0; wait $pb || rb=$?
echo "two concurrent runs of matrix '$M' in $(( ($(date +%s%N) - t0) / 1000000 )) ms (solo: $(jq .run.wall_ms "$TMP/solo.json") ms)"
check "concurrent run A completes (exit $ra)" test "$ra" -le 1
check "concurrent run B completes (exit $rb)" test "$rb" -le 1
outcomes "$TMP/solo.json" > "$TMP/solo.tsv"
cells=$(wc -l < "$TMP/solo.tsv")
check "the matrix has cells" test "$cells" -gt 0
for r in a b; do
  outcomes "$TMP/$r.json" > "$TMP/$r.tsv"
  diff "$TMP/solo.tsv" "$TMP/$r.tsv" | grep '^[<>]' > "$TMP/$r.diff"
  { merged "$TMP/solo.json"; merged "$TMP/$r.json"; } | sort -u > "$TMP/$r.load"
  changed=$(grep -c '^>' "$TMP/$r.diff")
  echo "run $r: $cells cells, $changed outcome(s) differ from the solo run"
  sed 's/^/  /' "$TMP/$r.diff"
  grep '^>' "$TMP/$r.diff" | cut -f1 | cut -c3- | sort > "$TMP/$r.ids"
  load=$(comm -12 "$TMP/$r.ids" "$TMP/$r.load" | wc -l)
  [ "$load" -gt 0 ] && echo "  of which $load where a single-read server read both segments at once"
  check "run $r: every cell's outcome equals the solo run's" test ! -s "$TMP/$r.ids"
done
check "no temporary file left" test -z "$(ls -A "$TMPDIR")"
finish
