#!/usr/bin/env bash
# Install the system packages sfcbench needs (Debian/Ubuntu, as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

PKGS=(docker.io mininet debootstrap iperf3 iproute2 iputils-ping net-tools
      bridge-utils ethtool util-linux python3-venv python3-dev procps curl
      ca-certificates iptables chromium  # chromium: the report test opens report.html headless
      haproxy nginx-light libnginx-mod-http-modsecurity modsecurity-crs varnish nftables libndpi-bin)  # real VNFs

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
