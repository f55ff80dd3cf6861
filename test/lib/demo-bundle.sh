#!/bin/sh
# Makes the example bundle at $1: busybox, `runts spec`'s config, hostname
# runts-demo, no terminal, and the shell script $2 as its process.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
"$top/test/lib/make-bundle.sh" "$1"
"$top/bin/runts" spec --bundle "$1"
"$top/node_modules/.bin/node" -e '
const fs = require("fs"); const [f, script] = process.argv.slice(1);
const c = JSON.parse(fs.readFileSync(f, "utf8"));
c.process.terminal = false;
c.process.args = ["sh", "-c", script];
c.hostname = "runts-demo";
fs.writeFileSync(f, JSON.stringify(c, null, 2));
' "$1/config.json" "$2"
