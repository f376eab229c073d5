#!/bin/sh
# Start the inner Docker daemon of a DinD server.  It listens on its unix
# socket only (never TCP).  Inner containers nest under this container's own
# cgroup, so the server's CPU and memory limits bound the VNFs it hosts.
set -e
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    # cgroup v2 (private cgroup namespace): move to a leaf, delegate controllers.
    mkdir -p /sys/fs/cgroup/init
    xargs -rn1 < /sys/fs/cgroup/cgroup.procs > /sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
    sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers \
        > /sys/fs/cgroup/cgroup.subtree_control
    parent=
else
    parent=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ {print $3; exit}' /proc/self/cgroup)
fi
dockerd --host=unix:///var/run/docker.sock \
    --ip6tables=false ${parent:+--cgroup-parent=$parent} "$@" &
echo $! > /run/sfcbench-dockerd.pid
# The server outlives its daemon, as a real one would: its containers keep
# running, and the testbed can tell "daemon stopped" from "server gone".
# (docker-init, started with --init, reaps orphans as PID 1.)
exec sleep infinity
