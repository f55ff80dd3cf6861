#!/bin/sh
# Stage 2 of the v2 VM, run from the read-only repo share: cgroup2 with every
# controller enabled at the root, the usual mounts, then the cases; their TAP
# goes to the results share, and the VM powers off.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/root
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
echo "$(sed 's/\([^ ]*\)/+\1/g' /sys/fs/cgroup/cgroup.controllers)" > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
ip link set lo up 2>/dev/null || busybox ip link set lo up
repo=$(sed -n 's/.*repo=\([^ ]*\).*/\1/p' /proc/cmdline)
export V2_CASES=$(sed -n "s/.*v2cases=\([^ ]*\).*/\1/p" /proc/cmdline)
echo "v2vm: cgroup2 ready ($(cat /sys/fs/cgroup/cgroup.subtree_control)) at $(cut -d' ' -f1 /proc/uptime)s"
# run= on the command line names another script of the repo (to look around in the VM).
run=$(sed -n 's/.* run=\([^ ]*\).*/\1/p' /proc/cmdline)
case ${run:=test/v2/cases.mjs} in
  *.mjs) "$repo/node_modules/.bin/node" "$repo/$run" "$repo" ;;
  *) sh "$repo/$run" "$repo" ;;
esac > /results/tap.txt 2> /results/stderr.txt
echo "v2vm: cases done at $(cut -d' ' -f1 /proc/uptime)s"
sync
busybox poweroff -f
