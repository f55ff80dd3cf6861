#!/usr/bin/env bash
# Builds the cgroup v2 test VM into $1 (default .cache/v2vm): Debian's kernel
# (downloaded with apt at run time, never committed) and a small initramfs.
# Each is rebuilt only when its inputs change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../.cache/v2vm}
mkdir -p "$out"
out=$(cd "$out" && pwd)
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"

# The 6.1 kernel Debian's linux-image-amd64 points at (the -cloud flavour has no 9p).
pkg=${V2VM_KERNEL:-$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9.]*-[0-9]*-amd64\)$/\1/p' | head -1)}
[ -n "$pkg" ] || { echo "v2vm: no linux-image-amd64 in apt's lists (apt-get update?)" >&2; exit 1; }
kdir=$out/$pkg
if [ ! -s "$kdir/vmlinuz" ]; then
  echo "v2vm: fetching $pkg" >&2
  tmp=$(mktemp -d "$out/dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # apt's sandbox user must be able to write the download dir.
  chmod 777 "$tmp"
  (cd "$tmp" && { apt-get download -qq "$pkg" 2>/dev/null || apt-get download -qq "$pkg-unsigned"; })
  dpkg-deb -x "$tmp"/*.deb "$tmp/x"
  mkdir -p "$tmp/k/modules"
  cp "$tmp"/x/boot/vmlinuz-* "$tmp/k/vmlinuz"
  for m in $MODULES; do
    f=$(find "$tmp/x/lib/modules" -name "$m.ko*" | head -1)
    [ -n "$f" ] || { echo "v2vm: $pkg has no module $m" >&2; exit 1; }
    case $f in
      *.xz) xz -dc "$f" > "$tmp/k/modules/$m.ko" ;;
      *.zst) zstd -qdc "$f" > "$tmp/k/modules/$m.ko" ;;
      *) cp "$f" "$tmp/k/modules/$m.ko" ;;
    esac
  done
  rm -rf "$kdir" && mv "$tmp/k" "$kdir"
  rm -rf "$tmp"
  trap - EXIT
fi

# The initramfs: static busybox, the modules, /init, and an /etc (no localtime:
# runts must not need one).
busybox=/bin/busybox # busybox-static: nothing to load in the initramfs
key=$( { cat "$here/init" "$here/build.sh" "$busybox" /etc/ld.so.cache; echo "$pkg"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/initrd.key" 2>/dev/null)" != "$key" ]; then
  tmp=$(mktemp -d "$out/rd.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp"/{bin,dev,proc,sys,etc,newroot,lib/modules}
  cp "$busybox" "$tmp/bin/busybox"
  cp "$kdir"/modules/*.ko "$tmp/lib/modules/"
  install -m 755 "$here/init" "$tmp/init"
  mknod -m 600 "$tmp/dev/console" c 5 1
  cp /etc/ld.so.cache "$tmp/etc/"
  printf 'root:x:0:0:root:/root:/bin/sh\nv2user:x:1000:1000::/tmp:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/sh\n' > "$tmp/etc/passwd"
  printf 'root:x:0:\nv2user:x:1000:\nnogroup:x:65534:\n' > "$tmp/etc/group"
  printf 'v2user:100000:65536\n' | tee "$tmp/etc/subuid" > "$tmp/etc/subgid"
  (cd "$tmp" && find . | "$tmp/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -9) > "$out/init.cpio.gz.new"
  mv "$out/init.cpio.gz.new" "$out/init.cpio.gz"
  rm -rf "$tmp"
  trap - EXIT
  echo "$key" > "$out/initrd.key"
fi
ln -sfn "$pkg/vmlinuz" "$out/vmlinuz"
echo "$out"
