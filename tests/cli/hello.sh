#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown hello: sizes, shares, padding, records, seeds, errors — through the real binary.
. "$(dirname "$0")/lib.bash"
S=$SHAKEDOWN

h() { "$S" hello --seed t "$@" --json; }

h --profile chrome-pq > "$TMP/c.json"
jq_is "chrome-pq 0x11ec share" "$TMP/c.json" '[.key_shares[] | select(.group == 4588) | .length] | .[0]' 1216
jq_is "chrome-pq x25519 share" "$TMP/c.json" '[.key_shares[] | select(.group == 29) | .length] | .[0]' 32
jq_is "chrome-pq size in range" "$TMP/c.json" '.handshake_length >= 1700 and .handshake_length <= 2100' true
jq_is "chrome-pq GREASE share" "$TMP/c.json" '[.key_shares[] | select(.name == "GREASE")] | length' 1

h --profile classic > "$TMP/k.json"
jq_is "classic under 600 bytes" "$TMP/k.json" '.handshake_length + 4 < 600' true
h --profile kyber-draft > "$TMP/x.json"
jq_is "kyber-draft 0x6399/1216" "$TMP/x.json" '[.key_shares[] | select(.group == 25497) | .length] | .[0]' 1216
h --profile p256-mlkem768 > "$TMP/x.json"
jq_is "p256-mlkem768 0x11eb/1249" "$TMP/x.json" '[.key_shares[] | select(.group == 4587) | .length] | .[0]' 1249
h --profile p384-mlkem1024 > "$TMP/x.json"
jq_is "p384-mlkem1024 0x11ed/1665" "$TMP/x.json" '[.key_shares[] | select(.group == 4589) | .length] | .[0]' 1665
h --profile mlkem1024 > "$TMP/x.json"
jq_is "mlkem1024 0x0202/1568" "$TMP/x.json" '[.key_shares[] | select(.group == 514) | .length] | .[0]' 1568
h --profile firefox-pq > "$TMP/x.json"
jq_is "firefox-pq three shares" "$TMP/x.json" '.key_shares | length' 3
jq_is "firefox-pq P-256 share" "$TMP/x.json" '[.key_shares[] | select(.group == 23) | .length] | .[0]' 65
h --profile pq-advertise-only > "$TMP/x.json"
jq_is "pq-advertise-only offers 0x11ec" "$TMP/x.json" '[.supported_groups[] | select(.id == 4588)] | length' 1
jq_is "pq-advertise-only shares x25519 only" "$TMP/x.json" '[.key_shares[] | select(.name != "GREASE") | .name] | join(",")' x25519
h --profile openssl35 > "$TMP/x.json"
jq_is "openssl35 two shares" "$TMP/x.json" '[.key_shares[].group] | join(",")' "4588,29"

# The extension set matches Chromium 156's capture (order is shuffled).
"$S" dissect "$SD_SHARED_DIR/fixtures/chromium-156-clienthello.pcap" --json > "$TMP/fx.json"
want=$(jq -c '[.hellos[0].extensions[].name] | sort' "$TMP/fx.json")
jq_is "chrome-pq extension set = fixture's" "$TMP/c.json" '[.extensions[].name] | sort | tostring' "$want"
want=$(jq -c '.hellos[0].handshake_length' "$TMP/fx.json")
jq_is "chrome-pq length = fixture's" "$TMP/c.json" '.handshake_length' "$want"

# --pad-to: exactly N bytes with the 4-byte header.
h --profile chrome-pq --pad-to 2048 > "$TMP/x.json"
jq_is "pad-to 2048" "$TMP/x.json" '.handshake_length + 4' 2048
h --profile classic --pad-to 1500 > "$TMP/x.json"
jq_is "pad-to 1500" "$TMP/x.json" '.handshake_length + 4' 1500
jq_is "padding extension present" "$TMP/x.json" '[.extensions[] | select(.name == "padding")] | length' 1
expect_exit 2 "pad-to below the hello" "$S" hello --profile chrome-pq --pad-to 1000

# --records: every record at most SIZE, and the bytes on the wire agree.
h --profile chrome-pq --records 512 > "$TMP/x.json"
jq_is "records all <= 512" "$TMP/x.json" '[.record_lengths[] | select(. > 512)] | length' 0
jq_is "records 4" "$TMP/x.json" '.record_lengths | length' 4
"$S" hello --profile chrome-pq --seed t --records 512 --out "$TMP/r.bin" > /dev/null
"$S" dissect "$TMP/r.bin" --json > "$TMP/rd.json"
jq_is "dissect sees the records" "$TMP/rd.json" '.hellos[0].record_lengths | join(",")' "512,512,512,390"
jq_is "wire bytes" "$TMP/rd.json" '.hellos[0].wire_length' 1946

# Seeds: same seed, same bytes; no seed, fresh bytes.
"$S" hello --profile chrome-pq --seed 7 --out "$TMP/a.bin" > /dev/null
"$S" hello --profile chrome-pq --seed 7 --out "$TMP/b.bin" > /dev/null
check "same seed, same bytes" cmp -s "$TMP/a.bin" "$TMP/b.bin"
"$S" hello --profile chrome-pq --out "$TMP/c.bin" > /dev/null
"$S" hello --profile chrome-pq --out "$TMP/d.bin" > /dev/null
check "no seed, different bytes" bash -c "! cmp -s '$TMP/c.bin' '$TMP/d.bin'"
seed=$("$S" hello --profile chrome-pq --json --out "$TMP/e.bin" | jq -r .seed)
"$S" hello --profile chrome-pq --seed "$seed" --out "$TMP/f.bin" > /dev/null
check "printed seed reproduces" cmp -s "$TMP/e.bin" "$TMP/f.bin"

# Overrides.
h --profile chrome-pq --sni example.com --alpn http/1.1 > "$TMP/x.json"
jq_is "sni" "$TMP/x.json" '.sni' example.com
jq_is "alpn" "$TMP/x.json" '.alpn | join(",")' http/1.1
h --profile classic --groups X25519MLKEM768,x25519 --shares X25519MLKEM768 > "$TMP/x.json"
jq_is "groups override" "$TMP/x.json" '[.supported_groups[].name] | join(",")' X25519MLKEM768,x25519
jq_is "shares override" "$TMP/x.json" '[.key_shares[].name] | join(",")' X25519MLKEM768

# A profile file of the user's own.
cat > "$TMP/mine.ini" <<'INI'
[profile]
description = mine
groups = SecP256r1MLKEM768, x25519
shares = SecP256r1MLKEM768,
  x25519
extensions = supported_versions, supported_groups, key_share, signature_algorithms
sigalgs = ecdsa_secp256r1_sha256
INI
"$S" hello --profile "$TMP/mine.ini" --seed 1 --json > "$TMP/x.json"
jq_is "user profile" "$TMP/x.json" '[.key_shares[].length] | join(",")' 1249,32
printf '[profile]\ngroups = x25519\nbogus = 1\n' > "$TMP/bad.ini"
expect_exit 2 "bad profile file" "$S" hello --profile "$TMP/bad.ini"
check "error names file and line" grep -q "bad.ini:3: unknown key 'bogus'" "$TMP/err"

# Errors: one line, exit 2.
expect_exit 2 "unknown profile" "$S" hello --profile nope
expect_exit 2 "missing profile" "$S" hello
expect_exit 2 "bad group" "$S" hello --profile classic --groups x25519,bogus
expect_exit 2 "bad records" "$S" hello --profile classic --records 0
expect_exit 2 "bad records 2" "$S" hello --profile classic --records 20000
expect_exit 2 "bad pad" "$S" hello --profile classic --pad-to abc
expect_exit 2 "unknown option" "$S" hello --profile classic --frobnicate
expect_exit 2 "unknown command" "$S" frobnicate
expect_exit 0 "help" "$S" hello --help
expect_exit 0 "version" "$S" --version
expect_exit 0 "list" "$S" list profiles
finish
