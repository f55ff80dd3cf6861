// exec: another process in a running container, cloned into its namespaces
// and cgroups with a plan of its own.
import { resolve } from 'node:path';
import type { Process } from '@runts/oci';
import { newManager } from '@runts/cgroups';
import { RuntsError } from '@runts/errors';
import { NS_PROC_NAME } from './plan/flags';
import { encodePlan } from './plan/encode';
import { SyncTag } from './plan/ops';
import { ociState, statusOf } from './query';
import { attachTerminal, terminalSize } from './tty';
import type { ExecOptions } from './options';
import { closeChildEnds, reap, safeClose, type Created, type Ctx } from './context';
import { awaitExec, converse, sendListener } from './converse';
import { consoleFor, debugPlan, hostLsm, openJoinFiles, ownsMountNs, planBuilder, sessionKeyring, spawnIn, waitForwarding, writePidFile } from './child';

/** The container's own process, the base that `exec` with arguments changes. */
export function baseProcess(ctx: Ctx, id: string): Process {
  ctx.store.load(id);
  const p = ctx.store.config(id).process;
  if (!p) throw new RuntsError('ERR_CONFIG_INVALID', `container "${id}" has no process in its config`);
  return p;
}

/** Runs another process in a running container; returns its exit code (0 when detached). */
export async function exec(ctx: Ctx, id: string, opts: ExecOptions): Promise<number> {
  // In the foreground without a console socket, as runc: we hold the pty and relay it,
  // and the pty has our terminal's size before the process runs.
  const relay = opts.process.terminal === true && !opts.detach && !opts.consoleSocket;
  const size = relay && opts.process.consoleSize === undefined ? terminalSize() : undefined;
  const proc = size ? { ...opts.process, consoleSize: { height: size.rows, width: size.cols } } : opts.process;
  const { pidfd, master } = await spawnExec(ctx, id, { ...opts, process: proc }, relay);
  if (master !== undefined) return await attachTerminal(ctx.sys, master, waitForwarding(ctx, pidfd, ['SIGWINCH']));
  if (!opts.detach) return await waitForwarding(ctx, pidfd);
  safeClose(ctx, pidfd);
  return 0;
}

/** Starts an exec'd process and hands back its pidfd; with attach, a terminal's
 * master comes back instead of going to a console socket. */
export async function spawnExec(ctx: Ctx, id: string, opts: ExecOptions, attach: boolean): Promise<Created> {
  const { store, sys } = ctx;
  const rec = store.load(id);
  const status = statusOf(store, rec);
  if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', `cannot exec in a ${status} container`);
  if (status === 'paused' && !opts.ignorePaused) throw new RuntsError('ERR_BAD_STATE', 'cannot exec in a paused container (use --ignore-paused)');
  const spec = store.config(id);
  const fds: number[] = [];
  try {
    const nsFds = new Map<string, number>();
    let pidNsFd: number | undefined;
    for (const ns of spec.linux?.namespaces ?? []) {
      const fd = sys.open(`/proc/${rec.pid}/ns/${NS_PROC_NAME[ns.type]}`, 0 /* O_RDONLY */);
      fds.push(fd);
      if (ns.type === 'pid') pidNsFd = fd;
      else nsFds.set(ns.type, fd);
    }
    const [parentEnd, childEnd] = sys.socketpair();
    fds.push(parentEnd, childEnd);
    const { consoleFd, attachEnd } = opts.process.terminal ? consoleFor(ctx, opts.consoleSocket, attach, fds, 'a detached exec with a terminal needs --console-socket') : {};
    const cgroup = newManager({ paths: rec.cgroupPaths });
    const joinFds = openJoinFiles(ctx, cgroup, fds);
    const plan = planBuilder().buildExecPlan({
      cgroupJoinFds: joinFds,
      process: opts.process,
      nsFds,
      preserveFds: opts.preserveFds ?? 0,
      ...(consoleFd !== undefined ? { consoleFd } : {}),
      ...(opts.stdio ? { stdio: opts.stdio } : {}),
      ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
      ...(ownsMountNs(spec) ? {} : { chroot: rec.rootfs }),
      lsm: hostLsm(),
      ...(rec.noNewKeyring ? {} : { sessionKeyring: sessionKeyring(id) }),
    });
    const buf = encodePlan(plan.ops, childEnd, 4096, parentEnd);
    if (ctx.debug) debugPlan(ctx, `exec ${id}`, plan, buf.length);
    const { pid, pidfd } = spawnIn(ctx, pidNsFd, buf, plan, parentEnd);
    ctx.debug?.(`exec ${id}: process cloned, pid ${pid}`);
    closeChildEnds(ctx, fds, [childEnd, consoleFd, ...joinFds]);
    let master: number | undefined;
    try {
      await converse(ctx, parentEnd, pidfd, plan, {
        [SyncTag.SETUP]: (joinErr) => {
          if (joinFds.length === 0 || joinErr !== 0) cgroup.apply(pid);
          return '';
        },
      }, (listener) => sendListener(ctx, spec, listener, ociState(rec, status)));
      awaitExec(ctx, parentEnd, plan);
      if (attachEnd !== undefined) {
        master = sys.recvMsg(attachEnd, 64).fd;
        if (master === -1) throw new RuntsError('ERR_SYSCALL', 'process.terminal: the exec sent no terminal');
      }
    } catch (e) {
      reap(ctx, pidfd);
      throw e;
    }
    if (opts.pidFile) writePidFile(resolve(opts.pidFile), pid);
    ctx.debug?.(`exec ${id}: process ${pid} runs ${String(opts.process.args?.[0] ?? '')}`);
    return master !== undefined ? { pid, pidfd, master } : { pid, pidfd };
  } finally {
    fds.forEach((fd) => safeClose(ctx, fd));
  }
}
