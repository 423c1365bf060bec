# SPDX-License-Identifier: MIT
# Helpers for the CLI test scripts: assertions that count and report.
set -u
: "${SHAKEDOWN:?SHAKEDOWN must name the binary}"
pass=0
fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# check DESCRIPTION COMMAND...: the command must succeed
check() { local d=$1; shift; if "$@"; then ok; else bad "$d"; fi; }

# expect_exit CODE DESCRIPTION COMMAND...: exit code and one line on stderr
expect_exit() {
  local want=$1 d=$2; shift 2
  local rc=0
  "$@" >"$TMP/out" 2>"$TMP/err" || rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "$d: exit $rc, want $want ($(head -c 300 "$TMP/err"))"
    return
  fi
  if [ "$want" -eq 2 ] && [ "$(grep -c . "$TMP/err")" -ne 1 ]; then
    bad "$d: want exactly one line on stderr, got: $(cat "$TMP/err")"
    return
  fi
  ok
}

# jq_is DESCRIPTION FILE FILTER EXPECTED
jq_is() {
  local got
  got=$(jq -r "$3" "$2" 2>&1)
  if [ "$got" = "$4" ]; then ok; else bad "$1: $3 = '$got', want '$4'"; fi
}

finish() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
