#!/usr/bin/env bash
# Install the system packages sfcbench needs (Debian/Ubuntu, as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail

PKGS=(docker.io mininet debootstrap iperf3 iproute2 iputils-ping net-tools
      bridge-utils ethtool util-linux python3-venv python3-dev procps curl
      ca-certificates iptables chromium  # chromium: the report test opens report.html headless
      gcc libc6-dev  # testbed/loadgen compiles its load generator (sfcload.c) at first use
      haproxy nginx-light libnginx-mod-http-modsecurity modsecurity-crs varnish nftables libndpi-bin)  # real VNFs

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SERVICES=(nginx varnish haproxy)  # installed for the real-VNF tests only: never left running on the host
if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Keep packages from starting their services while they install (Debian's policy-rc.d hook).
    own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
    [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
    [ "${status:-0}" = 0 ] || exit "$status"
    # Services this run installed stay disabled (the testbed starts these programs in its own containers).
    if [ -d /run/systemd/system ]; then
        for svc in "${SERVICES[@]}"; do
            if printf '%s\n' "${missing[@]}" | grep -qx "${svc/nginx/nginx-light}"; then
                systemctl disable --now "$svc" >/dev/null 2>&1 || true
            fi
        done
    fi
fi
