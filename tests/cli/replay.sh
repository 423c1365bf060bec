# SPDX-License-Identifier: MIT
# shakedown replay: bad captures and bad flags fail with one line and exit 2
# before anything is built (no root needed: the plan comes first).
source "$(dirname "$0")/lib.bash"
fixture="$SD_SHARED_DIR/fixtures/chromium-156-clienthello.pcap"
gen="$(dirname "$SHAKEDOWN")/tests/test_replay"
[ -r "$fixture" ] && [ -x "$gen" ] || { echo "skip: no fixture or generator"; exit 77; }
"$gen" --write "$TMP/caps" >/dev/null

check "--help teaches the exit codes" bash -c "$SHAKEDOWN replay --help | grep -q 'every connection met --expect'"
check "replay is in the command list" bash -c "$SHAKEDOWN --help | grep -q '^  replay'"

: > "$TMP/empty.pcap"
expect_exit 2 "empty file" "$SHAKEDOWN" replay "$TMP/empty.pcap" --path clean
grep -q "empty file" "$TMP/err" && ok || bad "empty: $(cat "$TMP/err")"

head -c 1000 "$fixture" > "$TMP/cut.pcap"
expect_exit 2 "capture cut in the middle of a pcap record" "$SHAKEDOWN" replay "$TMP/cut.pcap" --path clean
grep -q "truncated" "$TMP/err" && ok || bad "cut: $(cat "$TMP/err")"

expect_exit 2 "capture holding half a TLS record" "$SHAKEDOWN" replay "$TMP/caps/missing.pcap" --path clean
grep -q "ends inside it" "$TMP/err" && ok || bad "missing: $(cat "$TMP/err")"

printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$TMP/http.txt"
expect_exit 2 "not a pcap" "$SHAKEDOWN" replay "$TMP/http.txt" --path clean
grep -q "not a pcap or pcapng capture" "$TMP/err" && ok || bad "not pcap: $(cat "$TMP/err")"

expect_exit 2 "a capture without TLS" "$SHAKEDOWN" replay "$TMP/caps/http.pcap" --path clean
grep -q "no TLS ClientHello" "$TMP/err" && ok || bad "no TLS: $(cat "$TMP/err")"

expect_exit 2 "a capture cut by snaplen" "$SHAKEDOWN" replay "$TMP/caps/snaplen.pcap" --path clean
grep -q "snaplen" "$TMP/err" && ok || bad "snaplen: $(cat "$TMP/err")"

expect_exit 2 "no such file" "$SHAKEDOWN" replay "$TMP/nope.pcap" --path clean
expect_exit 2 "no --path" "$SHAKEDOWN" replay "$fixture"
expect_exit 2 "no capture" "$SHAKEDOWN" replay --path clean
expect_exit 2 "bad --reshape" "$SHAKEDOWN" replay "$fixture" --path clean --reshape gap:99999
expect_exit 2 "--exact with --reshape" "$SHAKEDOWN" replay "$fixture" --path clean --exact --reshape mss
expect_exit 2 "bad --expect" "$SHAKEDOWN" replay "$fixture" --path clean --expect ok,fine
expect_exit 2 "unknown path" "$SHAKEDOWN" replay "$fixture" --path no-such-path
finish
