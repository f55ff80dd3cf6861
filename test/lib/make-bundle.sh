#!/bin/sh
# Makes an OCI bundle at $1 with a busybox rootfs: busybox-static and one link per applet.
set -eu
bundle=$1
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "make-bundle: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }
rootfs=$bundle/rootfs
mkdir -p "$rootfs/bin" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/etc" "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
for applet in $("$busybox" --list); do
  [ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"
