#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The HTML matrix report in a real browser: `shakedown merge --html` renders
# the sample document, Debian's headless Chromium runs the page's script
# (--dump-dom) and the DOM is checked: the heatmap, the missed cell's mark,
# the #cell=ID deep link opening the drill-down with its ladder and field
# map, and that the page references nothing on the network.
# Skips (77) without chromium or before the CLI has `merge --html`.
# SD_HTML_RENDER="CMD" (called as CMD DOC OUT) replaces the CLI, e.g. the
# unit test's driver: SD_HTML_RENDER=build/tests/test_mreport_html.
. "$(dirname "$0")/../cli/lib.bash"
: "${SD_SOURCE_DIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
DOC=$SD_SOURCE_DIR/tests/data/matrix/sample.json
MISS='chrome-pq/clean/single-read/gap:50'

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "skip: no chromium"
  exit 77
fi
if [ -n "${SD_HTML_RENDER:-}" ]; then
  render() { $SD_HTML_RENDER "$1" "$2"; }
elif "$SHAKEDOWN" merge --help >/dev/null 2>&1; then
  # exit 1 only says a cell missed its expectation (the sample has one)
  render() { local rc=0; "$SHAKEDOWN" merge -q --html "$2" "$1" || rc=$?; [ "$rc" -le 1 ]; }
else
  echo "skip: $SHAKEDOWN has no merge --html yet"
  exit 77
fi

PAGE=$TMP/report.html
if ! render "$DOC" "$PAGE" || [ ! -s "$PAGE" ]; then
  bad "rendering $DOC"
  finish
  exit 1
fi

# dom URL OUT: the DOM after the page's script ran. A profile of our own,
# removed with $TMP; the browser is a child of this shell and exits by itself.
dom() {
  TMPDIR=$TMP timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run \
    --user-data-dir="$TMP/profile" --virtual-time-budget=5000 \
    --dump-dom "$1" >"$2" 2>"$TMP/chromium.err"
}

# All of a file on one line, so tags with newlines in attributes stay whole.
flat() { tr '\n' ' ' <"$1"; }
# The heatmap cells' hooks, "id outcome pass" per line, in page order.
cells() {
  flat "$1" | grep -o '<a class="cell [^"]*" href="[^"]*" data-cell-id="[^"]*" data-outcome="[^"]*" data-pass="[^"]*"' |
    sed -E 's/.*data-cell-id="([^"]*)" data-outcome="([^"]*)" data-pass="([^"]*)"/\1 \2 \3/'
}
# The heatmap cells of the document, from the document.
want_cells() { jq -r '.cells[] | "\(.id) \(.outcome) \(.pass)"' "$DOC" | sort; }

# -- the page as written: static, for text browsers and with JS off ---------
check "page has no http(s) URL" bash -c "! grep -Eqi 'https?://' '$PAGE'"
check "page fetches nothing (no src=, no <link>)" bash -c "! grep -Eqi '<(img|script|link|iframe)[^>]* (src|href)=' '$PAGE'"
got=$(cells "$PAGE" | sort)
if [ "$got" = "$(want_cells)" ]; then ok; else bad "static heatmap cells: got [$got]"; fi

# -- the page after its script: filters present, nothing open ----------------
dom "file://$PAGE" "$TMP/dom.html"
check "chromium dumped the DOM" test -s "$TMP/dom.html"
n=$(cells "$TMP/dom.html" | wc -l)
if [ "$n" -eq "$(jq '.cells | length' "$DOC")" ] && [ "$n" -eq 8 ]; then ok; else bad "heatmap has $n cell elements, want 8"; fi
got=$(cells "$TMP/dom.html" | sort)
if [ "$got" = "$(want_cells)" ]; then ok; else bad "heatmap data-outcome/data-pass differ: [$got]"; fi
# the one failing cell is marked: class miss, data-pass false and the mark
miss=$(flat "$TMP/dom.html" | grep -o '<a class="cell [^"]*" href="[^"]*" data-cell-id="'"$MISS"'"[^>]*>.\{0,400\}')
case $miss in
  *'class="cell o-reset miss'*'data-pass="false"'*'class="miss-mark"'*) ok ;;
  *) bad "failing cell not marked: ${miss:0:300}" ;;
esac
n=$(flat "$TMP/dom.html" | grep -o 'class="cell [^"]*miss[^"]*"' | wc -l)
if [ "$n" -eq 1 ]; then ok; else bad "$n cells marked missed, want 1"; fi
check "filters built by the script" grep -q 'id="f-text"' "$TMP/dom.html"
check "drill-down closed without #cell" grep -Eq '<aside id="drilldown"[^>]* hidden' "$TMP/dom.html"
check "DOM has no http(s) URL" bash -c "! grep -Eqi 'https?://' '$TMP/dom.html'"

# -- the deep link opens the missed cell's drill-down -------------------------
dom "file://$PAGE#cell=$(jq -rn --arg s "$MISS" '$s | @uri')" "$TMP/dd.html"
DD=$TMP/dd-only.html
flat "$TMP/dd.html" | sed -e 's/.*<aside id="drilldown"/<aside id="drilldown"/' -e 's/<\/aside>.*//' >"$DD"
check "drill-down open for the linked cell" grep -q "<aside id=\"drilldown\"[^>]*data-cell=\"$MISS\"" "$DD"
check "drill-down not hidden" bash -c "! grep -Eq '<aside id=\"drilldown\"[^>]* hidden' '$DD'"
check "drill-down shows the id" grep -q "<h2 class=\"dd-id\">$MISS</h2>" "$DD"
check "the heatmap cell is selected" grep -q "class=\"cell o-reset miss selected\"[^>]*data-cell-id=\"$MISS\"" "$TMP/dd.html"
check "evidence shown" grep -q 'RST from server after 1460 of 1931 client bytes' "$DD"
check "breaking hop shown" grep -q '<strong>server</strong>' "$DD"
# ladder: one row per ladder row, the links as columns
want=$(jq --arg id "$MISS" '.cells[] | select(.id == $id) | .ladder.rows | length' "$DOC")
n=$(grep -o '<tr class="lr [cs]2[cs][^"]*"' "$DD" | wc -l)
if [ "$n" -eq "$want" ] && [ "$n" -eq 6 ]; then ok; else bad "ladder rows: $n, want $want"; fi
check "ladder inside dd-ladder" grep -q 'id="dd-ladder"' "$DD"
check "ladder header names the links" grep -q 'client → router' "$DD"
check "ladder shows t in ms" grep -q '<td class="t">0.414</td>' "$DD"
check "ladder marks seen links" grep -q 'data-mark="seen"' "$DD"
# field map: one row per field, the truncation mark, the field it falls in
want=$(jq --arg id "$MISS" '.cells[] | select(.id == $id) | .hello_fields | length' "$DOC")
n=$(grep -o '<tr class="fm-row[^"]*"' "$DD" | wc -l)
if [ "$n" -eq "$want" ]; then ok; else bad "field map rows: $n, want $want"; fi
check "field map inside dd-fields" grep -q 'id="dd-fields"' "$DD"
check "truncation mark at 1460" grep -q 'id="dd-truncation" class="fm-cut[^"]*"[^>]*data-offset="1460"' "$DD"
cut=$(grep -o '<tr class="fm-row d[0-9] cut"[^>]*><td class="nm"[^>]*>[^<]*' "$DD" | sed 's/.*>//')
if [ "$cut" = "key_share entry X25519MLKEM768" ]; then ok; else bad "highlighted field: '$cut'"; fi
check "enclosing extension marked" grep -q '<tr class="fm-row d0 cut-parent"[^>]*><td class="nm"[^>]*>extension key_share' "$DD"
check "later fields marked lost" grep -q '<tr class="fm-row d0 lost"[^>]*><td class="nm"[^>]*>extension signature_algorithms' "$DD"
check "hops table" grep -q 'id="dd-hops"' "$DD"
check "pcaps section" grep -q 'id="dd-pcaps"' "$DD"

# -- a user-space hop's own counters (hop_stats) in the hops table ------------
jq --arg id "$MISS" '(.cells[] | select(.id == $id)) += { hop_stats: [{ hop: "router",
    drops: { loss: 0, inspect: 2 }, forged: { rst: 2, fin: 0, alert: 0 },
    inspector: { behaviour: "first-record-in-segment", action: "reset",
      why: "first TLS record incomplete in the first segment" } }] }' "$DOC" > "$TMP/stats.json"
if render "$TMP/stats.json" "$TMP/stats.html"; then
  dom "file://$TMP/stats.html#cell=$(jq -rn --arg s "$MISS" '$s | @uri')" "$TMP/stats-dom.html"
  check "hops table: drop reasons" grep -q '<td class="n">inspect 2</td>' "$TMP/stats-dom.html"
  check "hops table: the device's decision" \
    grep -q '<td class="n">first-record-in-segment → reset: first TLS record incomplete in the first segment</td>' "$TMP/stats-dom.html"
else
  bad "rendering a document with hop_stats"
fi

# -- an unknown id opens an explanation, not an error -------------------------
dom "file://$PAGE#cell=no/such/cell" "$TMP/none.html"
check "unknown cell explained" grep -q 'No cell with this id in the report.' "$TMP/none.html"

finish
