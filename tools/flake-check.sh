#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs a matrix N times (default: the built-in default matrix, 20 runs) and
# reports every cell whose outcome changed between runs. Exit 0 when no
# cell flaked, 1 when one did, 2 on bad usage.
#
#   tools/flake-check.sh [N] [MATRIX] [-- extra 'shakedown matrix' options]
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
sd=${SHAKEDOWN:-$root/build/shakedown}
n=${1:-20}
matrix=${2:-default}
shift $(( $# > 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
case $n in ''|*[!0-9]*) echo "flake-check: N must be a number" >&2; exit 2;; esac
[ -x "$sd" ] || { echo "flake-check: no binary at $sd (build first, or set SHAKEDOWN)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "flake-check: needs root to build namespaces" >&2; exit 3; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
walls=()
for i in $(seq 1 "$n"); do
  rc=0
  "$sd" matrix "$matrix" -q --json "$tmp/run$i.json" "$@" 2> "$tmp/err$i" || rc=$?
  if [ "$rc" -ge 2 ]; then
    echo "flake-check: run $i failed (exit $rc): $(head -c 300 "$tmp/err$i")" >&2
    exit 1
  fi
  jq -r '.cells[] | "\(.id)\t\(.outcome)"' "$tmp/run$i.json" > "$tmp/out$i.tsv"
  walls+=("$(jq .run.wall_ms "$tmp/run$i.json")")
done
cells=$(wc -l < "$tmp/out1.tsv")
# id -> the set of outcomes seen across the runs
cat "$tmp"/out*.tsv | sort -u | awk -F'\t' '{seen[$1] = seen[$1] (seen[$1] ? "," : "") $2; k[$1]++}
  END {for (id in k) if (k[id] > 1) print id "\t" seen[id]}' | sort > "$tmp/flaky.tsv"
flaky=$(wc -l < "$tmp/flaky.tsv")
sorted=$(printf '%s\n' "${walls[@]}" | sort -n | tr '\n' ' ')
echo "$n runs of matrix '$matrix', $cells cells each: $flaky cell(s) changed outcome"
echo "wall ms per run (sorted): $sorted"
if [ "$flaky" -gt 0 ]; then
  while IFS=$'\t' read -r id outs; do
    echo "  $id: $outs"
  done < "$tmp/flaky.tsv"
  exit 1
fi
