#!/bin/sh
# make demo: a busybox bundle run by runts, showing the container's own view.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
node=$top/node_modules/.bin/node
bundle=$top/demo/bundle
rm -rf "$top/demo"
"$top/test/lib/make-bundle.sh" "$bundle"
"$top/bin/runts" spec --bundle "$bundle"
"$node" -e '
const fs = require("fs"); const f = process.argv[1];
const c = JSON.parse(fs.readFileSync(f, "utf8"));
c.process.terminal = false;
c.process.args = ["sh", "-c", "echo \"hostname: $(hostname)\"; echo \"my pid: $$\"; echo \"processes:\"; ps; echo \"mounts:\"; cat /proc/self/mounts"];
c.hostname = "runts-demo";
fs.writeFileSync(f, JSON.stringify(c, null, 2));
' "$bundle/config.json"
echo "== runts run (bundle $bundle)"
exec "$top/bin/runts" --root "$top/demo/state" run --bundle "$bundle" "demo-$$"
