// Configs we did not write, run by runts and by runc side by side: exit code,
// credentials, seccomp mode, mounts and cgroup limits must match (issue: the
// own suite passed while most outside configs failed). The engine configs
// come from the engine tests (`make test-engines` keeps them in
// test/engines/.corpus); without them only the `spec` configs run.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTS, TOP } from './lib/harness';
import { bundleFor, capturedConfigs, diffLines, specConfigs, variants, type CorpusEntry } from './lib/corpus';

const RUNC = '/usr/sbin/runc';
const CORPUS = process.env['CORPUS_DIR'] ?? join(TOP, 'test', 'engines', '.corpus');

/**
 * Where runts and runc may differ, and why; a key is a corpus name pattern
 * and a probe line pattern. Everything else must match.
 */
const KNOWN: { entry: RegExp; line: RegExp; why: string }[] = [
  {
    entry: /./,
    line: /^[-+] mount \/sys\/fs\/cgroup (ro|rw),.* tmpfs$/,
    why: 'a cgroup mount with "ro": runc 1.1.5 leaves the tmpfs holding the v1 hierarchies writable; runts mounts it read-only as the options ask (config.md "mounts")',
  },
];

if (!existsSync(RUNC)) {
  t.plan(0, 'runc is not installed');
} else {
  main();
}

interface Outcome {
  code: number;
  out: string;
  err: string;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'runts-corpus-'));
  const tag = `runts-corpus-${process.pid}`;
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    removeCgroups(tag);
  });
  const rootfs = makeRootfs(dir);
  const base = [...specConfigs(), ...capturedConfigs(CORPUS)];
  const entries = [...base, ...variants(base)];
  let serial = 0;
  const run = (rt: string, e: CorpusEntry): Outcome => {
    const n = ++serial;
    const bundle = bundleFor(e, dir, rootfs, `/${tag}/${n}`);
    const out = join(dir, `out-${n}`);
    const err = join(dir, `err-${n}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    const root = join(dir, `root-${n}`);
    try {
      const r = spawnSync(rt, ['--root', root, 'run', '--bundle', bundle, `corpus-${process.pid}-${n}`], { stdio: ['ignore', fds[0], fds[1]], timeout: 30_000, killSignal: 'SIGKILL' });
      return { code: r.status ?? 128 + 9, out: readFileSync(out, 'utf8'), err: readFileSync(err, 'utf8').trim() };
    } finally {
      fds.forEach((fd) => closeSync(fd));
      // A runtime killed by the timeout leaves its container: delete it, then its root.
      if (existsSync(root)) for (const id of readdirSync(root)) spawnSync(rt, ['--root', root, 'delete', '--force', id]);
      rmSync(root, { recursive: true, force: true });
    }
  };

  const rows: string[] = [];
  let matched = 0;
  for (const e of entries) {
    t.test(e.name, async (t) => {
      const ref = run(RUNC, e);
      const got = run(RUNTS, e);
      const diff = diffLines(ref.out, got.out).filter((l) => !KNOWN.some((k) => k.entry.test(e.name) && k.line.test(l)));
      const same = ref.code === got.code && diff.length === 0;
      if (same) matched++;
      rows.push(`| ${e.name} | ${ref.code} | ${got.code} | ${same ? 'same' : diff.length > 0 ? `${diff.length} lines differ` : 'exit differs'} |`);
      t.equal(got.code, ref.code, `exit code as runc's (runc: ${ref.err.split('\n').pop() || 'ok'}; runts: ${got.err.split('\n').pop() || 'ok'})`);
      t.same(diff, [], 'what the container sees is what runc gives it (- runc, + runts)');
    });
  }
  t.test('summary', async (t) => {
    t.comment(`corpus: ${entries.length} configs (${base.length} written by tools, ${entries.length - base.length} variants); ${matched} match runc`);
    t.comment(['| config | runc | runts | result |', '| --- | --- | --- | --- |', ...rows].join('\n'));
    t.ok(entries.length >= 3, 'runc spec, runc spec --rootless and crun spec at least');
  });
}

function makeRootfs(dir: string): string {
  const r = spawnSync(join(TOP, 'test', 'lib', 'make-bundle.sh'), [join(dir, 'rootfs-bundle')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-bundle failed: ${r.stderr}`);
  return join(dir, 'rootfs-bundle', 'rootfs');
}

/** The cgroups under our tag that a runtime left (deepest first), never anyone else's. */
function removeCgroups(tag: string): void {
  if (!existsSync('/sys/fs/cgroup')) return;
  for (const ctrl of readdirSync('/sys/fs/cgroup')) {
    const top = join('/sys/fs/cgroup', ctrl, tag);
    if (!existsSync(top)) continue;
    for (const sub of readdirSync(top)) {
      try {
        rmdirSync(join(top, sub));
      } catch {
        /* busy or gone */
      }
    }
    try {
      rmdirSync(top);
    } catch {
      /* busy or gone */
    }
  }
}
