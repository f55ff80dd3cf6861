#!/usr/bin/env bash
# make test-v2: builds the cgroup v2 VM (test/v2/build.sh), boots it under qemu
# (TCG: this host has no KVM) with the repo shared read-only, runs
# test/v2/cases.sh inside against runts and runc, and prints its TAP.
# Fails when a case fails or the VM gives no result.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
vm=$("$repo/test/v2/build.sh" "$repo/.cache/v2vm") || exit 1
# The residents (runtsd, runts-shim) read V8's compile cache from bin/.cache, which the
# VM cannot write (read-only share): fill it here. Each compiles its bundle, then
# refuses the option. Without it a shim takes ~10 s to answer under TCG.
for b in runtsd runts-shim; do "$repo/bin/$b" --fill-compile-cache >/dev/null 2>&1; done
results=$(mktemp -d /tmp/runts-v2vm.XXXXXX)
trap 'rm -rf "$results"' EXIT
start=$(date +%s)
share() { echo "-virtfs local,path=$1,mount_tag=$2,security_model=none${3:+,$3}"; }
# shellcheck disable=SC2046
timeout "${V2VM_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 -nodefaults -display none \
  -serial stdio -no-reboot -kernel "$vm/vmlinuz" -initrd "$vm/init.cpio.gz" \
  $(share /usr usr readonly=on) $(share "$repo" repo readonly=on) $(share "$results" results) \
  -append "console=ttyS0 quiet panic=-1 repo=$repo${V2_CASES:+ v2cases=$V2_CASES}${V2VM_RUN:+ run=$V2VM_RUN}" > "$results/console.txt" 2>&1
qrc=$?
wall=$(($(date +%s) - start))
grep '^v2vm:' "$results/console.txt" >&2
if [ ! -s "$results/tap.txt" ] || ! grep -q '^1\.\.' "$results/tap.txt"; then
  echo "v2vm: no TAP from the VM (qemu exit $qrc); its console:" >&2
  tail -40 "$results/console.txt" >&2
  [ -s "$results/stderr.txt" ] && tail -20 "$results/stderr.txt" >&2
  echo "# { total: 1, pass: 0, fail: 1 }"
  exit 1
fi
cat "$results/tap.txt"
[ -s "$results/stderr.txt" ] && sed 's/^/# stderr: /' "$results/stderr.txt" | tail -30
echo "# v2 VM wall time ${wall}s"
! grep -q '^not ok' "$results/tap.txt"
