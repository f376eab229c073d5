#!/usr/bin/env bash
# Start a Docker daemon if none answers, and wait until it does.
# A daemon already running (systemd or otherwise) is used as it is.
set -euo pipefail
log=/var/log/sfcbench-dockerd.log

if docker info >/dev/null 2>&1; then
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    echo "start-docker: dockerd not found; run scripts/setup-system.sh" >&2
    exit 1
fi
echo "start-docker: starting dockerd (log: $log)"
# setsid: the daemon must outlive this shell and not get its signals.
setsid nohup dockerd >"$log" 2>&1 </dev/null &
for _ in $(seq 1 120); do
    if docker info >/dev/null 2>&1; then
        exit 0
    fi
    sleep 0.5
done
echo "start-docker: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2
exit 1
