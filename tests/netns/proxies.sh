#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real middlebox programs in an exec hop (netns/mbox/): HAProxy routing on
# the SNI as its manual says and as in haproxy/haproxy#3148, and nginx
# stream with ssl_preread. The client still targets the server's address;
# the hop's nftables DNAT hands the connection to the program, which opens
# its own to the server. The verdict must name the proxy hop when the proxy
# ends the client's connection, and say ok when it passes the handshake on.
# A user path file with its own config next to it is exercised too.
#
#   client(engine) ──link0── hop (haproxy | nginx, DNAT :443 → :8443) ──link1── server
#                            └ its own TCP connection to the server ┘
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
command -v haproxy > /dev/null || { echo "no haproxy: skip"; exit 77; }
command -v nginx > /dev/null || { echo "no nginx: skip"; exit 77; }

# case NAME WANT_OUTCOME WANT_BREAKING ARGS...: one cell and its verdict
case_is() {
  local name=$1 want=$2 hop=$3; shift 3
  local rc=0
  "$S" run --seed "px-$name" --json --sni example.com "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  if [ $rc -ge 2 ]; then bad "$name: exit $rc: $(head -c 300 "$TMP/$name.err")"; return; fi
  jq_is "$name" "$TMP/$name.json" '"\(.outcome) \(.detail.breaking)"' "$want $hop"
}

# The harness's private directories go under TMPDIR: it must end empty.
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"

# haproxy/haproxy#3148: the first segment has no SNI yet, the default
# backend has no server, HAProxy closes the client's connection (FIN).
case_is haproxy-3148-pq      closed  haproxy --profile chrome-pq --shape gap:50 --path haproxy-3148
jq_is "haproxy-3148-pq: what reached the proxy" "$TMP/haproxy-3148-pq.json" \
  '.detail.text | test("1460 of [0-9]+ client bytes reached the proxy at hop .haproxy.")' true
case_is haproxy-3148-classic ok      null    --profile classic --path haproxy-3148
case_is haproxy-sni-pq       ok      null    --profile chrome-pq --shape gap:50 --path haproxy-sni
# What the server saw behind the proxy: HAProxy's own connection, the
# hello in one read (it waited for the whole hello to route on its SNI).
jq_is "haproxy-sni-pq: server report via the proxy" "$TMP/haproxy-sni-pq.json" \
  '[.server_report.via, .server_report.reads[0] == .flight.wire_bytes, .server_report.handshake_completed] | map(tostring) | join(" ")' \
  "haproxy true true"
jq_is "haproxy-3148-pq: the proxy never connected" "$TMP/haproxy-3148-pq.json" \
  '[.server_report.present, .server_report.via] | map(tostring) | join(" ")' "false null"
case_is haproxy-sni-classic  ok      null    --profile classic --path haproxy-sni
case_is nginx-preread-pq     ok      null    --profile chrome-pq --shape gap:50 --path nginx-preread
case_is nginx-preread-classic ok     null    --profile classic --path nginx-preread

# The same proxies over IPv6 (each listens on the hop's IPv6 address): the
# first segment is 20 bytes shorter (MSS 1440), the verdicts are the same.
case_is haproxy-3148-pq-v6   closed  haproxy --profile chrome-pq --shape gap:50 --path haproxy-3148 --ipv6
jq_is "haproxy-3148-pq-v6: what reached the proxy" "$TMP/haproxy-3148-pq-v6.json" \
  '[.family, (.detail.text | test("1440 of [0-9]+ client bytes reached the proxy at hop .haproxy."))] | map(tostring) | join(" ")' "ipv6 true"
case_is haproxy-3148-classic-v6 ok   null    --profile classic --path haproxy-3148 --ipv6
case_is haproxy-sni-pq-v6    ok      null    --profile chrome-pq --shape gap:50 --path haproxy-sni --ipv6
case_is nginx-preread-pq-v6  ok      null    --profile chrome-pq --shape gap:50 --path nginx-preread --ipv6

# A user's path file with its own config template next to it: routing on
# another name sends example.com to the empty backend, closed by the proxy.
mkdir -p "$TMP/user"
sed 's/-i example.com/-i other.example/' "$SD_SOURCE_DIR/netns/mbox/haproxy-sni.cfg" > "$TMP/user/my.cfg"
cat > "$TMP/user/lb.ini" <<'INI'
[path]
description = a user's HAProxy
[hop lb]
behaviours = exec mss-clamp:1200
exec = haproxy -f {config} -db
config = my.cfg
listen = 9443
INI
case_is user-config          closed  lb      --profile chrome-pq --path "$TMP/user/lb.ini"

# Errors name the program.
printf '[path]\n[hop lb]\nbehaviours = exec\nexec = /nonexistent/proxy {config}\n' > "$TMP/user/bad.ini"
rc=0; "$S" run --profile classic --path "$TMP/user/bad.ini" > /dev/null 2> "$TMP/bad.err" || rc=$?
if [ $rc -ne 0 ] && grep -q "/nonexistent/proxy" "$TMP/bad.err"; then ok; else bad "bad exec: rc $rc: $(cat "$TMP/bad.err")"; fi

# A built-in path whose program is not installed: a matrix stops up front
# with exit 3 and one line naming it, rather than a column of error cells.
mkdir -p "$TMP/nobin"
printf '[matrix]\ndescription = x\n[cells a]\nprofiles = chrome-pq\npaths = clean haproxy-sni\n' > "$TMP/hx.ini"
rc=0; PATH=$TMP/nobin "$S" matrix "$TMP/hx.ini" -q > /dev/null 2> "$TMP/hx.err" || rc=$?
if [ $rc -eq 3 ] && [ "$(wc -l < "$TMP/hx.err")" -eq 1 ] && grep -q "haproxy-sni.*'haproxy'" "$TMP/hx.err"; then ok
else bad "matrix, haproxy missing: rc $rc: $(cat "$TMP/hx.err")"; fi

# Nothing left behind: no program, no temporary directory.
check "no temporary directory left" test -z "$(ls -A "$TMPDIR")"
finish
