#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sets up, builds and runs the whole test suite: unit, fuzz-corpus replay,
# peer (Node.js 24 / OpenSSL 3.5) and, as root, netns tests. Under CI=true
# warnings are errors, tools/valgrind.sh runs representative commands under
# valgrind, and a second ASan+UBSan build runs the unit tests too.
set -euo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/setup-deps.sh
bash tools/setup-peers.sh --print-node > /dev/null

jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[ "${CI:-}" = true ] && werror=ON

cmake -S . -B build -DSD_WERROR="$werror" > build.log 2>&1 || { cat build.log; exit 1; }
cmake --build build -j "$jobs" >> build.log 2>&1 || { tail -50 build.log; exit 1; }
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${CI:-}" = true ]; then
  echo "== valgrind: memory errors, definite leaks, fds left open (about 80 s)"
  bash tools/valgrind.sh
fi

if [ "${CI:-}" = true ] || [ "${SD_SANITIZE:-}" = 1 ]; then
  echo "== ASan + UBSan build: the whole suite but benchmarks"
  cmake -S . -B build-asan -DSD_WERROR="$werror" -DSD_ASAN=ON -DSD_UBSAN=ON \
    -DCMAKE_BUILD_TYPE=Debug > build-asan.log 2>&1 || { cat build-asan.log; exit 1; }
  cmake --build build-asan -j "$jobs" >> build-asan.log 2>&1 || { tail -50 build-asan.log; exit 1; }
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -LE bench
fi
