#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A real post-quantum TLS server (Node.js 24, OpenSSL 3.5) accepts our ML-KEM
# key shares: it answers each profile's ClientHello with a ServerHello that
# selects the hybrid group (so it parsed and encapsulated to our share), or
# with a HelloRetryRequest where the profile sent no share for its choice.
#
#   shakedown hello --out ──TCP 127.0.0.1──> node-tls-server.js (OpenSSL 3.5)
#   shakedown dissect <── raw-exchange.js ──┘
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
ROOT=$SD_SOURCE_DIR

NODE=$(bash "$ROOT/tools/setup-peers.sh" --print-node) || {
  if [ "${CI:-}" = true ]; then echo "FAIL: cannot install Node.js 24" >&2; exit 1; fi
  echo "Node.js 24 not installable here: skip"; exit 77
}

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_server NAME ARGS...: a server on an ephemeral port; sets PORT_<NAME>.
start_server() {
  local name=$1; shift
  "$NODE" "$ROOT/tools/peers/node-tls-server.js" --host 127.0.0.1 --port 0 \
    --ready-file "$TMP/$name.ready" --idle-timeout-ms 2000 "$@" \
    > /dev/null 2> "$TMP/$name.log" &
  pids+=($!)
  for _ in $(seq 1 100); do
    [ -s "$TMP/$name.ready" ] && break
    sleep 0.05
  done
  [ -s "$TMP/$name.ready" ] || { echo "FAIL: server $name did not start: $(cat "$TMP/$name.log")" >&2; exit 1; }
  read -r _ port < "$TMP/$name.ready"
  printf -v "PORT_$name" '%s' "$port"
}

# exchange PORT PROFILE: prints the ServerHello/HRR group and whether it was an HRR.
exchange() {
  local port=$1 profile=$2
  local out=$TMP/$profile.$port
  "$S" hello --profile "$profile" --seed peer --sni localhost --out "$out.hello" > /dev/null
  "$NODE" "$ROOT/tools/peers/raw-exchange.js" 127.0.0.1 "$port" "$out.hello" "$out.reply" \
    --timeout-ms 3000 2> "$out.err" || { echo "no-reply:$(cat "$out.err")"; return; }
  "$S" dissect "$out.reply" --json 2> "$out.derr" > "$out.json" ||
    { echo "undissectable:$(cat "$out.derr")"; return; }
  jq -r '.server_hellos[0] | "\(.group)/\(.hrr)"' "$out.json"
}

start_server hyb --mode hybrid-preferred
start_server pqonly --mode pq-only
start_server k1024 --groups MLKEM1024:X25519

is() { if [ "$2" = "$3" ]; then ok; else bad "$1: got $2, want $3"; fi; }
is "chrome-pq selects X25519MLKEM768" "$(exchange "$PORT_hyb" chrome-pq)" "4588/false"
is "firefox-pq selects X25519MLKEM768" "$(exchange "$PORT_hyb" firefox-pq)" "4588/false"
is "openssl35 selects X25519MLKEM768" "$(exchange "$PORT_hyb" openssl35)" "4588/false"
is "p256-mlkem768 selects SecP256r1MLKEM768" "$(exchange "$PORT_hyb" p256-mlkem768)" "4587/false"
is "p384-mlkem1024 selects SecP384r1MLKEM1024" "$(exchange "$PORT_hyb" p384-mlkem1024)" "4589/false"
is "mlkem1024 selects MLKEM1024" "$(exchange "$PORT_k1024" mlkem1024)" "514/false"
is "classic selects X25519" "$(exchange "$PORT_hyb" classic)" "29/false"
is "pq-advertise-only gets an HRR for X25519MLKEM768" "$(exchange "$PORT_pqonly" pq-advertise-only)" "4588/true"
finish
