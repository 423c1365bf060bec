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
# Every process of this test's harness runs carries a marker in its
# environment (children inherit it), so that other labs on a shared
# machine are not counted as ours.
# (Set on the harness's command line only: this script's own helpers must
# not carry it.)
mark=safety-$$
marked() { grep -lsa "SD_SAFETY=$mark" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3; }
# Network namespaces the marked processes hold (their tasks' and open fds),
# the host's (this script's own) excluded.
marked_netns() {
  local p
  for p in $(marked); do
    find /proc/"$p"/task/*/ns/net -maxdepth 0 -printf '%l\n'
    find /proc/"$p"/fd -lname 'net:*' -printf '%l\n'
  done 2>/dev/null | sort -u | grep -vxF "$(readlink /proc/$$/ns/net)"
}
# Namespaces anywhere on the machine (tasks and fds), by inode.
live_netns() {
  { find /proc/[0-9]*/task/*/ns/net -maxdepth 0 -printf '%l\n'
    find /proc/[0-9]*/fd -lname 'net:*' -printf '%l\n'; } 2>/dev/null | sort -u
}
# A namespace outlives its processes only through a bind mount (nsfs).
nsfs_mounts() { grep -c ' - nsfs ' /proc/self/mountinfo || true; }
# The harness runs with a private, empty TMPDIR: it must stay empty.
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
# Waits (bounded) until no marked process is left, then checks that none
# of the namespaces in file $1 (seen held by the harness) still exists.
gone() {
  for _ in $(seq 1 50); do [ -z "$(marked)" ] && break; sleep 0.1; done
  if [ -n "$(marked)" ]; then
    echo "left: processes $(marked | xargs -r ps -o pid=,comm= -p | tr '\n' ' ')" >&2
    return 1
  fi
  local left
  left=$(live_netns | grep -xF -f "$1" | tr '\n' ' ')
  [ -z "$left" ] || { echo "left: namespaces $left" >&2; return 1; }
}

snapshot "$TMP/before"
mounts0=$(nsfs_mounts)

# 200 cells across paths and shapes, in 4 processes of 50 cells each; the
# namespaces they hold are sampled while they run.
t0=$(date +%s%N)
: > "$TMP/seen"
sample() { while kill -0 "$1" 2> /dev/null; do marked_netns >> "$TMP/seen"; sleep 0.05; done; }
many() {
  local d=$1 rc=0; shift
  SD_SAFETY=$mark "$S" "$@" > /dev/null & local pid=$!
  sample $pid
  wait $pid || rc=$?
  check "$d" test "$rc" -eq 0
}
many "50 clean cells" run --profile chrome-pq --path clean --repeat 50
many "50 mss-536 cells" run --profile chrome-pq --path mss-536 --repeat 50
many "50 blackhole-path cells (classic)" run --profile classic --path tunnel-1280-blackhole --repeat 50
many "50 pmtud cells" run --profile chrome-pq --path tunnel-1300-pmtud --shape records:700 --repeat 50
sort -u -o "$TMP/seen" "$TMP/seen"
echo "200 cells in $(( ($(date +%s%N) - t0) / 1000000 )) ms; $(wc -l < "$TMP/seen") namespaces seen held"
check "the harness was seen holding namespaces" test -s "$TMP/seen"
snapshot "$TMP/after"
check "host namespace unchanged after 200 cells" diff -u "$TMP/before" "$TMP/after"
check "no process and no namespace left after normal exits" gone "$TMP/seen"
check "no nsfs mount left after normal exits" test "$(nsfs_mounts)" -eq "$mounts0"

# SIGINT and SIGKILL in the middle of a long run.
for sig in INT KILL; do
  # A shell starts background jobs with SIGINT ignored; undo that so the
  # signal reaches the harness as it would from a terminal's Ctrl-C.
  SD_SAFETY=$mark env --default-signal=INT "$S" run --profile chrome-pq --path tunnel-1280-blackhole \
    --expect blackhole --repeat 1000 > /dev/null 2>&1 &
  pid=$!
  sleep 0.6
  marked_netns > "$TMP/seen-$sig"
  check "SIG$sig: running with its namespaces" test -s "$TMP/seen-$sig"
  kill -"$sig" $pid
  wait $pid 2>/dev/null
  check "SIG$sig: no process and no namespace left" gone "$TMP/seen-$sig"
  check "SIG$sig: no nsfs mount left" test "$(nsfs_mounts)" -eq "$mounts0"
  snapshot "$TMP/after"
  check "SIG$sig: host namespace unchanged" diff -u "$TMP/before" "$TMP/after"
done
check "no temp files left" test -z "$(ls -A "$TMPDIR")"
finish
