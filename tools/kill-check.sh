#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGKILLs N harness invocations (default 50) at random points and checks
# that nothing they created outlives them: no network namespace, no host
# interface, no process (the harness, its sweeper, nginx, haproxy, node,
# openssl, chromium...), no mount, no temporary file. The invocations are a mix of
# what creates namespaces, processes, temp dirs and files: run on clean
# and on tunnel-1280-blackhole, run --server nginx, run --server node-pq
# (when Node.js 24 is found), an exec hop (haproxy-sni), a small matrix
# writing JSON, topo up, and a real Chromium (run --client chromium, when
# installed: its helpers and profile directory). Each one is first timed to completion; its
# kills are then drawn uniformly over that duration from a seeded
# generator (KILL_SEED, default 1): the same seed gives the same sequence
# of invocations and the same fractions of their measured durations.
#
#   tools/kill-check.sh [N]      exit 0 nothing leaked, 1 a leak, 2 usage, 3 no root
#   KILL_SIGNAL=TERM|INT|HUP     another signal than SIGKILL (the harness may then clean up itself)
#
# Every process of an invocation carries a marker in its environment, so
# that other users' labs on a shared machine are not counted: a namespace
# is ours if a marked process holds it (as a task's namespace or an open
# fd), and the whole-machine namespace count is printed beside it. The
# invocations run in a private mount namespace whose /tmp is an empty
# tmpfs (held by a sleeping process): whatever they leave in /tmp,
# TMPDIR or not, is theirs, and it is still there to be seen.
set -uo pipefail
root=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
S=${SHAKEDOWN:-$root/build/shakedown}
case ${1:-} in -h|--help) sed -n '3,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0;; esac
n=${1:-50}
seed=${KILL_SEED:-1}
sig=${KILL_SIGNAL:-KILL}
case $sig in KILL|TERM|INT|HUP) ;; *) echo "kill-check: KILL_SIGNAL is KILL, TERM, INT or HUP" >&2; exit 2;; esac
case $n in ''|*[!0-9]*) echo "kill-check: N must be a number" >&2; exit 2;; esac
[ -x "$S" ] || { echo "kill-check: no binary at $S (build first, or set SHAKEDOWN)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "kill-check: needs root to build namespaces" >&2; exit 3; }

tmp=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT
# The private /tmp: the harness's TMPDIR, its working directory (only
# finished outputs may appear there) and the matrix file; nothing else.
unshare -m --propagation slave sh -c 'mount -t tmpfs -o mode=1777 kc-tmp /tmp && exec sleep 100000' &
holder=$!
for _ in $(seq 1 50); do
  [ "$(readlink /proc/$holder/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] &&
    grep -q ' /tmp .* kc-tmp ' /proc/$holder/mountinfo 2>/dev/null && break
  sleep 0.02
done
grep -q ' /tmp .* kc-tmp ' /proc/$holder/mountinfo || { echo "kill-check: no private /tmp" >&2; exit 3; }
inside() { nsenter -t "$holder" -m -- "$@"; }
export TMPDIR=/tmp/tmpdir
work=/tmp/work
inside mkdir -p "$TMPDIR" "$work" /tmp/bin
# The binary, copied in: where it was built may itself be under the /tmp
# the private one hides (a checkout in /tmp, as CI may have).
inside sh -c 'cat > /tmp/bin/shakedown && chmod 755 /tmp/bin/shakedown' < "$S" ||
  { echo "kill-check: cannot copy $S into the private /tmp" >&2; exit 3; }
S=/tmp/bin/shakedown
tag="kc$$"

host_links() { ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
mounts() { awk '{print $5, $9}' /proc/self/mountinfo /proc/"$holder"/mountinfo | sort; }
# Left in the private /tmp: anything but tmpdir, work, small.ini and bin; anything in TMPDIR,
# any partial output (cli_write_file's NAME.tmp.PID) in the working dir.
tmp_left() {
  inside find /tmp -mindepth 1 -maxdepth 1 ! -name tmpdir ! -name work ! -name small.ini ! -name bin
  inside find "$TMPDIR" -mindepth 1 -maxdepth 1
}
part_left() { inside find "$work" -name '*.tmp.*'; }
all_netns() { find /proc/[0-9]*/task/*/ns/net -maxdepth 0 -printf '%l\n' 2>/dev/null | sort -u; }
# PIDs whose environment carries marker $1.
marked() { grep -lsa "SD_KILL_CHECK=$1" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 | grep -vx "$$"; }
# Namespaces held by marked processes: their tasks' namespaces and open fds.
marked_netns() {
  local p
  for p in $(marked "$1"); do
    find /proc/"$p"/task/*/ns/net -maxdepth 0 -printf '%l\n' 2>/dev/null
    find /proc/"$p"/fd -maxdepth 1 -type l -lname 'net:*' -printf '%l\n' 2>/dev/null
  done | sort -u | grep -vxF "$(readlink /proc/$$/ns/net)" | wc -l
}

# The invocations: NAME<TAB>ARGS (word-split; no quoting needed).
cmds=$tmp/cmds.tsv
{
  printf 'run-clean\trun --profile chrome-pq --path clean --repeat 3\n'
  printf 'run-blackhole\trun --profile chrome-pq --path tunnel-1280-blackhole --expect blackhole\n'
  printf 'run-nginx\trun --profile chrome-pq --path clean --server nginx\n'
  printf 'run-haproxy\trun --profile chrome-pq --path haproxy-sni --sni example.com\n'
  printf 'run-pcaps\trun --profile firefox-pq --path mss-536 --pcap-dir pcaps --json\n'
  printf 'matrix\tmatrix /tmp/small.ini -q --jobs 2 --json m.json --html m.html\n'
  printf 'topo-up\ttopo up tunnel-1300-pmtud\n'
} > "$cmds"
inside sh -c 'cat > /tmp/small.ini' <<'EOF'
[matrix]
description = kill-check: namespaces, an exec hop, nginx
seed = kill-check
[cells a]
profiles = classic chrome-pq
paths = clean tunnel-1280-blackhole haproxy-sni
servers = openssl nginx
[expect]
ok blackhole reset closed alert stall = * *
EOF
if command -v chromium > /dev/null; then
  printf 'run-chromium\trun --client chromium --path clean\n' >> "$cmds"
else
  echo "kill-check: no chromium: the real-browser invocation is left out"
fi
if (cd / && inside "$S" run --profile chrome-pq --path clean --server node-pq) > /dev/null 2>&1; then
  printf 'run-node\trun --profile chrome-pq --path clean --server node-pq\n' >> "$cmds"
else
  echo "kill-check: no Node.js 24 (run --server node-pq failed): its invocation is left out"
fi

# Time each invocation to completion, the faster of two runs (the first
# warms caches); topo up runs until stopped: 400 ms.
declare -a names args durs
while IFS=$'\t' read -r name a; do
  names+=("$name"); args+=("$a")
  if [ "$name" = topo-up ]; then durs+=(400); continue; fi
  best=
  for _ in 1 2; do
    t0=$(date +%s%N)
    inside sh -c 'cd "$1" && shift && exec "$@"' - "$work" $S $a > /dev/null 2>&1 < /dev/null
    rc=$?
    if [ "$rc" -ge 2 ]; then echo "kill-check: '$name' fails on its own (exit $rc): fix that first" >&2; exit 1; fi
    t=$(( ($(date +%s%N) - t0) / 1000000 + 1 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  durs+=("$best")
done < "$cmds"
inside find "$work" -mindepth 1 -delete
echo "kill-check: ${#names[@]} invocations, typical ms: $(for i in "${!names[@]}"; do printf '%s=%s ' "${names[$i]}" "${durs[$i]}"; done)"

RANDOM=$seed
links0=$(host_links); mounts0=$(mounts); global0=$(all_netns | wc -l)
left_ns=0 left_proc=0 left_link=0 left_mount=0 left_tmp=0 left_part=0 killed_running=0
t_start=$(date +%s%N)
for i in $(seq 1 "$n"); do
  k=$(( RANDOM % ${#names[@]} ))
  at=$(( durs[k] * (RANDOM * 32768 + RANDOM) / 1073741824 ))   # a seeded fraction of it
  mark="$tag-$i"
  # nsenter, env and sh exec in place: $! is the harness itself. A
  # background job starts with SIGINT ignored: undo that, as a terminal would.
  SD_KILL_CHECK=$mark nsenter -t "$holder" -m -- env --default-signal=INT,QUIT \
    sh -c 'cd "$1" && shift && exec "$@"' - "$work" \
    $S ${args[$k]} > /dev/null 2> "$tmp/err" &
  pid=$!
  sleep "$(awk -v ms="$at" 'BEGIN { printf "%.3f", ms / 1000 }')"
  if kill -0 "$pid" 2>/dev/null; then killed_running=$((killed_running + 1)); fi
  if [ -s "$tmp/err" ] && ! grep -q 'shakedown' "$tmp/err"; then
    echo "kill-check: '${names[$k]}' did not start: $(head -c 200 "$tmp/err")" >&2; exit 1
  fi
  # Once running, it says nothing before its verdict: any line is a failure to start.
  kill -"$sig" "$pid" 2>/dev/null
  # A signal the harness handles may leave it running a moment (topo up's
  # Ctrl-C ends it; a run may finish its cell first): 2 s, then KILL.
  if [ "$sig" != KILL ]; then
    for _ in $(seq 1 40); do
      case $(ps -o stat= -p "$pid" 2>/dev/null) in ''|Z*) break;; esac   # gone, or exited (unreaped)
      sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  # Bounded settle: the kernel tears namespaces down asynchronously and
  # the sweeper needs a moment after our death.
  for _ in $(seq 1 100); do
    [ -z "$(marked "$mark")" ] && [ -z "$(tmp_left)" ] && break
    sleep 0.05
  done
  ns=$(marked_netns "$mark"); procs=$(marked "$mark" | wc -l)
  part=$(part_left | wc -l)
  tmpf=$(tmp_left | wc -l)
  links=$(comm -13 <(echo "$links0") <(host_links) | wc -l)
  mnts=$(comm -13 <(echo "$mounts0") <(mounts) | wc -l)
  if [ $((ns + procs + part + tmpf + links + mnts)) -gt 0 ]; then
    echo "LEAK run $i: ${names[$k]} killed at ${at} ms: namespaces $ns, processes $procs" \
      "($(marked "$mark" | xargs -r ps -o comm= -p | tr '\n' ' ')), temp $tmpf, partial outputs $part," \
      "host interfaces $links, mounts $mnts $(tmp_left | tr '\n' ' ')$(part_left | tr '\n' ' ')"
  fi
  left_ns=$((left_ns + ns)); left_proc=$((left_proc + procs)); left_tmp=$((left_tmp + tmpf))
  left_part=$((left_part + part)); left_link=$((left_link + links)); left_mount=$((left_mount + mnts))
  # Clean up after a leak so that the next run is judged on its own.
  marked "$mark" | xargs -r kill -KILL 2>/dev/null
  tmp_left | xargs -r nsenter -t "$holder" -m -- rm -rf --
  inside find "$work" -mindepth 1 -delete
done
wall=$(( ($(date +%s%N) - t_start) / 1000000 ))
for _ in $(seq 1 50); do [ "$(all_netns | wc -l)" -le "$global0" ] && break; sleep 0.1; done
global1=$(all_netns | wc -l)
echo "kill-check: $n SIG${sig}s (seed $seed; $killed_running while the harness ran) in $wall ms"
echo "left: namespaces $left_ns, processes $left_proc, host interfaces $left_link, mounts $left_mount," \
  "temp files $left_tmp, partial outputs $left_part"
echo "whole machine: $global0 network namespaces before, $global1 after (other users' labs count too)"
if [ "$killed_running" -eq 0 ] && [ "$n" -gt 0 ]; then
  echo "kill-check: no invocation was still running when killed: nothing was tested" >&2
  exit 1
fi
[ $((left_ns + left_proc + left_link + left_mount + left_tmp + left_part)) -eq 0 ]
