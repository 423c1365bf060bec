#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad input, table-driven, across every command: spec files (profiles,
# paths, matrices) with syntax errors, unknown keys and bad values,
# captures that are empty, truncated, not captures or hold no TLS, flags
# unknown, without values or with bad numbers, unknown names, unreadable
# files. Every row must: exit 2, print exactly ONE line on stderr that
# names the problem (a substring is asserted), print nothing on stdout,
# and leave nothing behind — no new file in a private TMPDIR or the
# working directory, no process (every row's processes carry a marker in
# their environment), no named namespace, no host interface.
# Needs no root: everything here is refused before a namespace exists.
. "$(dirname "$0")/lib.bash"
S=$SHAKEDOWN
FX=$SD_SHARED_DIR/fixtures/chromium-156-clienthello.pcap

F=$TMP/files              # the rows' input files
W=$TMP/work               # the rows' working directory, must stay as is
export TMPDIR=$TMP/tmpdir # the harness's TMPDIR, must stay empty
mkdir -p "$F" "$W" "$TMPDIR"

rows=0
host_links() { ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sort; }
run_netns() { ls /run/netns 2>/dev/null | sort; }
# Processes whose environment holds this row's marker.
marked() {
  grep -lsa "SD_BAD_INPUT_ROW=$1" /proc/[0-9]*/environ 2>/dev/null |
    grep -v "^/proc/$$/" | grep -v "^/proc/self/" | wc -l
}

# row SUBSTRING DESCRIPTION COMMAND...: exit 2, one stderr line containing
# SUBSTRING, empty stdout, nothing left behind.
row() {
  local want=$1 d=$2 rc=0 mark
  shift 2
  rows=$((rows + 1))
  mark="$$-$rows"
  host_links > "$TMP/links.before"; run_netns > "$TMP/netns.before"
  ( cd "$W" && SD_BAD_INPUT_ROW=$mark exec "$@" ) > "$TMP/out" 2> "$TMP/err" || rc=$?
  if [ "$rc" -ne 2 ]; then bad "row $rows ($d): exit $rc, want 2: $(head -c 300 "$TMP/err")"; return; fi
  if [ "$(wc -l < "$TMP/err")" -ne 1 ] || [ "$(grep -c . "$TMP/err")" -ne 1 ]; then
    bad "row $rows ($d): want exactly one line on stderr, got: $(head -c 600 "$TMP/err")"; return
  fi
  if ! grep -qF -- "$want" "$TMP/err"; then
    bad "row $rows ($d): stderr does not name '$want': $(cat "$TMP/err")"; return
  fi
  if [ -s "$TMP/out" ]; then bad "row $rows ($d): stdout not empty: $(head -c 300 "$TMP/out")"; return; fi
  if [ -n "$(ls -A "$TMPDIR")" ] || [ -n "$(ls -A "$W")" ]; then
    bad "row $rows ($d): files left: $(ls -A "$TMPDIR" "$W")"; rm -rf "${TMPDIR:?}"/* "$W"/*; return
  fi
  if [ "$(marked "$mark")" -ne 0 ]; then bad "row $rows ($d): a process survived"; return; fi
  host_links > "$TMP/links.after"; run_netns > "$TMP/netns.after"
  if ! cmp -s "$TMP/links.before" "$TMP/links.after"; then bad "row $rows ($d): host interfaces changed"; return; fi
  if ! cmp -s "$TMP/netns.before" "$TMP/netns.after"; then bad "row $rows ($d): /run/netns changed"; return; fi
  ok
}

# ---- input files ----------------------------------------------------------
: > "$F/empty"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' > "$F/http.txt"
mkdir -p "$F/adir.ini" "$F/adir"
printf 'x\n' > "$F/notadir"
# Larger than any spec may be (1 MiB).
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ';' > "$F/huge.ini"
"$S" hello --profile chrome-pq --seed 1 --out "$F/hello.bin" > /dev/null
head -c 900 "$F/hello.bin" > "$F/hello-trunc.bin"
# pcap: the global header, then one Ethernet/IPv4/UDP packet (no TLS).
pcap_hdr='\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00\x01\x00\x00\x00'
printf "$pcap_hdr" > "$F/hdr-only.pcap"
printf "$pcap_hdr"'\x00\x00\x00\x00\x00\x00\x00\x00\x2a\x00\x00\x00\x2a\x00\x00\x00' > "$F/udp.pcap"
printf '\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00' >> "$F/udp.pcap"
printf '\x45\x00\x00\x1c\x00\x00\x00\x00\x40\x11\x00\x00\x0a\x00\x00\x01\x0a\x00\x00\x02' >> "$F/udp.pcap"
printf '\x04\xd2\x00\x35\x00\x08\x00\x00' >> "$F/udp.pcap"
# A record header promising more than the file holds.
printf "$pcap_hdr"'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x04\x00\x00\x45\x00' > "$F/cut.pcap"
head -c 1000 /dev/urandom > "$F/random.bin"

printf '[profile\ngroups = x25519\n' > "$F/p-syntax.ini"
printf '[profile]\ngroups = x25519\nshares = x25519\ncolour = blue\n' > "$F/p-key.ini"
printf '[profile]\ngroups = x25519 nosuchgroup\nshares = x25519\n' > "$F/p-group.ini"
sed 's/^session_id.*//' "$SD_SOURCE_DIR/netns/profiles/classic.ini" > "$F/p-sid.ini"
printf 'session_id = 33\n' >> "$F/p-sid.ini"
printf '\x00\x01\x02[profile]\xff\xfe\n' > "$F/p-binary.ini"

hop() { printf '[path]\n[hop r1]\nbehaviours = %s\n' "$1"; }
hop 'mtu:20' > "$F/mtu-low.ini"
hop 'mtu:99999' > "$F/mtu-high.ini"
hop 'mtu:-1' > "$F/mtu-neg.ini"
hop 'mtu:1280x' > "$F/mtu-junk.ini"
hop 'mss-clamp:10' > "$F/mss.ini"
hop 'loss:101' > "$F/loss.ini"
hop 'teleport' > "$F/beh.ini"
hop 'mtu:1400 mtu:1300' > "$F/beh-dup.ini"
hop 'mtu:1200' > "$F/mtu-1200.ini"
printf '[path]\nclient_mtu = 10\n[hop r1]\n' > "$F/client-mtu.ini"
printf '[path]\ngateway = 192.168.1.1\n[hop r1]\n' > "$F/path-key.ini"
printf '[path]\n[hop r1]\naddress = 192.168.1.1\n' > "$F/hop-addr.ini"
printf '[path]\n[hop r1\n' > "$F/path-syntax.ini"
printf '[path]\ndescription = no hops\n' > "$F/no-hops.ini"
printf '[path]\n[hop ../../etc]\n' > "$F/hop-name.ini"
printf '[path]\n[hop host]\n[hop host]\n' > "$F/hop-twice.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\n' > "$F/exec-nokey.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = cat {config}\nconfig = ../../etc/shadow\n' > "$F/exec-config.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = cat {config}\nconfig = absent.cfg\n' > "$F/exec-noconf.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = /nonexistent/proxy -f {config}\n' > "$F/exec-noprog.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = sleep 1\nlisten = 70000\n' > "$F/exec-port.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = sleep 1\nstart_timeout = 50\n' > "$F/exec-start.ini"
printf '[path]\n[hop r1]\nbehaviours = exec\nexec = nsenter -t 1 -n haproxy\n' > "$F/exec-nsenter.ini"
{ printf '[path]\n'; for i in 1 2 3 4 5 6 7 8 9; do printf '[hop h%d]\n' "$i"; done; } > "$F/nine-hops.ini"

printf '[matrix\n' > "$F/m-syntax.ini"
printf '[matrix]\nflavour = vanilla\n[cells a]\nprofiles = classic\npaths = clean\n' > "$F/m-key.ini"
printf '[matrix]\n[cells a]\nprofiles = classic nosuchprofile\npaths = clean\n' > "$F/m-profile.ini"
printf '[matrix]\n[cells a]\nprofiles = classic\npaths = clean\nservers = apache\n' > "$F/m-server.ini"
printf '[matrix]\n[cells a]\nprofiles = classic\npaths = clean\n[expect]\nsuperb = * *\n' > "$F/m-outcome.ini"
printf '[matrix]\n[cells a]\nprofiles = classic\npaths = clean\nshapes = warp:9\n' > "$F/m-shape.ini"
printf '{"not": "a shakedown report"}\n' > "$F/other.json"
SAMPLE=$SD_SOURCE_DIR/tests/data/matrix/sample.json
head -c 500 "$SAMPLE" > "$F/cut.json"
jq '.cells[0].outcome = "superb"' "$SAMPLE" > "$F/bad-outcome.json"
printf '[]\n' > "$F/array.json"

# ---- the table --------------------------------------------------------------
# global
row "unknown command" "unknown command" "$S" frobnicate
row "a command" "no command" "$S"
# hello
row "--profile" "hello without a profile" "$S" hello
row "unknown or incomplete option" "unknown flag" "$S" hello --profile classic --frobnicate
row "--profile" "flag without its value" "$S" hello --profile
row "unknown profile 'nosuch'" "unknown profile name" "$S" hello --profile nosuch
row "No such file" "missing profile file" "$S" hello --profile "$F/nope.ini"
row "directory" "profile file is a directory" "$S" hello --profile "$F/adir.ini"
row "Not a directory" "unreadable for root too (ENOTDIR)" "$S" hello --profile "$F/notadir/x.ini"
row "too large" "profile file over 1 MiB" "$S" hello --profile "$F/huge.ini"
row "p-syntax.ini:1" "profile syntax error" "$S" hello --profile "$F/p-syntax.ini"
row "colour" "profile unknown key" "$S" hello --profile "$F/p-key.ini"
row "nosuchgroup" "profile unknown group" "$S" hello --profile "$F/p-group.ini"
row "session_id" "profile bad value" "$S" hello --profile "$F/p-sid.ini"
row "p-binary.ini" "profile of binary bytes" "$S" hello --profile "$F/p-binary.ini"
row "--pad-to" "bad number" "$S" hello --profile classic --pad-to 12abc
row "--pad-to" "number out of range" "$S" hello --profile classic --pad-to 99999999999
row "--records" "zero record size" "$S" hello --profile classic --records 0
row "--groups" "unknown group in a flag" "$S" hello --profile classic --groups x25519,nosuch
row "No such file" "output into a missing directory" "$S" hello --profile classic --out "$F/nodir/h.bin"
# dissect
row "FILE" "dissect without a file" "$S" dissect
row "empty" "empty file" "$S" dissect "$F/empty"
row "not" "HTTP, not TLS nor a capture" "$S" dissect "$F/http.txt"
row "not" "random bytes" "$S" dissect "$F/random.bin"
row "ends early" "truncated record stream" "$S" dissect "$F/hello-trunc.bin"
row "no" "capture header only" "$S" dissect "$F/hdr-only.pcap"
row "no" "capture without TLS (one UDP packet)" "$S" dissect "$F/udp.pcap"
row "truncated" "capture cut inside a packet" "$S" dissect "$F/cut.pcap"
row "directory" "dissect a directory" "$S" dissect "$F/adir"
row "empty" "replay an empty file" "$S" replay "$F/empty" --path clean
row "not a pcap" "replay HTTP text" "$S" replay "$F/http.txt" --path clean
row "truncated" "replay a capture cut inside a packet" "$S" replay "$F/cut.pcap" --path clean
row "no TLS ClientHello" "replay a capture without TLS" "$S" replay "$F/udp.pcap" --path clean
row "snaplen" "replay a hello cut by snaplen" "$S" replay "$SD_SOURCE_DIR/tests/fuzz/corpus/replay/snaplen.pcap" --path clean
row "--path is required" "replay without a path" "$S" replay "$FX"
row "not both" "replay --exact with --reshape" "$S" replay "$FX" --path clean --exact --reshape mss
row "unknown path 'nosuch'" "replay through an unknown path" "$S" replay "$FX" --path nosuch
row "--over" "bisect over an unknown dimension" "$S" bisect --path sslsplit-1k --over colour
row "--range" "bisect with an inverted range" "$S" bisect --path sslsplit-1k --over size --range 1100:900
row "--path is required" "bisect without a path" "$S" bisect --over size
row "--client" "run with an unknown real client" "$S" run --client netscape --path clean
row "--client sends its own hello" "run --client with --profile" "$S" run --client chromium --profile classic --path clean
row "--deadline" "run --deadline without --client" "$S" run --profile classic --path clean --deadline 500
row "No such file" "dissect a missing file" "$S" dissect "$F/nope.pcap"
row "unknown option" "dissect unknown flag" "$S" dissect "$F/hello.bin" --pretty
row "Input/output error" "a file unreadable for root too (EIO)" "$S" dissect /proc/self/mem
# run: refused before any namespace exists (as root or not)
row "unknown path 'nosuch'" "unknown path" "$S" run --profile classic --path nosuch
row "unknown profile 'nosuch'" "unknown profile" "$S" run --profile nosuch --path clean
row "nosuch" "unknown server" "$S" run --profile classic --path clean --server nosuch
row "warp" "unknown shape" "$S" run --profile classic --path clean --shape warp:9
row "--repeat" "bad number" "$S" run --profile classic --path clean --repeat ten
row "--repeat" "zero repeats" "$S" run --profile classic --path clean --repeat 0
row "--chain-size" "negative size" "$S" run --profile classic --path clean --chain-size -5
row "superb" "unknown outcome" "$S" run --profile classic --path clean --expect superb
row "--keylog" "key log into a missing directory" "$S" run --profile classic --path clean --keylog "$F/nodir/k.log"
row "is a directory" "key log onto a directory" "$S" run --profile classic --path clean --keylog "$F/adir"
row "--path" "run without a path" "$S" run --profile classic
row "extra" "stray argument" "$S" run --profile classic --path clean extra
row "mtu:20" "MTU below 68" "$S" run --profile classic --path "$F/mtu-low.ini"
row "mtu:99999" "MTU above 9000" "$S" run --profile classic --path "$F/mtu-high.ini"
row "mtu:-1" "negative MTU" "$S" run --profile classic --path "$F/mtu-neg.ini"
row "mtu:1280x" "MTU with junk" "$S" run --profile classic --path "$F/mtu-junk.ini"
row "client_mtu" "client MTU out of range" "$S" run --profile classic --path "$F/client-mtu.ini"
row "mss-clamp" "MSS clamp out of range" "$S" run --profile classic --path "$F/mss.ini"
row "loss:101" "loss over 100%" "$S" run --profile classic --path "$F/loss.ini"
row "teleport" "unknown behaviour" "$S" run --profile classic --path "$F/beh.ini"
row "twice" "behaviour given twice" "$S" run --profile classic --path "$F/beh-dup.ini"
row "gateway" "path names an address (unknown key)" "$S" run --profile classic --path "$F/path-key.ini"
row "address" "hop names an address (unknown key)" "$S" run --profile classic --path "$F/hop-addr.ini"
row "path-syntax.ini:2" "path syntax error" "$S" run --profile classic --path "$F/path-syntax.ini"
row "no [hop" "path without hops" "$S" run --profile classic --path "$F/no-hops.ini"
row "hop name" "hop name with slashes" "$S" run --profile classic --path "$F/hop-name.ini"
row "twice" "hop name twice" "$S" run --profile classic --path "$F/hop-twice.ini"
row "more than 8 hops" "nine hops" "$S" run --profile classic --path "$F/nine-hops.ini"
row "IPv6" "--ipv6 over a 1200-byte link" "$S" run --profile classic --path "$F/mtu-1200.ini" --ipv6
row "exec" "exec behaviour without a command" "$S" run --profile classic --path "$F/exec-nokey.ini"
row "config" "exec config escaping its directory" "$S" run --profile classic --path "$F/exec-config.ini"
row "absent.cfg" "exec config missing" "$S" run --profile classic --path "$F/exec-noconf.ini"
row "not an executable file" "exec program missing" "$S" run --profile classic --path "$F/exec-noprog.ini"
row "listen" "exec port out of range" "$S" run --profile classic --path "$F/exec-port.ini"
row "start_timeout" "exec start timeout out of range" "$S" run --profile classic --path "$F/exec-start.ini"
row "hop's namespace" "exec program entering the host's namespace" "$S" run --profile classic --path "$F/exec-nsenter.ini"
# matrix and merge
row "unknown matrix 'nosuch'" "unknown matrix" "$S" matrix nosuch
row "m-syntax.ini:1" "matrix syntax error" "$S" matrix "$F/m-syntax.ini"
row "flavour" "matrix unknown key" "$S" matrix "$F/m-key.ini"
row "nosuchprofile" "matrix unknown profile" "$S" matrix "$F/m-profile.ini"
row "apache" "matrix unknown server" "$S" matrix "$F/m-server.ini"
row "superb" "matrix unknown outcome" "$S" matrix "$F/m-outcome.ini"
row "warp" "matrix unknown shape" "$S" matrix "$F/m-shape.ini"
row "--jobs" "zero jobs" "$S" matrix --jobs 0 --list
row "--json" "matrix JSON into a missing directory (refused before any cell)" "$S" matrix bench --json "$F/nodir/m.json"
row "is a directory" "matrix HTML onto a directory" "$S" matrix bench --html "$F/adir" -q
row "--shard" "shard beyond the count" "$S" matrix --shard 3/2 --list
row "--jobs" "flag without its value" "$S" matrix --jobs
row "No such file" "diff of a missing file" "$S" matrix --diff "$F/nope.json" "$F/nope2.json"
row "no shard files" "merge without files" "$S" merge
row "other.json" "merge of a foreign JSON" "$S" merge "$F/other.json"
row "http.txt" "merge of a non-JSON file" "$S" merge "$F/http.txt"
row "premature end" "merge of a truncated report" "$S" merge "$F/cut.json"
row "in documents 1 and 2" "merge of the same shard twice" "$S" merge "$SAMPLE" "$SAMPLE"
row "unknown outcome 'superb'" "diff of a report with a bad outcome" "$S" matrix --diff "$F/bad-outcome.json" "$SAMPLE"
row "expected an object" "diff of a JSON array" "$S" matrix --diff "$F/array.json" "$SAMPLE"
# topo, list
row "up or down" "topo without a verb" "$S" topo
row "sideways" "topo unknown verb" "$S" topo sideways
row "unknown path 'nosuch'" "topo up unknown path" "$S" topo up nosuch
row "bad prefix" "topo up --keep with a prefix that is a path" "$S" topo up clean --keep --name ../../etc/x
row "bad prefix" "topo down with a prefix that is a path" "$S" topo down ../x
row "mtu:20" "topo up with an MTU out of range" "$S" topo up "$F/mtu-low.ini"
row "nosuch" "list unknown" "$S" list nosuch
row "what to list" "list without what" "$S" list

# As root, some checks come after the privilege check: still one line,
# exit 2, nothing built. (Without root these exit 3 first: skipped.)
if [ "$(id -u)" -eq 0 ]; then
  row "Not a directory" "pcap directory under a file" "$S" run --profile classic --path clean --pcap-dir "$F/notadir/p"
  row "Not a directory" "matrix pcap directory under a file" "$S" matrix bench --pcap-dir "$F/notadir/p" -q
else
  echo "2 rows skipped: they need root"
fi
echo "$rows bad-input rows"
finish
