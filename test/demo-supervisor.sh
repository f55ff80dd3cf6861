#!/bin/sh
# make demo-supervisor: runtsd (private socket and state dir) runs the example
# bundle through a shim; the container outlives a kill -9 of runtsd.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/runts-demo-sv.XXXXXX)
sock=$work/runtsd.sock
ctl() { "$top/bin/runtsctl" --address "$sock" "$@"; }
daemon() { "$top/bin/runtsd" --address "$sock" --state-dir "$work/state" >>"$work/runtsd.log" 2>&1 & pid=$!; until ctl ps >/dev/null 2>&1; do sleep 0.1; done; }
cleanup() {
  ctl rm -f demo-sv demo-sv-bg >/dev/null 2>&1 || true
  # On SIGTERM runtsd stops its warm shims itself: wait for it.
  kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  # Shims serving containers outlive runtsd by design: they go with the demo.
  for f in "$work"/state/shims/*/shim.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
"$top/test/lib/demo-bundle.sh" "$work/bundle" 'echo "hostname: $(hostname), pid $$"; ps; sleep 2; echo done'
daemon
echo "== runtsctl run --rm (foreground, through runtsd and a shim)"
ctl run --rm --name demo-sv "$work/bundle"
echo "== runtsctl run -d, then kill -9 runtsd while it runs"
ctl run -d --name demo-sv-bg "$work/bundle"
ctl ps
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
sleep 3
echo "== runtsd restarted: the container finished while it was down"
daemon
ctl ps -a
ctl logs demo-sv-bg
