#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every behaviour of ../shared/FIELD-FAILURES.md, through the built-in path
# named after its field case, on real namespaces with the user-space
# middlebox engine in the hop: the post-quantum hello shows the symptom
# users saw, with the middlebox named as the breaking hop, and a classic
# hello passes where the field case says small hellos passed.
#
#   client(engine) ──link0── hop (user-space middlebox) ──link1── server
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }

# A classic hello without BoringSSL's padding (the F5 window is what that
# padding avoids), and a hello with two post-quantum shares.
sed 's/^padding = boringssl/padding = none/' "$SD_SOURCE_DIR/netns/profiles/classic.ini" > "$TMP/classic-nopad.ini"
sed 's/^groups = .*/groups = GREASE, X25519MLKEM768, SecP256r1MLKEM768, x25519, secp256r1/;
     s/^shares = .*/shares = GREASE, X25519MLKEM768, SecP256r1MLKEM768, x25519/' \
  "$SD_SOURCE_DIR/netns/profiles/chrome-pq.ini" > "$TMP/two-pq.ini"

# case NAME WANT_OUTCOME WANT_BREAKING ARGS...: one cell and its verdict
case_is() {
  local name=$1 want=$2 hop=$3; shift 3
  local rc=0
  "$S" run --seed "ff-$name" --json "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  if [ $rc -ge 2 ]; then bad "$name: exit $rc: $(head -c 300 "$TMP/$name.err")"; return; fi
  jq_is "$name" "$TMP/$name.json" '"\(.outcome) \(.detail.breaking)"' "$want $hop"
}

case_is first-segment-parse       reset       ingress   --profile chrome-pq --path ingress-nginx-passthrough
case_is first-segment-parse-ok    ok          null      --profile classic --path ingress-nginx-passthrough
case_is partial-hello-drop        stall       panos     --profile chrome-pq --path panos-partial-hello
case_is partial-hello-drop-ok     ok          null      --profile classic --path panos-partial-hello
case_is first-record-in-segment   reset       censor    --profile chrome-pq --path censor-first-record
jq_is "first-record-in-segment: the censor says why it reset" "$TMP/first-record-in-segment.json" \
  '.hop_stats[0] | [.hop, .inspector.behaviour, .inspector.action, (.forged.rst >= 1), (.drops.inspect >= 1)] | map(tostring) | join(" ")' \
  "censor first-record-in-segment reset true true"
# IP fragmentation does not get past a device that inspects: it reassembles
# first (as a firewall with conntrack does), over IPv4 and IPv6; a hello
# that passes leaves in the fragments it came in.
for fam in 4 6; do
  f=; [ $fam = 6 ] && f=--ipv6
  case_is first-record-ipfrag$fam   reset       censor    --profile chrome-pq --path censor-first-record --shape ipfrag:600 $f
  jq_is "first-record-ipfrag$fam: reassembled, then judged" "$TMP/first-record-ipfrag$fam.json" \
    '.hop_stats[0] | [.reassembled >= 1, .inspector.behaviour] | map(tostring) | join(" ")' "true first-record-in-segment"
  case_is first-record-ipfrag-ok$fam ok         null      --profile classic --path censor-first-record --shape ipfrag:200 $f
  jq_is "first-record-ipfrag-ok$fam: the fragments went on as they came" "$TMP/first-record-ipfrag-ok$fam.json" \
    '[.hop_stats[0].reassembled, .hops[0].fragments_in, .hops[0].fragments_out] | map(tostring) | join(" ")' "1 3 3"
done
case_is buffer-limit-ipfrag       reset       sslsplit  --profile chrome-pq --path sslsplit-1k --shape ipfrag:600
case_is first-record-ok           ok          null      --profile classic --path censor-first-record
jq_is "first-record-ok: the censor let it pass" "$TMP/first-record-ok.json" \
  '.hop_stats[0] | [.inspector, .forged.rst, .drops.inspect] | map(tostring) | join(" ")' "null 0 0"
case_is buffer-limit-1k           reset       sslsplit  --profile chrome-pq --path sslsplit-1k
case_is buffer-limit-1k-ok        ok          null      --profile classic --path sslsplit-1k
case_is buffer-limit-16k-fits     ok          null      --profile chrome-pq --path envoy-16k
case_is buffer-limit-16k          reset       envoy     --profile chrome-pq --path envoy-16k --pad-to 17000
case_is segment-gap-break         closed      ats       --profile chrome-pq --path ats-blind-tunnel --shape gap:20
case_is segment-gap-burst-ok      ok          null      --profile chrome-pq --path ats-blind-tunnel
case_is segment-gap-classic-ok    ok          null      --profile classic --path ats-blind-tunnel --shape gap:20
case_is peek-timeout              reset       haproxy   --profile chrome-pq --path haproxy-peek --shape gap:20
case_is peek-timeout-ok           ok          null      --profile classic --path haproxy-peek --shape gap:20
case_is unknown-group-alert       alert       fortigate --profile chrome-pq --path fortigate-flow-ips
jq_is "unknown-group-alert: illegal_parameter" "$TMP/unknown-group-alert.json" '.detail.text | test("illegal_parameter \\(47\\)")' true
case_is unknown-group-ok          ok          null      --profile classic --path fortigate-flow-ips
case_is hrr-intolerant            hrr-failure proxy     --profile p256-mlkem768 --path hrr-intolerant
case_is hrr-intolerant-ok         ok          null      --profile chrome-pq --path hrr-intolerant
case_is multi-share-intolerant    alert       proxy     --profile "$TMP/two-pq.ini" --path wolfssl-multishare
jq_is "multi-share: handshake_failure" "$TMP/multi-share-intolerant.json" '.detail.text | test("handshake_failure \\(40\\)")' true
case_is multi-share-one-ok        ok          null      --profile chrome-pq --path wolfssl-multishare
case_is size-window               stall       bigip     --profile "$TMP/classic-nopad.ini" --path f5-size-window
case_is size-window-padded-ok     ok          null      --profile classic --path f5-size-window
case_is size-window-pq-ok         ok          null      --profile chrome-pq --path f5-size-window
case_is no-reassembly-ooo         stall       dpi       --profile chrome-pq --path nDPI-ooo --shape order:reverse
case_is no-reassembly-inorder-ok  ok          null      --profile chrome-pq --path nDPI-ooo
case_is record-frag-blind         stall       dpi       --profile chrome-pq --path ndpi-records --shape records:512
case_is record-frag-one-ok        ok          null      --profile chrome-pq --path ndpi-records
case_is grease-intolerant         closed      squid     --profile chrome-pq --path squid-peek
case_is tunnel-nomss              blackhole   wireguard --profile chrome-pq --path wireguard-1300-nomss
case_is tunnel-nomss-ok           ok          null      --profile classic --path wireguard-1300-nomss
case_is nat64                     blackhole   nat64     --profile chrome-pq --path nat64-jool
case_is nat64-ok                  ok          null      --profile classic --path nat64-jool
case_is v6-frag-drop              frag-lost   firewall  --profile chrome-pq --path v6-frag-drop --ipv6 --shape ipfrag:1200
case_is v6-frag-drop-ok           ok          null      --profile classic --path v6-frag-drop --ipv6 --shape ipfrag:1200
case_is mss-clamped               ok          null      --profile chrome-pq --path mss-536
jq_is "mss-clamped: four segments" "$TMP/mss-clamped.json" '.flight.segments | length' 4
# The clamp is the kernel's (nftables): no user-space hop, no hop_stats.
jq_is "mss-clamped: a kernel hop" "$TMP/mss-clamped.json" '.hop_stats' '[]'
finish
