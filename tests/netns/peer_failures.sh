#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Peers that crash or never listen make a harness error with the reason,
# never a verdict about the path, and never a hang: an exec hop whose
# program exits at once, one that never listens (start_timeout), an exec
# hop, nginx and node-pq SIGKILLed in the middle of a handshake (the
# ClientHello held back by a 1.5 s gap between its two segments), and the
# same in a matrix, whose other cells are unharmed. No process is left.
#
#   client(engine) ──link0── hop (false | sleep 60 | haproxy†) ──link1── server (openssl | nginx† | node†)
#                                              † killed mid-handshake
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"
mark="pf$$"
ours() { grep -lsa "SD_PEER_FAILURES=$mark" /proc/[0-9]*/environ 2>/dev/null | grep -v "^/proc/$$/" | wc -l; }
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# fails NAME MAX_MS WANT_SUBSTRING ARGS...: exit 4, one line naming it, fast
fails() {
  local name=$1 max=$2 want=$3 rc=0 t0; shift 3
  t0=$(date +%s%N)
  SD_PEER_FAILURES=$mark "$S" "$@" > "$TMP/$name.out" 2> "$TMP/$name.err" || rc=$?
  local took; took=$(ms "$t0")
  echo "$name: exit $rc in $took ms: $(cat "$TMP/$name.err")"
  check "$name: exit 4 (harness error)" test "$rc" -eq 4
  check "$name: one line naming the cause" test "$(wc -l < "$TMP/$name.err")" -eq 1
  check "$name: names '$want'" grep -qF -- "$want" "$TMP/$name.err"
  check "$name: within $max ms" test "$took" -lt "$max"
  check "$name: no verdict on stdout" test ! -s "$TMP/$name.out"
}
# killed NAME MATCH WANT ARGS...: SIGKILL our child whose command line has
# MATCH 700 ms into a cell whose hello waits 1.5 s between its segments.
killed() {
  local name=$1 match=$2 want=$3 pid c; shift 3
  SD_PEER_FAILURES=$mark "$S" run --profile chrome-pq --shape split@key_share,gap:1500 "$@" \
    > "$TMP/$name.out" 2> "$TMP/$name.err" &
  pid=$!
  local t0; t0=$(date +%s%N)
  sleep 0.7
  for c in $(pgrep -P "$pid"); do
    case "$(tr '\0' ' ' < /proc/"$c"/cmdline 2>/dev/null)" in *"$match"*) kill -KILL "$c";; esac
  done
  local rc=0; wait "$pid" || rc=$?
  local took; took=$(ms "$t0")
  echo "$name: exit $rc in $took ms: $(cat "$TMP/$name.err")"
  check "$name: exit 4 (harness error)" test "$rc" -eq 4
  check "$name: one line naming the cause" test "$(wc -l < "$TMP/$name.err")" -eq 1
  check "$name: names '$want'" grep -qF -- "$want" "$TMP/$name.err"
  check "$name: within 5 s" test "$took" -lt 5000
}

printf '[path]\n[hop px]\nbehaviours = exec\nexec = false\n' > "$TMP/dies.ini"
printf '[path]\n[hop px]\nbehaviours = exec\nexec = sleep 60\nstart_timeout = 1000\n' > "$TMP/mute.ini"
fails exits-at-once 2000 "false exited (exit status 1)" run --profile classic --path "$TMP/dies.ini"
fails never-listens 3000 "did not listen on port 8443 within 1000 ms" run --profile classic --path "$TMP/mute.ini"
killed haproxy-dies haproxy "hop 'haproxy': its program exited during the cell" --path haproxy-sni --sni example.com
killed nginx-dies nginx "the nginx server process exited" --path clean --server nginx
if "$S" run --profile chrome-pq --path clean --server node-pq > /dev/null 2>&1; then
  killed node-dies node "the node-pq server process exited" --path clean --server node-pq
else
  echo "no Node.js 24: node-pq case skipped"
fi

# In a matrix: those cells are errors with the reason; the rest still judged.
cat > "$TMP/m.ini" <<INI
[matrix]
seed = peer-failures
[cells a]
profiles = classic
paths = clean $TMP/dies.ini $TMP/mute.ini
INI
t0=$(date +%s%N)
rc=0; SD_PEER_FAILURES=$mark "$S" matrix "$TMP/m.ini" -q --json "$TMP/m.json" 2> "$TMP/m.err" || rc=$?
took=$(ms "$t0")
echo "matrix: exit $rc in $took ms"
check "matrix: exit 4 (harness error in some cells)" test "$rc" -eq 4
jq_is "matrix: clean still ok" "$TMP/m.json" '.cells[] | select(.path == "clean") | .outcome' ok
jq_is "matrix: dying program is an error with its reason" "$TMP/m.json" \
  '.cells[] | select(.path == "dies") | "\(.outcome) \(.detail.text | test("exited \\(exit status 1\\)"))"' "error true"
jq_is "matrix: silent program is an error with its reason" "$TMP/m.json" \
  '.cells[] | select(.path == "mute") | "\(.outcome) \(.detail.text | test("did not listen"))"' "error true"
check "matrix: within 5 s" test "$took" -lt 5000

for _ in $(seq 1 50); do [ "$(ours)" -eq 0 ] && break; sleep 0.1; done
check "no process of ours left (programs, servers, sweepers)" test "$(ours)" -eq 0
check "no temporary file left" test -z "$(ls -A "$TMPDIR")"
finish
