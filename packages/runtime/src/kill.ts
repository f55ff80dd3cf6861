// kill: a signal to the init, or (--all, or a shared pid namespace) to every
// process in the container's cgroup.
import { RuntsError, isRuntsError } from '@runts/errors';
import { isAlive } from './proc';
import { statusOf } from './query';
import type { ContainerRecord } from './state';
import { NOT_RUNNING, NO_SUCH_PROCESS } from './wording';
import { cgroupOf, os, safeClose, type Ctx } from './context';

export function kill(ctx: Ctx, id: string, signal: number, opts: { all?: boolean }): void {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx.store, rec);
  // As runc's --all: whatever is left in the cgroup is signalled, even after the init's exit.
  if (status === 'stopped' && opts.all) {
    if (Object.keys(rec.cgroupPaths).length > 0) signalAll(ctx, rec, signal);
    return;
  }
  if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
  ctx.debug?.(`kill ${id}: signal ${signal} to ${opts.all ? 'every process' : `init ${rec.pid}`} (${status})`);
  // Without cgroups (rootless) only the init can be found; a pid namespace's processes die with it.
  if ((opts.all || rec.sharedPidNs) && Object.keys(rec.cgroupPaths).length > 0) {
    signalAll(ctx, rec, signal);
    if (!opts.all) signalInit(ctx, rec, signal);
    return;
  }
  signalInit(ctx, rec, signal);
  // A frozen task takes its SIGKILL only once thawed (cgroup v1).
  if (status === 'paused' && signal === os().constants.signals.SIGKILL) cgroupOf(ctx, rec).thaw();
}

/** Signals every process of the cgroup, frozen meanwhile so that none forks
 * away unsignalled. A paused container stays paused unless the signal is SIGKILL. */
export function signalAll(ctx: Ctx, rec: ContainerRecord, signal: number): void {
  const cg = cgroupOf(ctx, rec);
  if (signal === os().constants.signals.SIGKILL && rec.cgroupPaths[''] !== undefined && cg.killAll()) return;
  const wasFrozen = cg.isFrozen();
  if (!wasFrozen) {
    try {
      cg.freeze();
    } catch {
      /* no freezer, or still freezing: signal them live (and thaw below all the same) */
    }
  }
  try {
    for (const pid of cg.pids()) {
      try {
        ctx.sys.kill(pid, signal);
      } catch {
        /* exited meanwhile */
      }
    }
  } finally {
    if (!wasFrozen || signal === os().constants.signals.SIGKILL) {
      try {
        cg.thaw();
      } catch {
        /* no freezer */
      }
    }
  }
}

/** An init that exits between the status check and the signal is reported
 * in the words engines take for "already gone". */
function signalInit(ctx: Ctx, rec: ContainerRecord, signal: number): void {
  let pidfd: number;
  try {
    pidfd = ctx.sys.pidfdOpen(rec.pid);
  } catch (e) {
    throw isRuntsError(e) && e.detail.errno === 'ESRCH' ? new RuntsError('ERR_BAD_STATE', NOT_RUNNING) : e;
  }
  try {
    if (!isAlive(rec.pid, rec.startTime)) throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
    ctx.sys.pidfdSendSignal(pidfd, signal);
  } catch (e) {
    throw isRuntsError(e) && e.detail.errno === 'ESRCH' ? new RuntsError('ERR_BAD_STATE', `${e.detail.syscall ?? 'kill'}: ${NO_SUCH_PROCESS}`) : e;
  } finally {
    safeClose(ctx, pidfd);
  }
}
