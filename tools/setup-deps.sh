#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs shakedown's build and test dependencies on Debian/Ubuntu with apt-get.
# Idempotent: prints nothing and touches nothing when everything is already there.
set -euo pipefail

pkgs=(
  build-essential cmake pkgconf clang
  libnl-3-dev libnl-route-3-dev libmnl-dev libpcap-dev libssl-dev libinih-dev libnftables-dev libjansson-dev
  iproute2 nftables ethtool tshark jq socat valgrind
  haproxy nginx libnginx-mod-stream
  chromium fonts-dejavu-core curl
)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# tshark asks whether non-root users may capture; answer no without a prompt.
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
