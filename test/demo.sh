#!/bin/sh
# make demo: a busybox bundle run by runts, showing the container's own view.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bundle=$top/demo/bundle
rm -rf "$top/demo"
"$top/test/lib/demo-bundle.sh" "$bundle" 'echo "hostname: $(hostname)"; echo "my pid: $$"; echo "processes:"; ps; echo "mounts:"; cat /proc/self/mounts'
echo "== runts run (bundle $bundle)"
exec "$top/bin/runts" --root "$top/demo/state" run --bundle "$bundle" "demo-$$"
