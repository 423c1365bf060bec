#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A timed libFuzzer campaign over every fuzz target (clang, ASan+UBSan).
# Usage: tools/fuzz.sh [--update-corpus] [SECONDS_PER_TARGET] [TARGET...]
#   (default 300 s, all targets)
# New inputs go to build-fuzz/work/<target>; crashes to build-fuzz/crash/<target>.
# --update-corpus: afterwards, add to each target's committed corpus
# (tests/fuzz/corpus/<target>) the inputs the campaign found that reach code
# the corpus does not (libFuzzer -merge=1 into the corpus, edges only: the
# smallest input for each new edge); the hand-made seeds stay as they are.
# A summary (target, seconds, executions, findings) goes to build-fuzz/summary.tsv.
# Exit 1 if any target found a crash, leak or timeout.
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
update=0
if [ "${1:-}" = --update-corpus ]; then update=1; shift; fi
secs=${1:-300}
shift || true

bash tools/setup-deps.sh
CC=clang cmake -S . -B build-fuzz -DSD_FUZZ=ON -DSD_ASAN=ON -DSD_UBSAN=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo > build-fuzz.log 2>&1 || { cat build-fuzz.log; exit 1; }
cmake --build build-fuzz -j "$(nproc)" >> build-fuzz.log 2>&1 || { tail -40 build-fuzz.log; exit 1; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do t=$(basename "$f" .c); targets+=("${t#fuzz_}"); done
fi
status=0
summary=build-fuzz/summary.tsv
printf 'target\tseconds\texecs\tfindings\n' > "$summary"
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/work/$t" "build-fuzz/crash/$t"
  echo "== fuzz_$t for ${secs}s"
  findings=0
  if ! ASAN_OPTIONS=detect_leaks=1 "build-fuzz/tests/fuzz_$t" -max_total_time="$secs" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crash/$t/" "build-fuzz/work/$t" "tests/fuzz/corpus/$t" \
      > "build-fuzz/$t.log" 2>&1; then
    echo "fuzz_$t: FINDING, see build-fuzz/$t.log and build-fuzz/crash/$t/"
    findings=1
    status=1
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build-fuzz/$t.log")
  printf '%s\t%s\t%s\t%s\n' "$t" "$secs" "${execs:-0}" "$findings" >> "$summary"
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "build-fuzz/$t.log" | tr '\n' ' '
  echo
  if [ "$update" = 1 ]; then
    before=$(ls "tests/fuzz/corpus/$t" | wc -l)
    "build-fuzz/tests/fuzz_$t" -merge=1 -use_counters=0 -rss_limit_mb=2048 -timeout=10 \
      "tests/fuzz/corpus/$t" "build-fuzz/work/$t" > "build-fuzz/$t.merge.log" 2>&1
    echo "corpus/$t: $before inputs, $(ls "tests/fuzz/corpus/$t" | wc -l) after adding the campaign's new edges"
  fi
done
column -t "$summary"
exit $status
