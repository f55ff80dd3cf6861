// Issue 9: rootless runs as a real unprivileged user made for this test (and
// removed after, /etc/subuid and /etc/subgid entries too), user namespaces
// joined by path, and idmapped mounts.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, closeSync, constants as fsc, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RUNTS, TOP, reapOrphans } from './lib/harness';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

const root = process.geteuid?.() === 0;
const NAME = `rts${process.pid % 100000}${Math.floor(Math.random() * 1000)}`;
const SUB_COUNT = 65536;

function sh(cmd: string, args: string[]): Result {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return { code: r.status ?? 128, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function removeSubIds(name: string): void {
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const kept = text.split('\n').filter((l) => !l.startsWith(`${name}:`)).join('\n');
    if (kept !== text) writeFileSync(file, kept);
  }
}

/** A free subordinate range: past every range either file gives out. */
function freeSubRange(): number {
  let end = 1_000_000;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    for (const l of text.split('\n')) {
      const [, s, c] = l.split(':');
      if (s && c) end = Math.max(end, Number(s) + Number(c));
    }
  }
  return Math.ceil(end / SUB_COUNT) * SUB_COUNT;
}

/** Processes owned by uid, the test user's leftovers. */
function processesOf(uid: number): string[] {
  return readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return new RegExp(`^Uid:\\s+${uid}\\s`, 'm').test(readFileSync(`/proc/${p}/status`, 'utf8'));
    } catch {
      return false;
    }
  });
}

class TestUser {
  readonly uid: number;
  readonly gid: number;
  readonly work: string;
  readonly xdg: string;
  readonly state: string;
  private n = 0;

  constructor() {
    // No subordinate ids at first: the missing-entry error is tested before they are added.
    const r = sh('useradd', ['-M', '-d', '/nonexistent', '-s', '/usr/sbin/nologin', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', NAME]);
    if (r.code !== 0) throw new Error(`useradd: ${r.stderr}`);
    this.uid = Number(sh('id', ['-u', NAME]).stdout.trim());
    this.gid = Number(sh('id', ['-g', NAME]).stdout.trim());
    this.work = mkdtempSync(join(tmpdir(), 'runts-userns-'));
    chmodSync(this.work, 0o755);
    this.xdg = join(this.work, 'xdg');
    mkdirSync(this.xdg, { mode: 0o700 });
    chownSync(this.xdg, this.uid, this.gid);
    this.state = join(this.xdg, 'runts');
  }

  /** Runs a command as the user (as root with asRoot); output through files,
   * as a detached container keeps its stdio open. `env -i` keeps tap's
   * NODE_OPTIONS hooks, which write into the repo, out of the user's runts. */
  run(cmd: string, args: string[], cwd = this.work, asRoot = false): Result {
    const out = join(this.work, `out-${++this.n}`);
    const err = join(this.work, `err-${this.n}`);
    const fds = [openSync(out, 'w'), openSync(err, 'w')];
    try {
      const env = ['PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin', `HOME=${this.work}`, `XDG_RUNTIME_DIR=${this.xdg}`];
      const r = spawnSync('/usr/bin/env', ['-i', ...env, cmd, ...args], {
        ...(asRoot ? {} : { uid: this.uid, gid: this.gid }),
        cwd,
        stdio: ['ignore', fds[0], fds[1]],
        timeout: 30000,
      });
      return { code: r.status ?? 128 + 9, stdout: readFileSync(out, 'utf8'), stderr: readFileSync(err, 'utf8') };
    } finally {
      fds.forEach((fd) => closeSync(fd));
      rmSync(out, { force: true });
      rmSync(err, { force: true });
    }
  }

  /** runts without --root: the default must be $XDG_RUNTIME_DIR/runts. */
  runts(args: string[], cwd?: string): Result {
    return this.run(RUNTS, args, cwd);
  }

  /** A bundle of the user's own: busybox rootfs and `runts spec --rootless`, patched. */
  bundle(patch: (c: any) => void): string {
    const b = join(this.work, `bundle-${++this.n}`);
    const r = sh(join(TOP, 'test', 'lib', 'make-bundle.sh'), [b]);
    if (r.code !== 0) throw new Error(`make-bundle: ${r.stderr}`);
    sh('chown', ['-R', `${this.uid}:${this.gid}`, b]);
    const s = this.runts(['spec', '--rootless', '--bundle', b]);
    if (s.code !== 0) throw new Error(`spec --rootless: ${s.stderr}`);
    const file = join(b, 'config.json');
    const c = JSON.parse(readFileSync(file, 'utf8'));
    c.process.terminal = false;
    patch(c);
    writeFileSync(file, JSON.stringify(c, null, 2));
    return b;
  }

  addSubIds(start: number): void {
    const range = `${start}-${start + SUB_COUNT - 1}`;
    const r = sh('usermod', ['--add-subuids', range, '--add-subgids', range, NAME]);
    if (r.code !== 0) throw new Error(`usermod: ${r.stderr}`);
  }

  cleanup(): void {
    if (existsSync(this.state)) {
      for (const id of readdirSync(this.state)) this.runts(['delete', '--force', id]);
    }
    for (const p of processesOf(this.uid)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    reapOrphans();
    sh('userdel', ['-f', NAME]);
    removeSubIds(NAME);
    rmSync(this.work, { recursive: true, force: true });
  }
}

function lines(r: Result): string[] {
  return r.stdout.trim().split('\n').map((l) => l.trim().replace(/\s+/g, ' '));
}

t.test('rootless and user namespaces', { skip: root ? false : 'needs root to create a test user' }, async (t) => {
  const user = new TestUser();
  t.teardown(() => user.cleanup());

  // The user runs the repo's bin/runts: the tree must be readable and executable for it.
  const access = user.run('/bin/sh', ['-c', `test -x ${RUNTS} && test -r ${join(TOP, 'bin', 'runts.js')} && test -r ${join(TOP, 'bindings', 'libruntsstage.so')} && ${RUNTS} --version`]);
  if (access.code !== 0) {
    t.fail(`user ${NAME} cannot run ${RUNTS} (the repo must be readable and executable by others): ${access.stderr}`);
    return;
  }

  t.test('spec --rootless: uid 0 inside is the user outside, files it writes are the user\'s', async (t) => {
    const shared = join(user.work, 'shared');
    mkdirSync(shared);
    chownSync(shared, user.uid, user.gid);
    const b = user.bundle((c) => {
      c.process.args = ['sh', '-c', 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; touch /shared/by-root'];
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    });
    const r = user.runts(['run', '--bundle', b, 'own']);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r), ['0', '0', `0 ${user.uid} 1`, `0 ${user.gid} 1`]);
    const st = statSync(join(shared, 'by-root'));
    t.same([st.uid, st.gid], [user.uid, user.gid], 'root\'s file belongs to the user on the host');
  });

  t.test('rootless: cgroups skipped without error, limits refused naming what is missing', async (t) => {
    const b = user.bundle((c) => {
      c.process.args = ['true'];
      c.linux.resources = { memory: { limit: 64 << 20 } };
    });
    const r = user.runts(['run', '--bundle', b, 'limits']);
    t.not(r.code, 0);
    t.match(r.stderr, new RegExp(`linux\\.resources: user ${NAME} cannot create .* \\(no cgroup delegated to it\\)`));
    t.notOk(existsSync(join(user.state, 'limits')), 'nothing left');
  });

  const start = freeSubRange();

  t.test('more ids than its own without /etc/subuid entries: the error says what the user lacks', async (t) => {
    const b = user.bundle((c) => {
      c.process.args = ['true'];
      c.linux.uidMappings.push({ containerID: 1, hostID: start, size: SUB_COUNT });
    });
    const r = user.runts(['run', '--bundle', b, 'nosub']);
    t.equal(r.code, 1);
    t.equal(r.stderr.trim(), `runts: linux.uidMappings: no subordinate uids for user ${NAME} in /etc/subuid`);
    t.same(processesOf(user.uid), [], 'no process left');
    t.notOk(existsSync(join(user.state, 'nosub')), 'no state left');
  });

  t.test('newuidmap/newgidmap: further ids from the subordinate range', async (t) => {
    if (!existsSync('/usr/bin/newuidmap')) {
      const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uidmap'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`apt-get install uidmap: ${r.stderr}`);
    }
    user.addSubIds(start);
    const shared = join(user.work, 'shared-sub');
    mkdirSync(shared, { mode: 0o777 });
    chmodSync(shared, 0o777);
    const b = user.bundle((c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.args = ['sh', '-c', 'id -u; cat /proc/self/uid_map; touch /shared/by-1000'];
      c.linux.uidMappings.push({ containerID: 1, hostID: start, size: SUB_COUNT });
      c.linux.gidMappings.push({ containerID: 1, hostID: start, size: SUB_COUNT });
      c.mounts.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'rw'] });
    });
    const r = user.runts(['run', '--bundle', b, 'sub']);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r), ['1000', `0 ${user.uid} 1`, `1 ${start} ${SUB_COUNT}`]);
    const st = statSync(join(shared, 'by-1000'));
    t.same([st.uid, st.gid], [start + 999, start + 999], 'uid 1000 inside is the subordinate id start+999 outside');

    const outside = user.bundle((c) => {
      c.process.args = ['true'];
      c.linux.gidMappings.push({ containerID: 1, hostID: start + SUB_COUNT, size: 10 });
    });
    const e = user.runts(['run', '--bundle', outside, 'outside']);
    t.equal(e.code, 1);
    t.match(e.stderr, `linux.gidMappings[1]: host gids ${start + SUB_COUNT}-${start + SUB_COUNT + 9} are not among user ${NAME}'s subordinate gids in /etc/subgid`);
  });

  t.test('rootless run -d / exec / kill / delete leaves nothing behind', async (t) => {
    const b = user.bundle((c) => {
      c.process.args = ['sleep', '60'];
    });
    const id = `cycle-${process.pid}`;
    const run = user.runts(['run', '-d', '--bundle', b, id]);
    t.equal(run.code, 0, run.stderr);
    t.ok(existsSync(join(user.state, id, 'state.jsonl')), 'state under $XDG_RUNTIME_DIR/runts');
    const state = JSON.parse(user.runts(['state', id]).stdout);
    t.equal(state.status, 'running');
    t.match(readFileSync(`/proc/${state.pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${user.uid}\\s`, 'm'), 'the init runs as the user on the host');
    const ex = user.runts(['exec', id, 'sh', '-c', 'id -u; hostname; ls /sys/kernel >/dev/null && echo sys; test -c /dev/null && echo null']);
    t.equal(ex.code, 0, ex.stderr);
    t.same(lines(ex), ['0', 'runts', 'sys', 'null']);
    t.equal(user.runts(['kill', id, 'KILL']).code, 0);
    for (let i = 0; i < 100 && JSON.parse(user.runts(['state', id]).stdout).status !== 'stopped'; i++) await new Promise((r) => setTimeout(r, 20));
    t.equal(JSON.parse(user.runts(['state', id]).stdout).status, 'stopped');
    const del = user.runts(['delete', id]);
    t.equal(del.code, 0, del.stderr);
    t.same(readdirSync(user.state), [], 'no state left');
    reapOrphans();
    t.same(processesOf(user.uid), [], 'no process of the user left');
    t.same(readdirSync('/sys/fs/cgroup').filter((c) => existsSync(join('/sys/fs/cgroup', c, 'runts', id))), [], 'no cgroup made');
  });

  t.test('rootless: the waiting init is the stage executable, not a fork of node', async (t) => {
    const b = user.bundle((c) => {
      c.process.args = ['true'];
    });
    const id = `stage-${process.pid}`;
    const cr = user.runts(['create', '--bundle', b, id]);
    t.equal(cr.code, 0, cr.stderr);
    const pid = JSON.parse(user.runts(['state', id]).stdout).pid;
    t.equal(readFileSync(`/proc/${pid}/comm`, 'utf8'), 'runts-stage\n');
    t.equal(user.runts(['delete', '--force', id]).code, 0);
    reapOrphans();
    t.same(processesOf(user.uid), [], 'no process of the user left');
  });

  t.test('rootless: rro makes every submount read-only, ro only the top', async (t) => {
    const b = user.bundle((c) => {
      c.mounts = c.mounts.filter((m: any) => m.type !== 'cgroup');
      c.mounts.push({ destination: '/rsys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'rro'] });
      const opts = (p: string) => `awk '$5 == "${p}" { split($6, o, ","); print "${p}", o[1] }' /proc/self/mountinfo`;
      c.process.args = ['sh', '-c', [opts('/sys'), opts('/sys/fs/cgroup'), opts('/rsys'), opts('/rsys/fs/cgroup')].join('; ')];
    });
    const r = user.runts(['run', '--bundle', b, 'rro']);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r), ['/sys ro', '/sys/fs/cgroup rw', '/rsys ro', '/rsys/fs/cgroup ro']);
  });

  t.test('rootless: an idmapped mount is refused with the reason', async (t) => {
    const b = user.bundle((c) => {
      c.process.args = ['true'];
      c.mounts.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', 'idmap'] });
    });
    const r = user.runts(['run', '--bundle', b, 'idmap']);
    t.equal(r.code, 1);
    t.match(r.stderr, /mounts\[\d+\]: idmapped mounts need CAP_SYS_ADMIN in the host's user namespace/);
  });

  // As root from here: idmapped mounts and joining a user namespace need it.
  const rootRun = (args: string[]): Result => user.run(RUNTS, ['--root', join(user.work, 'root-state'), ...args], user.work, true);
  t.teardown(() => {
    const dir = join(user.work, 'root-state');
    if (existsSync(dir)) for (const id of readdirSync(dir)) rootRun(['delete', '--force', id]);
  });
  const mapped = (c: any) => {
    c.linux.uidMappings = [{ containerID: 0, hostID: start, size: SUB_COUNT }];
    c.linux.gidMappings = [{ containerID: 0, hostID: start, size: SUB_COUNT }];
  };

  t.test('idmapped mount: host files show with the mapped owner, writes land as the host id', async (t) => {
    const src = join(user.work, 'idmap-src');
    mkdirSync(join(src, 'sub'), { recursive: true });
    writeFileSync(join(src, 'f'), 'x');
    for (const p of [src, join(src, 'sub'), join(src, 'f')]) chownSync(p, 2000, 2000);
    const m = [{ containerID: 2000, hostID: start + 7, size: 1 }];
    const b = user.bundle((c) => {
      mapped(c);
      c.root.readonly = false;
      c.process.user = { uid: 7, gid: 7 };
      c.process.args = ['sh', '-c', 'stat -c "%n %u %g" /data/f /data/sub /plain/f; touch /data/new && echo wrote; touch /ro/x 2>/dev/null || echo ro'];
      c.mounts.push(
        { destination: '/data', type: 'bind', source: src, options: ['rbind'], uidMappings: m, gidMappings: m },
        { destination: '/plain', type: 'bind', source: src, options: ['rbind'] },
        { destination: '/ro', type: 'bind', source: src, options: ['rbind', 'rro'], uidMappings: m, gidMappings: m },
      );
    });
    for (const d of ['data', 'plain', 'ro']) mkdirSync(join(b, 'rootfs', d));
    const r = rootRun(['run', '--bundle', b, `idmap-${process.pid}`]);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r), ['/data/f 7 7', '/data/sub 7 7', '/plain/f 65534 65534', 'wrote', 'ro'], 'mapped ids through the idmapped mounts, the overflow id without');
    const st = statSync(join(src, 'new'));
    t.same([st.uid, st.gid], [2000, 2000], 'a file made as uid 7 inside is owned by 2000 on disk');
  });

  t.test('a user namespace joined by path, with new pid, mount and uts namespaces', async (t) => {
    const a = `owner-${process.pid}`;
    const ba = user.bundle((c) => {
      mapped(c);
      c.process.args = ['sleep', '60'];
    });
    t.equal(rootRun(['run', '-d', '--bundle', ba, a]).code, 0);
    const pid = JSON.parse(rootRun(['state', a]).stdout).pid;
    const bb = user.bundle((c) => {
      c.hostname = 'joiner';
      c.process.args = ['sh', '-c', 'id -u; echo $$; hostname; cat /proc/self/uid_map'];
      c.linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'user', path: `/proc/${pid}/ns/user` }];
      delete c.linux.uidMappings;
      delete c.linux.gidMappings;
    });
    const r = rootRun(['run', '--bundle', bb, `joiner-${process.pid}`]);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r), ['0', '1', 'joiner', `0 ${start} ${SUB_COUNT}`]);
    const ex = rootRun(['exec', a, 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    t.equal(ex.code, 0, ex.stderr);
    t.same(lines(ex), ['0', `0 ${start} ${SUB_COUNT}`], 'exec joins the user namespace before the others');
    t.equal(rootRun(['delete', '--force', a]).code, 0);
  });
});

// The repo must be usable by others for the rootless runs at all.
t.test('the runtime is readable by unprivileged users', async (t) => {
  for (const p of [RUNTS, join(TOP, 'bin', 'runts.js'), join(TOP, 'bindings', 'libruntsstage.so'), join(TOP, 'bindings', 'runts-stage'), join(TOP, 'node_modules', '.bin', 'node')]) {
    t.doesNotThrow(() => accessSync(p, fsc.R_OK), p);
    t.ok((statSync(p).mode & 0o004) !== 0, `${p} is world-readable`);
  }
});
