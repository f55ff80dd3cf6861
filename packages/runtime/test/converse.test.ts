// The runtime's side of the sync protocol (src/converse.ts) against a scripted
// init: the child's end of a real socketpair, written by the test. No root, no clone.
import t from 'tap';
import { LinuxSys, RecordingSys, type Sys, type WaitStatus } from '@runts/sys';
import { isRuntsError } from '@runts/errors';
import { buildPlan, type Plan } from '../src/plan/build';
import { MSG_SIZE, Msg, SyncTag } from '../src/plan/ops';
import { converse, type SyncHandlers } from '../src/converse';
import { ctx as planCtx } from './fixtures';

const real = new LinuxSys();
const EPERM = 1;
const EIO = 5;
const ECHILD = 10;
const ECONNRESET = 104;
const PIDFD = 1000; // never used as an fd: tryWaitPidfd is scripted

/** The plan a default config with hooks makes: the syncs and steps the script follows. */
const plan: Plan = buildPlan(planCtx((s) => (s.hooks = { prestart: [{ path: '/bin/true' }], startContainer: [{ path: '/bin/true' }] })));
function syncAt(tag: number): number {
  const i = plan.ops.findIndex((o) => o.op === 'SYNC' && o.args[0] === tag);
  if (i < 0) throw new Error(`the plan has no SYNC ${tag}`);
  return i;
}

interface Peer {
  sys: RecordingSys;
  parent: number;
  /** The init's end: what the script writes, and where our replies arrive. */
  child: number;
  send(kind: number, index: number, err?: number, arg?: number): void;
  /** The replies the parent wrote, as [status, payload]. */
  replies(): [number, string][];
  closeChild(): void;
}

function peer(t: { teardown(fn: () => void): void }, waitStatus: WaitStatus | null = null): Peer {
  const inner: Partial<Sys> = {
    socketpair: () => real.socketpair(),
    recvMsg: (fd, len) => real.recvMsg(fd, len),
    write: (fd, buf) => real.write(fd, buf),
    close: (fd) => real.close(fd),
    sendFd: (fd, data, passed) => real.sendFd(fd, data, passed),
    pollIn: (fd, ms) => real.pollIn(fd, ms),
    tryWaitPidfd: () => waitStatus,
  };
  const sys = new RecordingSys(inner);
  const [parent, child] = real.socketpair();
  let childOpen = true;
  t.teardown(() => {
    real.close(parent);
    if (childOpen) real.close(child);
  });
  return {
    sys,
    parent,
    child,
    send(kind, index, err = 0, arg = 0) {
      const m = Buffer.alloc(MSG_SIZE);
      m.writeUInt32LE(kind, 0);
      m.writeUInt32LE(index, 4);
      m.writeInt32LE(err, 8);
      m.writeInt32LE(arg, 12);
      real.write(child, m);
    },
    replies() {
      const out: [number, string][] = [];
      while (real.pollIn(child, 0)) {
        const head = real.recvMsg(child, 8).data;
        if (head.length < 8) break;
        const len = head.readUInt32LE(4);
        out.push([head.readUInt32LE(0), len ? real.recvMsg(child, len).data.toString() : '']);
      }
      return out;
    },
    closeChild() {
      real.close(child);
      childOpen = false;
    },
  };
}

/** The one line the user would see, or 'resolved'. */
async function outcome(p: Peer, handlers: SyncHandlers = {}, onListener?: (fd: number) => void): Promise<string> {
  try {
    await converse({ sys: p.sys, debug: undefined }, p.parent, PIDFD, plan, handlers, onListener);
    return 'resolved';
  } catch (e) {
    if (!isRuntsError(e)) throw e;
    if (e.message.includes('\n')) throw new Error(`not one line: ${e.message}`);
    return e.message;
  }
}

t.test('every sync point in order, each answered with its payload, then READY', async (t) => {
  const p = peer(t);
  const seen: string[] = [];
  p.send(Msg.SYNC, syncAt(SyncTag.SETUP), 0, SyncTag.SETUP);
  p.send(Msg.SYNC, syncAt(SyncTag.HOOKS), 0, SyncTag.HOOKS);
  p.send(Msg.SYNC, syncAt(SyncTag.START_STATE), 0, SyncTag.START_STATE);
  p.send(Msg.READY, plan.ops.length - 1);
  const result = await outcome(p, {
    [SyncTag.SETUP]: (joinErr) => (seen.push(`setup ${joinErr}`), ''),
    [SyncTag.HOOKS]: async () => (seen.push('hooks'), '{"status":"created"}'),
    [SyncTag.START_STATE]: () => (seen.push('start state'), '{"status":"created"}'),
  });
  t.equal(result, 'resolved');
  t.same(seen, ['setup 0', 'hooks', 'start state']);
  t.same(p.replies(), [[0, ''], [0, '{"status":"created"}'], [0, '{"status":"created"}']]);
  t.same(p.sys.methods(), ['recvMsg', 'write', 'recvMsg', 'write', 'recvMsg', 'write', 'recvMsg'], 'one read per report, one write per answer');
});

t.test('the child\'s cgroup join error reaches the SETUP handler', async (t) => {
  const p = peer(t);
  p.send(Msg.SYNC, syncAt(SyncTag.SETUP), 13, SyncTag.SETUP);
  p.send(Msg.READY, plan.ops.length - 1);
  let joinErr = -1;
  t.equal(await outcome(p, { [SyncTag.SETUP]: (e) => ((joinErr = e), '') }), 'resolved');
  t.equal(joinErr, 13);
});

t.test('a SYNC with no handler is answered empty', async (t) => {
  const p = peer(t);
  p.send(Msg.SYNC, syncAt(SyncTag.START_STATE), 0, SyncTag.START_STATE);
  p.send(Msg.READY, plan.ops.length - 1);
  t.equal(await outcome(p), 'resolved');
  t.same(p.replies(), [[0, '']]);
});

t.test('an error at each step is that step\'s config path, what it did, and the errno', async (t) => {
  for (const [i, op] of plan.ops.entries()) {
    const p = peer(t);
    p.send(Msg.ERROR, i, EPERM);
    t.equal(await outcome(p), `${op.path}: ${op.what}: EPERM (operation not permitted)`, `step ${i} (${op.op})`);
  }
});

t.test('an error after the sync points have been answered', async (t) => {
  const at = plan.ops.findIndex((o, i) => i > syncAt(SyncTag.HOOKS) && o.op !== 'SYNC');
  const p = peer(t);
  p.send(Msg.SYNC, syncAt(SyncTag.SETUP), 0, SyncTag.SETUP);
  p.send(Msg.SYNC, syncAt(SyncTag.HOOKS), 0, SyncTag.HOOKS);
  p.send(Msg.ERROR, at, EIO);
  t.equal(await outcome(p), `${plan.ops[at]!.path}: ${plan.ops[at]!.what}: EIO (input/output error)`);
  t.equal(p.replies().length, 2, 'both syncs were answered first');
});

t.test('a program that cannot be found reads as engines expect', async (t) => {
  const lookup = plan.ops.findIndex((o) => o.op === 'LOOKUP');
  t.ok(lookup >= 0, 'the plan looks the program up');
  const p = peer(t);
  p.send(Msg.ERROR, lookup, 2 /* ENOENT */);
  t.equal(await outcome(p), `process.args[0]: exec "${String(plan.ops[lookup]!.args[0])}": executable file not found in $PATH`);
});

t.test('a hook the stage ran that failed, and a step the plan does not have', async (t) => {
  const p = peer(t);
  const hook = { ...plan.ops[0]!, args: ['/bin/hook'] };
  const withHook: Plan = { ...plan, ops: [hook, ...plan.ops.slice(1)] };
  p.send(Msg.HOOK, 0, 0, 3);
  try {
    await converse({ sys: p.sys, debug: undefined }, p.parent, PIDFD, withHook, {});
    t.fail('resolved');
  } catch (e) {
    t.equal((e as Error).message, `${hook.path}: hook /bin/hook exited with status 3`);
  }
  const q = peer(t);
  q.send(Msg.ERROR, 9999, 22);
  t.equal(await outcome(q), 'native stage: plan refused at step 9999: EINVAL (invalid argument)');
  const r = peer(t);
  r.send(Msg.ERROR, 0xffff_ffff, 22);
  t.equal(await outcome(r), 'native stage: plan refused at its header: EINVAL (invalid argument)');
});

t.test('a handler that fails is answered with status 1 and its error is the one the user sees', async (t) => {
  const p = peer(t);
  p.send(Msg.SYNC, syncAt(SyncTag.HOOKS), 0, SyncTag.HOOKS);
  const result = await outcome(p, {
    [SyncTag.HOOKS]: async () => {
      throw new (await import('@runts/errors')).RuntsError('ERR_HOOK', 'hooks.prestart[0]: hook /x exited with status 1');
    },
  });
  t.equal(result, 'hooks.prestart[0]: hook /x exited with status 1');
  t.same(p.replies(), [[1, '']], 'the init is told to give up');
});

t.test('an init that dies mid-way: its wait status and its last step', async (t) => {
  const setup = syncAt(SyncTag.SETUP);
  const where = `after step ${setup} of ${plan.ops.length} (${plan.ops[setup]!.path}: ${plan.ops[setup]!.what})`;

  const killed = peer(t, { code: 137, signal: 9 });
  killed.send(Msg.SYNC, setup, 0, SyncTag.SETUP);
  killed.closeChild();
  t.equal(await outcome(killed, { [SyncTag.SETUP]: () => '' }), `container init was killed by signal 9 (SIGKILL) during setup, ${where}, without reporting an error`);

  const exited = peer(t, { code: 2 });
  exited.send(Msg.SYNC, setup, 0, SyncTag.SETUP);
  exited.closeChild();
  t.equal(await outcome(exited), `container init exited with status 2 during setup, ${where}, without reporting an error`);

  const early = peer(t, { code: 1 });
  early.closeChild();
  t.equal(await outcome(early), 'container init exited with status 1 during setup, before its first step, without reporting an error');
});

t.test('a reset connection is a death too; an init we cannot reap "is gone"', async (t) => {
  const p = peer(t);
  p.sys.failAt('recvMsg', 2, ECONNRESET).failAt('tryWaitPidfd', 1, ECHILD);
  p.send(Msg.SYNC, syncAt(SyncTag.SETUP), 0, SyncTag.SETUP);
  const setup = syncAt(SyncTag.SETUP);
  t.equal(await outcome(p), `container init is gone during setup, after step ${setup} of ${plan.ops.length} (${plan.ops[setup]!.path}: ${plan.ops[setup]!.what}), without reporting an error`);
  t.same(p.sys.calls.map((c) => `${c.method}${c.errno ? ` ${c.errno}` : ''}`), ['recvMsg', 'write', 'recvMsg ECONNRESET', 'tryWaitPidfd ECHILD']);
});

t.test('any other failure to read is reported as it is', async (t) => {
  const p = peer(t);
  p.sys.failAt('recvMsg', 1, EIO);
  t.equal(await outcome(p), 'recvMsg: EIO (input/output error)');
});

t.test('an answer that cannot be written is left to the next read', async (t) => {
  const p = peer(t, { code: 0 });
  p.sys.failAt('write', 1, 32 /* EPIPE */);
  p.send(Msg.SYNC, syncAt(SyncTag.SETUP), 0, SyncTag.SETUP);
  p.send(Msg.READY, plan.ops.length - 1);
  t.equal(await outcome(p), 'resolved', 'the init went on (here it did)');
});

t.test('a seccomp listener is handed on and acknowledged; one without an fd is refused', async (t) => {
  const p = peer(t);
  const [a, b] = real.pipe();
  t.teardown(() => (real.close(a), real.close(b)));
  const m = Buffer.alloc(MSG_SIZE);
  m.writeUInt32LE(Msg.SECCOMP, 0);
  real.sendFd(p.child, m, a);
  p.send(Msg.READY, plan.ops.length - 1);
  let got = -1;
  t.equal(await outcome(p, {}, (fd) => (got = fd)), 'resolved');
  t.ok(got >= 0 && got !== a, 'a new fd, the passed copy');
  t.same(p.replies(), [[0, '']]);
  t.ok(p.sys.methods().includes('close'), 'our copy is closed once handed on');

  const q = peer(t);
  q.send(Msg.SECCOMP, 0);
  t.equal(await outcome(q, {}, () => t.fail('no listener to hand on')), 'linux.seccomp: the container sent no listener fd');
  t.same(q.replies(), [[1, '']]);
});
