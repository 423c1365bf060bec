#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Renders a matrix document's HTML report and screenshots it with headless
# Chromium, for looking at the page while working on it.
#
#   tools/report-screenshot.sh DOC.json OUT.png [CELL_ID]
#
# With CELL_ID the page opens at #cell=CELL_ID (the drill-down). Prints the
# PNG's path. The page is rendered by `$SHAKEDOWN merge --html` (SHAKEDOWN
# defaults to `shakedown` on PATH, else build/shakedown), or by the command
# in SD_HTML_RENDER (called as CMD DOC OUT), e.g. the unit test's driver
# build/tests/test_mreport_html. WINDOW=WxH changes the size (1400,1000);
# SCHEME=dark renders the dark palette.
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 DOC.json OUT.png [CELL_ID]" >&2
  exit 2
fi
doc=$1 png=$2 cell=${3:-}
here=$(cd "$(dirname "$0")/.." && pwd)
chromium=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chromium" ] || { echo "$0: chromium not found (apt-get install chromium)" >&2; exit 3; }
[ -r "$doc" ] || { echo "$0: cannot read $doc" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
page=$tmp/report.html

if [ -n "${SD_HTML_RENDER:-}" ]; then
  $SD_HTML_RENDER "$doc" "$page"
else
  sd=${SHAKEDOWN:-$(command -v shakedown || echo "$here/build/shakedown")}
  if ! "$sd" merge --help >/dev/null 2>&1; then
    echo "$0: $sd has no 'merge --html'; set SD_HTML_RENDER=build/tests/test_mreport_html" >&2
    exit 3
  fi
  # exit 1 only says some cell missed its expectation
  rc=0
  "$sd" merge -q --html "$page" "$doc" || rc=$?
  [ "$rc" -le 1 ] || exit "$rc"
fi

url="file://$page"
if [ -n "$cell" ]; then
  url="$url#cell=$(jq -rn --arg s "$cell" '$s | @uri')"
fi
scheme=()
if [ "${SCHEME:-}" = dark ]; then
  scheme=(--force-dark-mode --blink-settings=preferredColorScheme=0)
fi
case $png in /*) out=$png ;; *) out=$PWD/$png ;; esac
TMPDIR=$tmp timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
  --user-data-dir="$tmp/profile" --virtual-time-budget=5000 ${scheme[@]+"${scheme[@]}"} \
  --window-size="${WINDOW:-1400,1000}" --screenshot="$out" "$url" >/dev/null 2>"$tmp/err" || {
  cat "$tmp/err" >&2
  exit 1
}
[ -s "$out" ] || { echo "$0: no screenshot written" >&2; exit 1; }
echo "$out"
