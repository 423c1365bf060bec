#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# shakedown bisect: bad arguments get one line and exit 2, before anything
# is built (no root needed). The searches themselves: tests/netns/bisect.sh.
. "$(dirname "$0")/lib.bash"
S=$SHAKEDOWN

check "help teaches the size unit" bash -c "'$S' bisect --help | grep -q '4-byte handshake'"
expect_exit 2 "missing --path" "$S" bisect --over size
expect_exit 2 "missing --over" "$S" bisect --path sslsplit-1k
expect_exit 2 "unknown --over" "$S" bisect --path sslsplit-1k --over colour
expect_exit 2 "unknown path" "$S" bisect --path no-such-path --over size
expect_exit 2 "unknown profile" "$S" bisect --path clean --profile nope --over size
expect_exit 2 "inverted range" "$S" bisect --path sslsplit-1k --over size --range 1100:900
expect_exit 2 "empty range" "$S" bisect --path sslsplit-1k --over size --range 900:900
expect_exit 2 "range not numbers" "$S" bisect --path sslsplit-1k --over size --range a:b
expect_exit 2 "range without colon" "$S" bisect --path sslsplit-1k --over size --range 900
expect_exit 2 "negative range" "$S" bisect --path clean --over gap --range -5:10
expect_exit 2 "size above 65535" "$S" bisect --path sslsplit-1k --over size --range 900:70000
expect_exit 2 "size below the smallest padded hello" "$S" bisect --path sslsplit-1k --over size --range 10:900
expect_exit 2 "mtu above 9000" "$S" bisect --path clean --over mtu --range 1000:9001
expect_exit 2 "mtu below 1280 over IPv6" "$S" bisect --path clean --over mtu --ipv6 --range 1000:1500
expect_exit 2 "split beyond the stream" "$S" bisect --path clean --over split --range 1:99999
expect_exit 2 "split from 0" "$S" bisect --path clean --over split --range 0:100
expect_exit 2 "gap above 10000 ms" "$S" bisect --path clean --over gap --range 0:10001
expect_exit 2 "gap in the base shape" "$S" bisect --path clean --over gap --shape gap:5
expect_exit 2 "bad base shape" "$S" bisect --path clean --over gap --shape wobble
expect_exit 2 "--link without mtu" "$S" bisect --path clean --over size --link router
expect_exit 2 "--link not a hop" "$S" bisect --path tunnel-1280-blackhole --over mtu --link nope
expect_exit 2 "--confirm 0" "$S" bisect --path clean --over size --confirm 0
expect_exit 2 "--confirm 11" "$S" bisect --path clean --over size --confirm 11
expect_exit 2 "unknown option" "$S" bisect --path clean --over size --frobnicate
expect_exit 2 "stray argument" "$S" bisect --path clean --over size extra
printf '[path]\n[hop r]\nbehaviours = mtu:1000\n' > "$TMP/narrow.ini"
expect_exit 2 "IPv6 on a path below 1280" "$S" bisect --path "$TMP/narrow.ini" --over gap --ipv6
finish
