// The runtime's side of the sync protocol with the native stage (bindings/stage.h
// draws the whole conversation): the child's reports read, its SYNC points
// answered, and its failures turned into the one line the user sees.
import { OCI_VERSION, type Spec, type State } from '@runts/oci';
import { RuntsError, configError, isRuntsError } from '@runts/errors';
import { errnoName, strerror } from '@runts/sys';
import type { Plan } from './plan/build';
import type { PlanOp } from './plan/encode';
import { MSG_SIZE, Msg } from './plan/ops';
import type { ContainerRecord } from './state';
import { os, safeClose, type Ctx } from './context';
import { sleepMs } from './proc';

/** What an error report from the stage needs of the step that failed. */
export type Step = NonNullable<ContainerRecord['lateSteps']>['steps'][number];

export function stepOf(o: PlanOp): Step {
  return { op: o.op, path: o.path, what: o.what, name: typeof o.args[0] === 'string' ? o.args[0] : '' };
}

/** The stage's report of a failed step ({kind, index, errno, arg}) as the error the user sees. */
export function stageError(step: Step | undefined, index: number, kind: number, err: number, arg: number): RuntsError {
  if (!step) return new RuntsError('ERR_SYSCALL', `container init failed at unknown step ${index}`);
  if (kind === Msg.HOOK) {
    const how = errnoName(err) === 'ETIMEDOUT' ? 'timed out' : arg >= 128 ? `was killed by signal ${arg - 128}` : `exited with status ${arg}`;
    return new RuntsError('ERR_HOOK', `${step.path}: hook ${step.name} ${how}`, { path: step.path });
  }
  const name = errnoName(err);
  if (step.op === 'LOOKUP' && (name === 'ENOENT' || name === 'EACCES')) {
    // Engines read these words: docker maps "not found"/"no such file" to 127, "permission denied" to 126.
    const file = step.name;
    const why = name === 'EACCES' ? 'permission denied' : file.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
    return new RuntsError('ERR_CONFIG_INVALID', `${step.path}: exec "${file}": ${why}`, { path: step.path, errno: name });
  }
  return new RuntsError('ERR_SYSCALL', `${step.path}: ${step.what}: ${name} (${strerror(err)})`, {
    path: step.path,
    syscall: step.op.toLowerCase(),
    errno: name,
  });
}

/** A failed op as the user reads it: its config path, what it did, and the errno. */
export function opError(plan: Plan, index: number, err: number): RuntsError {
  const op = plan.ops[index];
  if (op) return stageError(stepOf(op), index, Msg.ERROR, err, 0);
  const name = errnoName(err);
  return new RuntsError('ERR_SYSCALL', `native stage: plan refused at ${index === 0xffff_ffff ? 'its header' : `step ${index}`}: ${name} (${strerror(err)})`, { errno: name });
}

/** What the parent does at a SYNC point; its string is the reply's payload. */
export type SyncHandlers = Record<number, (joinErr: number) => string | Promise<string>>;

/** Answers the child's SYNC points until it reports READY; turns its errors into RuntsErrors.
 * A handler may wait (hooks): the event loop runs meanwhile. The protocol: bindings/stage.h. */
export async function converse(ctx: Pick<Ctx, 'sys' | 'debug'>, fd: number, pidfd: number, plan: Plan, handlers: SyncHandlers, onListener?: (listener: number) => void): Promise<void> {
  let last = -1;
  const receive = () => {
    try {
      return ctx.sys.recvMsg(fd, MSG_SIZE);
    } catch (e) {
      // The init died with our last answer unread.
      if (isRuntsError(e) && e.detail.errno === 'ECONNRESET') throw diedInSetup(ctx, pidfd, plan, last);
      throw e;
    }
  };
  for (;;) {
    const { data: msg, fd: passed } = receive();
    if (msg.length < MSG_SIZE) throw diedInSetup(ctx, pidfd, plan, last);
    const kind = msg.readUInt32LE(0);
    const index = msg.readUInt32LE(4);
    last = index;
    const err = msg.readInt32LE(8);
    const arg = msg.readInt32LE(12);
    const op = plan.ops[index];
    ctx.debug?.(`init at plan op ${index}/${plan.ops.length} (${op?.what ?? '?'}): ${kind === Msg.READY ? 'ready' : kind === Msg.SYNC ? 'sync' : kind === Msg.SECCOMP ? 'seccomp listener' : 'failed'}`);
    if (kind === Msg.READY) return;
    if (kind === Msg.SECCOMP) {
      try {
        if (passed < 0) throw new RuntsError('ERR_SYSCALL', 'linux.seccomp: the container sent no listener fd');
        onListener?.(passed);
      } catch (e) {
        reply(ctx, fd, 1, Buffer.alloc(0));
        throw e;
      } finally {
        if (passed >= 0) safeClose(ctx, passed);
      }
      reply(ctx, fd, 0, Buffer.alloc(0));
      continue;
    }
    if (kind === Msg.SYNC) {
      const handler = handlers[arg];
      let payload = Buffer.alloc(0);
      try {
        payload = Buffer.from(handler ? await handler(err) : '');
      } catch (e) {
        reply(ctx, fd, 1, payload);
        throw e;
      }
      // An init that died while we answered (a hook may have killed it) is reported by the next read.
      reply(ctx, fd, 0, payload);
      continue;
    }
    throw op ? stageError(stepOf(op), index, kind, err, arg) : opError(plan, index, err);
  }
}

/** The init closed the sync socket without a report: it died. Its wait status and the
 * last step it reported say where (it is reaped here; the undo's reap finds it gone). */
function diedInSetup(ctx: Pick<Ctx, 'sys'>, pidfd: number, plan: Plan, last: number): RuntsError {
  let st = null;
  for (let i = 0; i < 2000 && !st; i++) {
    try {
      st = ctx.sys.tryWaitPidfd(pidfd);
    } catch {
      break;
    }
    if (!st) sleepMs(1);
  }
  const how = !st ? 'is gone' : st.signal !== undefined ? `was killed by signal ${st.signal} (${signalName(st.signal)})` : `exited with status ${st.code}`;
  const op = plan.ops[last];
  const where = op ? `after step ${last} of ${plan.ops.length} (${op.path}: ${op.what})` : 'before its first step';
  return new RuntsError('ERR_SYSCALL', `container init ${how} during setup, ${where}, without reporting an error`);
}

/** After READY an exec'd process only unblocks signals, loads its filter and
 * execs: the exec closes its end (EOF), or it reports why it could not. */
export function awaitExec(ctx: Pick<Ctx, 'sys'>, fd: number, plan: Plan): void {
  const msg = ctx.sys.recvMsg(fd, MSG_SIZE).data;
  if (msg.length < MSG_SIZE) return;
  const index = msg.readUInt32LE(4);
  const op = plan.ops[index];
  throw stageError(op && stepOf(op), index, msg.readUInt32LE(0), msg.readInt32LE(8), msg.readInt32LE(12));
}

/** Hands the seccomp listener to the agent at linux.seccomp.listenerPath, as the runtime-spec says. */
export function sendListener(ctx: Pick<Ctx, 'sys'>, spec: Spec, listener: number, state: State): void {
  const path = spec.linux?.seccomp?.listenerPath;
  if (!path) throw configError('linux.seccomp.listenerPath', 'SCMP_ACT_NOTIFY needs a listener path');
  const sock = ctx.sys.connectUnix(path);
  try {
    const msg = {
      ociVersion: OCI_VERSION,
      fds: ['seccompFd'],
      pid: state.pid,
      metadata: spec.linux?.seccomp?.listenerMetadata ?? '',
      state,
    };
    ctx.sys.sendFd(sock, Buffer.from(JSON.stringify(msg)), listener);
  } finally {
    safeClose(ctx, sock);
  }
}

/** The answer to a SYNC or SECCOMP: {status, payload length} then the payload. */
function reply(ctx: Pick<Ctx, 'sys'>, fd: number, status: number, payload: Buffer): void {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(status, 0);
  head.writeUInt32LE(payload.length, 4);
  try {
    ctx.sys.write(fd, Buffer.concat([head, payload]));
  } catch {
    /* the child is gone; the next read reports it */
  }
}

/** SIGKILL for 9: node:os's table, loaded only for this message. */
function signalName(n: number): string {
  return Object.entries(os().constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}
