#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Safety: the host's own network namespace is untouched by 200 cells, and
# nothing the harness creates outlives it — after a normal exit, after
# SIGINT mid-run and after SIGKILL mid-run: no namespace, no interface, no
# process, no file in /run/netns or the temp directory.
#
#   host netns (snapshot before/after) ──┐
#     shakedown: client | hop | server   │ anonymous namespaces, held by fds
#                 (threads, no children) ┘
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }

snapshot() {
  {
    ip -d link show | sed 's/ link-netnsid [0-9]*//'
    ip addr show
    ip route show table all
    ip -6 route show table all
    ip rule show; ip -6 rule show
    nft list ruleset 2>/dev/null
    sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding
    ls /run/netns 2>/dev/null
  } > "$1"
}
# Network namespaces that exist anywhere on the machine (by inode).
netns_count() { find /proc/[0-9]*/task/*/ns/net -maxdepth 0 -printf '%l\n' 2>/dev/null | sort -u | wc -l; }
# The harness runs with a private, empty TMPDIR: it must stay empty.
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
# Waits (bounded) for the kernel's asynchronous namespace cleanup.
settle() {
  for _ in $(seq 1 50); do [ "$(netns_count)" -le "$1" ] && return 0; sleep 0.1; done
  return 1
}

snapshot "$TMP/before"
base=$(netns_count)

# 200 cells across paths and shapes, in 4 processes of 50 cells each.
t0=$(date +%s%N)
"$S" run --profile chrome-pq --path clean --repeat 50 > /dev/null; check "50 clean cells" test $? -eq 0
"$S" run --profile chrome-pq --path mss-536 --repeat 50 > /dev/null; check "50 mss-536 cells" test $? -eq 0
"$S" run --profile classic --path tunnel-1280-blackhole --repeat 50 > /dev/null
check "50 blackhole-path cells (classic)" test $? -eq 0
"$S" run --profile chrome-pq --path tunnel-1300-pmtud --shape records:700 --repeat 50 > /dev/null
check "50 pmtud cells" test $? -eq 0
echo "200 cells in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
snapshot "$TMP/after"
check "host namespace unchanged after 200 cells" diff -u "$TMP/before" "$TMP/after"
check "no namespace left after normal exits" settle "$base"

# SIGINT and SIGKILL in the middle of a long run.
for sig in INT KILL; do
  # A shell starts background jobs with SIGINT ignored; undo that so the
  # signal reaches the harness as it would from a terminal's Ctrl-C.
  env --default-signal=INT "$S" run --profile chrome-pq --path tunnel-1280-blackhole \
    --expect blackhole --repeat 1000 > /dev/null 2>&1 &
  pid=$!
  sleep 0.6
  check "SIG$sig: running with its namespaces" test "$(netns_count)" -gt "$base"
  kill -"$sig" $pid
  wait $pid 2>/dev/null
  check "SIG$sig: no namespace left" settle "$base"
  check "SIG$sig: no process left" bash -c "! pgrep -x shakedown >/dev/null"
  snapshot "$TMP/after"
  check "SIG$sig: host namespace unchanged" diff -u "$TMP/before" "$TMP/after"
done
check "no temp files left" test -z "$(ls -A "$TMPDIR")"
finish
