// config.md "Mounts" and "Linux mount options": each kind of mount, read back
// from /proc/self/mountinfo inside the container (mount options, filesystem
// type, superblock options) and, where it shows, by using it.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { Runtime, config, said, suite } from '../lib/runtime';

const test = suite(__filename);

/** Prints "<mount options> <fstype> <super options>" of the top mount at dst, from mountinfo. */
const info = (dst: string) => `awk '$5 == "${dst}" { for (i = 7; $i != "-"; i++); l = $6 " " $(i + 1) " " $(i + 3) } END { print l }' /proc/self/mountinfo`;

interface Seen {
  opts: string[];
  type: string;
  superOpts: string[];
  rest: string[];
}

/** Runs the config's `sh -c` script after printing dst's mountinfo entry; returns both. */
function mountIn(t: Test, rt: Runtime, cfg: any, dst: string): Seen {
  cfg.process.args = ['sh', '-c', `${info(dst)}; ${cfg.process.args.slice(2).join(' ') || 'true'}`];
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  t.equal(r.code, 0, `the container runs${said(r)}`);
  const [first = '', ...rest] = r.stdout.trim().split('\n');
  const [opts = '', type = '', superOpts = ''] = first.split(' ');
  return { opts: opts.split(','), type, superOpts: superOpts.split(','), rest };
}

function has(t: Test, list: string[], want: string[], what: string): void {
  const missing = want.filter((w) => !list.includes(w));
  t.same(missing, [], `${what}: expected ${want.join(',')} among ${list.join(',')}`);
}

test('tmpfs with size, mode, nosuid, nodev, noexec', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['sh', '-c', 'stat -c %a /t']);
  cfg.mounts.push({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'size=2m', 'mode=1750'] });
  const m = mountIn(t, rt, cfg, '/t');
  t.equal(m.type, 'tmpfs', 'config.md "type": tmpfs');
  has(t, m.opts, ['rw', 'nosuid', 'nodev', 'noexec'], 'config.md Linux mount options nosuid, nodev, noexec (mountinfo mount options)');
  has(t, m.superOpts, ['size=2048k', 'mode=1750'], 'data options size=2m and mode=1750 reach tmpfs (mountinfo super options)');
  t.equal(m.rest[0], '1750', 'the mount point has mode 1750');
});

// Not in config.md: runc's own option, which podman sends (run --read-only); crun takes it too.
test('tmpcopyup: the tmpfs starts with what the directory held', async (t) => {
  const rt = new Runtime(t);
  const host = join(rt.dir, 'seed');
  mkdirSync(join(host, 'sub'), { recursive: true });
  writeFileSync(join(host, 'f'), 'seeded\n');
  writeFileSync(join(host, 'sub', 'g'), 'deeper\n');
  chmodSync(join(host, 'f'), 0o640);
  const cfg = config(['sh', '-c', 'cat /s/f /s/sub/g; stat -c %a /s/f; echo new > /s/f && cat /s/f']);
  cfg.mounts.push({ destination: '/s', type: 'bind', source: host, options: ['rbind', 'ro'] });
  cfg.mounts.push({ destination: '/s', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'nosuid'] });
  const m = mountIn(t, rt, cfg, '/s');
  t.equal(m.type, 'tmpfs', 'a tmpfs on top');
  t.same(m.rest, ['seeded', 'deeper', '640', 'new'], 'files and directories copied in, with their mode; the copy is writable');
});

test('bind with ro', async (t) => {
  const rt = new Runtime(t);
  const host = join(rt.dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'f'), 'from-host\n');
  const cfg = config(['sh', '-c', 'cat /b/f; touch /b/g 2>/dev/null && echo writable || echo read-only']);
  cfg.mounts.push({ destination: '/b', type: 'none', source: host, options: ['bind', 'ro'] });
  const m = mountIn(t, rt, cfg, '/b');
  has(t, m.opts, ['ro'], 'config.md "ro" on a bind mount');
  t.same(m.rest, ['from-host', 'read-only'], 'the host directory shows, and cannot be written');
});

test('bind leaves submounts out, rbind carries them', async (t) => {
  const rt = new Runtime(t);
  const host = join(rt.dir, 'host');
  mkdirSync(join(host, 'sub'), { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'spec-sub', join(host, 'sub')]);
  t.equal(mounted.status, 0, 'a submount on the host directory (mount -t tmpfs)');
  try {
    writeFileSync(join(host, 'sub', 'marker'), 'x');
    const cfg = config(['sh', '-c', 'test -e /r/sub/marker && echo rbind-has-sub || echo rbind-lacks-sub; test -e /b/sub/marker && echo bind-has-sub || echo bind-lacks-sub']);
    cfg.mounts.push({ destination: '/b', type: 'none', source: host, options: ['bind'] });
    cfg.mounts.push({ destination: '/r', type: 'none', source: host, options: ['rbind'] });
    const m = mountIn(t, rt, cfg, '/r/sub');
    t.equal(m.type, 'tmpfs', 'the submount is under /r/sub');
    t.same(m.rest, ['rbind-has-sub', 'bind-lacks-sub'], 'config.md: "rbind" is a recursive bind mount, "bind" is not (mount(8))');
  } finally {
    spawnSync('umount', ['-l', join(host, 'sub')]);
  }
});

test('proc of the container\'s pid namespace', async (t) => {
  const rt = new Runtime(t);
  const m = mountIn(t, rt, config(['sh', '-c', 'cat /proc/1/comm; echo $$']), '/proc');
  t.equal(m.type, 'proc', 'config.md "type": proc at /proc');
  t.same(m.rest, ['sh', '1'], '/proc shows the container\'s pid namespace: pid 1 is the container process');
});

test('sysfs read-only with nosuid, nodev, noexec', async (t) => {
  const rt = new Runtime(t);
  const m = mountIn(t, rt, config(['sh', '-c', 'touch /sys/x 2>/dev/null && echo writable || echo read-only']), '/sys');
  t.equal(m.type, 'sysfs', 'config.md "type": sysfs at /sys');
  has(t, m.opts, ['ro', 'nosuid', 'nodev', 'noexec'], 'config.md Linux mount options ro, nosuid, nodev, noexec');
  t.same(m.rest, ['read-only'], 'ro: /sys cannot be written');
});

test('mqueue', async (t) => {
  const rt = new Runtime(t);
  const cfg = config(['sh', '-c', 'true']);
  cfg.mounts.push({ destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] });
  const m = mountIn(t, rt, cfg, '/dev/mqueue');
  t.equal(m.type, 'mqueue', 'config.md "type": mqueue at /dev/mqueue');
  has(t, m.opts, ['nosuid', 'nodev', 'noexec'], 'config.md Linux mount options nosuid, nodev, noexec');
});

test('devpts with newinstance, ptmxmode and mode', async (t) => {
  const rt = new Runtime(t);
  const m = mountIn(t, rt, config(['sh', '-c', 'true']), '/dev/pts');
  t.equal(m.type, 'devpts', 'config.md "type": devpts at /dev/pts');
  has(t, m.opts, ['nosuid', 'noexec'], 'config.md Linux mount options nosuid, noexec');
  has(t, m.superOpts, ['mode=620', 'ptmxmode=666'], 'data options mode=0620 and ptmxmode=0666 reach devpts');
});

test('nosuid, nodev, noexec on a bind mount', async (t) => {
  const rt = new Runtime(t);
  const host = join(rt.dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'run.sh'), '#!/bin/sh\necho executed\n');
  chmodSync(join(host, 'run.sh'), 0o755);
  const cfg = config(['sh', '-c', '/x/run.sh 2>/dev/null || echo not-executed']);
  cfg.mounts.push({ destination: '/x', type: 'none', source: host, options: ['rbind', 'nosuid', 'nodev', 'noexec'] });
  const m = mountIn(t, rt, cfg, '/x');
  has(t, m.opts, ['nosuid', 'nodev', 'noexec'], 'config.md Linux mount options nosuid, nodev, noexec apply to a bind mount too');
  t.same(m.rest, ['not-executed'], 'noexec: a script on the mount cannot be run');
});
