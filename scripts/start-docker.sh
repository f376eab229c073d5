#!/usr/bin/env bash
# Start a Docker daemon if none answers, and wait until it does.
# A daemon already running (systemd or otherwise) is used as it is. One this
# script started (its pid in $pidfile) that has stopped answering is restarted:
# Docker 20.10 can deadlock (moby#42545) and then hangs every call.
set -euo pipefail
log=/var/log/sfcbench-dockerd.log
pidfile=/run/sfcbench-dockerd.pid

answers() { timeout 20 docker info >/dev/null 2>&1; }

if answers; then
    exit 0
fi
if ! command -v dockerd >/dev/null; then
    echo "start-docker: dockerd not found; run scripts/setup-system.sh" >&2
    exit 1
fi
if [ -S /var/run/docker.sock ] && [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    ours=$(cat "$pidfile")
    echo "start-docker: the dockerd this script started (pid $ours) does not answer; restarting it" >&2
    kill -TERM "$ours"
    for _ in $(seq 1 40); do kill -0 "$ours" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$ours" 2>/dev/null; then kill -KILL "$ours"; sleep 1; fi
elif [ -S /var/run/docker.sock ] && timeout 5 docker version >/dev/null 2>&1; then
    # A daemon this script did not start answers 'docker version' but not 'docker info': leave it alone.
    echo "start-docker: the Docker daemon answers 'docker version' but not 'docker info' (hung?): restart" \
         "it (e.g. systemctl restart docker), then run 'make cleanup'" >&2
    exit 1
fi
echo "start-docker: starting dockerd (log: $log)"
# setsid: the daemon must outlive this shell and not get its signals.
setsid nohup dockerd >"$log" 2>&1 </dev/null &
echo $! >"$pidfile"
for _ in $(seq 1 120); do
    if answers; then
        exit 0
    fi
    sleep 0.5
done
echo "start-docker: dockerd did not answer within 60 s; see $log" >&2
tail -n 20 "$log" >&2
exit 1
