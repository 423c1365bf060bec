#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown matrix, end to end on real namespaces: the default matrix meets
# every expectation and every report agrees with the JSON; a changed
# expectation fails the run with a JUnit failure naming the cell; three
# shards merged give the single run's document; --diff puts regressions
# first; --jobs 1 and 2 agree cell by cell.
. "$(dirname "$0")/../cli/lib.bash"
S=$SHAKEDOWN
[ "$(id -u)" -eq 0 ] || { echo "needs root: skip"; exit 77; }

# Fields that depend on scheduling and timing (docs/matrix.md): the run
# object, times, the ladder, what the server's reads and late writes were,
# per-hop packet counts (delayed ACKs, a session ticket sent or not). The
# server's flight itself is the same size every time (a fixed lab key).
# A document's summary, recomputed from its cells (after jq surgery).
SUMMARY='.summary = {cells: (.cells | length), passed: ([.cells[] | select(.pass)] | length),
  failed: ([.cells[] | select((.pass | not) and .outcome != "error")] | length),
  errors: ([.cells[] | select(.outcome == "error")] | length),
  outcomes: (reduce .cells[] as $c ({}; .[$c.outcome] += 1))}'
# A real client's hello differs run to run (Chromium shuffles its
# extensions, picks GREASE values, pads to varying sizes): of its cells the
# verdict is compared.
NORM='del(.run) | .cells |= map(del(.timing_ms, .ladder, .server_report, .hops, .hop_stats, .flight.client_port)
  | if .client != "engine" then {id, client, path, server, outcome, expected, pass,
      breaking: .detail.breaking} else . end)'

rc=0
"$S" matrix --json "$TMP/full.json" --junit "$TMP/full.xml" --markdown "$TMP/full.md" \
  --html "$TMP/full.html" > "$TMP/full.txt" 2> "$TMP/full.err" || rc=$?
check "default matrix: exit 0 ($(head -c 300 "$TMP/full.err"))" test "$rc" -eq 0
jq_is "default matrix: at least 120 cells" "$TMP/full.json" '.summary.cells >= 120' true
jq_is "default matrix as root: not rootless" "$TMP/full.json" .run.rootless false
jq_is "default matrix: every expectation met" "$TMP/full.json" '[.cells[] | select(.pass | not)] | length' 0
jq_is "default matrix: no harness errors" "$TMP/full.json" .summary.errors 0
jq_is "default matrix: real clients next to them" "$TMP/full.json" \
  '[.cells[] | select(.client != "engine") | .client] | unique | join(",")' "chromium,curl,node-pq"
jq_is "default matrix: every profile" "$TMP/full.json" '[.cells[] | select(.client == "engine") | .profile] | unique | length' \
  "$("$S" list profiles | grep -c .)"
jq_is "default matrix: every server kind" "$TMP/full.json" '[.cells[].server] | unique | join(",")' "nginx,node-pq,openssl,openssl-p256,single-read"
jq_is "default matrix: X25519MLKEM768 negotiated with the PQ server" "$TMP/full.json" \
  '.cells[] | select(.id == "chrome-pq/clean/node-pq") | .negotiated.group' X25519MLKEM768
jq_is "default matrix: middleboxes named" "$TMP/full.json" \
  '[.cells[] | select(.group == "middleboxes" and (.outcome | test("ok") | not)) | .detail.breaking] | unique | join(",")' \
  "fortigate,ingress,squid,sslsplit"
jq_is "default matrix: black holes named" "$TMP/full.json" \
  '[.cells[] | select(.outcome == "blackhole") | .detail.breaking] | unique | join(",")' tunnel
jq_is "default matrix: the split-hello bug named" "$TMP/full.json" \
  '[.cells[] | select(.group == "split-hello" and .outcome == "reset") | .detail.breaking] | unique | join(",")' server
jq_is "default matrix: labs reused" "$TMP/full.json" '.run.labs < (.summary.cells / 4)' true
jq_is "cell: ladder and field map" "$TMP/full.json" \
  '.cells[] | select(.id == "chrome-pq/tunnel-1280-blackhole/openssl") | [(.ladder.rows | length > 4), (.hello_fields | length > 20), .rule]' \
  "$(printf '[\n  true,\n  true,\n  "netns/matrices/default.ini:%s"\n]' \
     "$(grep -n '^blackhole = \* tunnel-1280-blackhole' "$SD_SOURCE_DIR/netns/matrices/default.ini" | cut -d: -f1)")"
n=$(jq .summary.cells "$TMP/full.json")
check "JUnit: one testcase per cell" test "$(grep -c '<testcase ' "$TMP/full.xml")" -eq "$n"
check "JUnit: no failures" test "$(grep -c '<failure' "$TMP/full.xml")" -eq 0
check "Markdown: a table row per profile" grep -q '| chrome-pq' "$TMP/full.md"
check "HTML: one page, every cell" test "$(grep -o 'data-cell-id=' "$TMP/full.html" | wc -l)" -ge "$n"
check "terminal: a summary line" grep -q "$n cells" "$TMP/full.txt"
check "terminal: plain when not a TTY" bash -c "! grep -q $'\e\\[' '$TMP/full.txt'"

# One expectation changed: exit 1, and the JUnit failure names the cell,
# its outcome and its evidence.
"$S" matrix --list > "$TMP/list.txt"
cp "$SD_SOURCE_DIR/netns/matrices/default.ini" "$TMP/changed.ini"
printf 'ok = chrome-pq tunnel-1280-blackhole openssl\n' >> "$TMP/changed.ini"
rc=0
"$S" matrix "$TMP/changed.ini" --only '*/tunnel-1280-blackhole/*' --junit "$TMP/changed.xml" \
  --json "$TMP/changed.json" > "$TMP/changed.txt" 2>&1 || rc=$?
check "changed expectation: exit 1" test "$rc" -eq 1
jq_is "changed expectation: one cell missed" "$TMP/changed.json" '[.cells[] | select(.pass | not) | .id] | join(",")' \
  chrome-pq/tunnel-1280-blackhole/openssl
check "changed expectation: JUnit failure names the cell" \
  grep -q 'name="chrome-pq/tunnel-1280-blackhole/openssl"' "$TMP/changed.xml"
check "changed expectation: one JUnit failure" test "$(grep -c '<failure' "$TMP/changed.xml")" -eq 1
check "changed expectation: JUnit failure has outcome and evidence" \
  grep -q '<failure[^>]*blackhole[^>]*larger than tunnel' "$TMP/changed.xml"
check "changed expectation: terminal names it" grep -q 'chrome-pq/tunnel-1280-blackhole/openssl' "$TMP/changed.txt"

# Three shards, merged: the single run's document. First the merge on its
# own, byte for byte: the single run cut into three shard documents.
for i in 1 2 3; do
  jq --argjson i "$i" '(.matrix.cells) as $n | .shard = {index: $i, count: 3}
    | .cells |= map(select(.index >= ($n * ($i - 1) / 3 | floor) and .index < ($n * $i / 3 | floor)))
    | '"$SUMMARY" \
    "$TMP/full.json" > "$TMP/cut$i.json"
done
"$S" merge -q --json "$TMP/cut-merged.json" "$TMP/cut3.json" "$TMP/cut1.json" "$TMP/cut2.json"
check "merge: the cut run joins back exactly" \
  cmp <(jq 'del(.run)' "$TMP/full.json") <(jq 'del(.run)' "$TMP/cut-merged.json")
# Then real shard runs.
for i in 1 2 3; do
  "$S" matrix -q --shard "$i/3" --json "$TMP/shard$i.json" 2> "$TMP/shard$i.err"
  jq_is "shard $i: its slice" "$TMP/shard$i.json" ".shard.index" "$i"
done
rc=0
"$S" merge --json "$TMP/merged.json" --junit "$TMP/merged.xml" "$TMP/shard"{1,2,3}.json > "$TMP/merged.txt" || rc=$?
check "merge: exit 0" test "$rc" -eq 0
check "merge: same document as one run (timings aside)" \
  cmp <(jq -S "$NORM" "$TMP/full.json") <(jq -S "$NORM" "$TMP/merged.json")
jq_is "merge: shard gone" "$TMP/merged.json" .shard null
jq_is "merge: three shards counted" "$TMP/merged.json" .run.shards 3
check "merge: same JUnit testcases" test "$(grep -c '<testcase ' "$TMP/merged.xml")" -eq "$n"
expect_exit 2 "merge: a shard twice" "$S" merge -q "$TMP/shard1.json" "$TMP/shard1.json" "$TMP/shard2.json" "$TMP/shard3.json"
expect_exit 2 "merge: a shard missing" "$S" merge -q "$TMP/shard1.json" "$TMP/shard3.json"
printf '{"schema": "nope"}' > "$TMP/bad.json"
expect_exit 2 "merge: not a matrix document" "$S" merge -q "$TMP/bad.json"

# --diff: a passing cell turned into a failure is a regression, listed first.
jq '(.cells[] | select(.id == "chrome-pq/clean/openssl")) |= (.outcome = "reset" | .pass = false)
    | (.cells[] | select(.id == "classic/clean/openssl")) |= (.outcome = "ok-hrr") | '"$SUMMARY" \
  "$TMP/full.json" > "$TMP/worse.json"
rc=0
"$S" matrix --diff "$TMP/full.json" "$TMP/worse.json" > "$TMP/diff.txt" 2>&1 || rc=$?
check "diff: exit 1 on a regression" test "$rc" -eq 1
check "diff: the regression first" bash -c "grep -m1 -E 'chrome-pq/clean/openssl|classic/clean/openssl' '$TMP/diff.txt' | grep -q chrome-pq"
expect_exit 0 "diff: no regression, exit 0" "$S" matrix --diff "$TMP/worse.json" "$TMP/full.json"

# --jobs 1 and the default agree cell by cell.
"$S" matrix -q --jobs 1 --only 'c*' --json "$TMP/j1.json" 2>/dev/null
check "jobs 1 vs default: same outcomes" \
  cmp <(jq -r '.cells[] | "\(.id) \(.outcome)"' "$TMP/j1.json") \
      <(jq -r '.cells[] | select(.profile | startswith("c")) | "\(.id) \(.outcome)"' "$TMP/full.json")

# --pcap-dir: one directory per cell, its files listed in the cell.
"$S" matrix -q --only 'chrome-pq/tunnel-1280-blackhole/*' --pcap-dir "$TMP/pcaps/new" --json "$TMP/pc.json" 2>/dev/null
jq_is "pcap-dir: four interfaces" "$TMP/pc.json" '.cells[0].pcaps | length' 4
check "pcap-dir: files there" test -s "$(jq -r '.cells[0].pcaps[2]' "$TMP/pc.json")"

# Spec errors: one line with file and line, exit 2, nothing run.
printf '[cells a]\nprofiles = chrome-pq nosuch\npaths = clean\n' > "$TMP/bad1.ini"
expect_exit 2 "unknown profile" "$S" matrix "$TMP/bad1.ini"
check "unknown profile: file and line" grep -q "bad1.ini:2: unknown profile 'nosuch'" "$TMP/err"
printf '[cells a]\nprofiles = chrome-pq\npaths = clean\nfamilies = ipv6\npaths = mss-536\n' > "$TMP/bad2.ini"
expect_exit 2 "paths twice" "$S" matrix "$TMP/bad2.ini"
printf '[cells a]\nprofiles = chrome-pq\npaths = tunnel-1280-blackhole\n[expect]\nokay = * *\n' > "$TMP/bad3.ini"
expect_exit 2 "bad outcome" "$S" matrix "$TMP/bad3.ini"
check "bad outcome: line 5" grep -q "bad3.ini:5:" "$TMP/err"
printf '[path]\n[hop r]\nbehaviours = mtu:1200\n' > "$TMP/small.ini"
printf '[cells a]\nprofiles = chrome-pq\npaths = small.ini\nfamilies = ipv6\n' > "$TMP/bad4.ini"
expect_exit 2 "IPv6 through a path below 1280" "$S" matrix "$TMP/bad4.ini"
expect_exit 2 "unknown matrix" "$S" matrix nosuch
expect_exit 2 "bad shard" "$S" matrix --shard 4/3
expect_exit 2 "bad jobs" "$S" matrix --jobs 0
finish
