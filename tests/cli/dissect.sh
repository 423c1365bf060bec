#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown dissect: the Chromium capture, record streams, and bad input.
. "$(dirname "$0")/lib.bash"
S=$SHAKEDOWN
FX=$SD_SHARED_DIR/fixtures/chromium-156-clienthello.pcap
[ -f "$FX" ] || { echo "fixture missing: skip"; exit 77; }

"$S" dissect "$FX" --json > "$TMP/fx.json"
jq_is "two hellos" "$TMP/fx.json" '.hellos | length' 2
jq_is "segments 1" "$TMP/fx.json" '.hellos[0].segments | join(",")' 1228,703
jq_is "segments 2" "$TMP/fx.json" '.hellos[1].segments | join(",")' 1228,703
jq_is "streams" "$TMP/fx.json" '[.hellos[].stream] | join(";")' "10.10.1.2:52988 > 10.10.2.2:4433;10.10.1.2:52996 > 10.10.2.2:4433"
jq_is "handshake length" "$TMP/fx.json" '[.hellos[].handshake_length] | join(",")' 1922,1922
jq_is "shares" "$TMP/fx.json" '[.hellos[0].key_shares[] | select(.name != "GREASE") | "\(.group)/\(.length)"] | join(",")' 4588/1216,29/32
jq_is "server picked x25519" "$TMP/fx.json" '[.server_hellos[].group_name] | join(",")' x25519,x25519
"$S" dissect "$FX" > "$TMP/fx.txt"
check "text names the cut field" grep -q "cut at message byte 1223: next segment starts in key_share entry X25519MLKEM768" "$TMP/fx.txt"

# Bad input: one line, exit 2.
: > "$TMP/empty"
expect_exit 2 "empty file" "$S" dissect "$TMP/empty"
head -c 1000 /dev/urandom > "$TMP/garbage"
printf 'GET / HTTP/1.1\r\n\r\n' > "$TMP/http"
expect_exit 2 "garbage" "$S" dissect "$TMP/http"
"$S" hello --profile chrome-pq --seed 1 --out "$TMP/h.bin" > /dev/null
head -c 900 "$TMP/h.bin" > "$TMP/trunc.bin"
expect_exit 2 "truncated record stream" "$S" dissect "$TMP/trunc.bin"
head -c 9000 "$FX" > "$TMP/trunc.pcap"
expect_exit 2 "truncated capture" "$S" dissect "$TMP/trunc.pcap"
head -c 24 "$FX" > "$TMP/hdr.pcap"
expect_exit 2 "capture without packets" "$S" dissect "$TMP/hdr.pcap"
expect_exit 2 "missing file" "$S" dissect "$TMP/nope"
expect_exit 2 "directory" "$S" dissect "$TMP"
expect_exit 2 "no file" "$S" dissect
# A valid stream with a ServerHello but no ClientHello.
expect_exit 0 "record stream" "$S" dissect "$TMP/h.bin"
finish
