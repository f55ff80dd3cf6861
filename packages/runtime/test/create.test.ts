// create's early steps under a recording Sys: a syscall that fails at each of
// them is the one line the user sees, and the create leaves nothing behind
// (no state dir, no fd). The failures come before any cgroup or clone.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSpec } from '@runts/oci';
import { isRuntsError } from '@runts/errors';
import { LinuxSys, RecordingSys, type Sys } from '@runts/sys';
import { Runtime } from '../src/runtime';

const real = new LinuxSys();
const EACCES = 13;
const EPERM = 1;
const ENOENT = 2;
/** The network namespace, given by path: last of the config's namespaces. */
const NET = (defaultSpec().linux?.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'user').length + 1;

function setup(t: { teardown(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'runts-create-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const bundle = join(dir, 'bundle');
  mkdirSync(join(bundle, 'rootfs'), { recursive: true });
  const spec = defaultSpec();
  spec.root = { path: 'rootfs' };
  spec.process!.terminal = false;
  // A user namespace whose root is not the host's: create hands the fifo to it.
  spec.linux!.namespaces = [...(spec.linux!.namespaces ?? []).filter((n) => n.type !== 'network' && n.type !== 'user'), { type: 'user' }, { type: 'network', path: '/proc/self/ns/net' }];
  spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec));
  const inner: Partial<Sys> = {
    geteuid: () => 0,
    socketpair: () => real.socketpair(),
    mkfifo: (p, m) => real.mkfifo(p, m),
    chmod: (p, m) => real.chmod(p, m),
    chown: () => undefined,
    openPath: (p) => real.openPath(p),
    open: (p, f) => real.open(p, f),
    close: (fd) => real.close(fd),
  };
  const sys = new RecordingSys(inner);
  const root = join(dir, 'root');
  return { sys, root, bundle, rt: new Runtime({ root, sys }) };
}

async function failure(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (e) {
    if (!isRuntsError(e)) throw e;
    return e.message;
  }
  return 'created';
}

/** Every fd the Sys gave out was closed again. */
function fdsLeft(sys: RecordingSys): number[] {
  const opened = sys.calls.filter((c) => c.result !== undefined && ['socketpair', 'openPath', 'open'].includes(c.method)).flatMap((c) => [c.result as number | number[]].flat());
  const closed = new Set(sys.calls.filter((c) => c.method === 'close').map((c) => c.args[0] as number));
  return opened.filter((fd) => !closed.has(fd));
}

const steps: [method: keyof Sys, errno: number, message: (fifo: string) => string][] = [
  ['mkfifo', EACCES, (fifo) => `mkfifo ${fifo}: EACCES (permission denied)`],
  ['chmod', EPERM, (fifo) => `chmod ${fifo}: EPERM (operation not permitted)`],
  ['chown', EPERM, (fifo) => `chown ${fifo}: EPERM (operation not permitted)`],
  // The fake names the method it failed; LinuxSys names the syscall (open).
  ['openPath', EACCES, (fifo) => `openPath ${fifo}: EACCES (permission denied)`],
  ['open', ENOENT, () => `linux.namespaces[${NET}].path: cannot open /proc/self/ns/net: ENOENT`],
];

for (const [method, errno, message] of steps) {
  t.test(`${method} fails: one line, and nothing left`, async (t) => {
    const { sys, root, bundle, rt } = setup(t);
    sys.failAt(method, 1, errno);
    const msg = await failure(() => rt.create('c1', { bundle }));
    t.equal(msg, message(rt.store.fifo('c1')));
    t.notOk(existsSync(join(root, 'c1')), 'no state dir');
    t.same(fdsLeft(sys), [], 'every fd closed');
    t.ok(sys.methods().includes(method), `${method} was reached`);
  });
}

t.test('the steps before any cgroup, in order', async (t) => {
  const { sys, bundle, rt } = setup(t);
  // Stop just after the namespaces are opened: the next step makes cgroups.
  sys.failAt('open', 1, EACCES);
  await failure(() => rt.create('c1', { bundle }));
  const fifo = rt.store.fifo('c1');
  t.same(
    sys.calls.filter((c) => c.method !== 'close').map((c) => [c.method, ...c.args.filter((a) => typeof a === 'string')].join(' ')),
    ['geteuid', 'socketpair', `mkfifo ${fifo}`, `chmod ${fifo}`, `chown ${fifo}`, `openPath ${fifo}`, 'open /proc/self/ns/net'],
  );
  const chown = sys.calls.find((c) => c.method === 'chown');
  t.same(chown?.args, [fifo, 100000, 100000], 'the fifo belongs to the container\'s root');
});
