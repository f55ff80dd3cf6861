// What create and exec share to start a child in the native stage: the plan
// builder, the fds handed to the child, the clone, and waiting on it.
import { existsSync, readFileSync, constants as fsc } from 'node:fs';
import { resolve } from 'node:path';
import type { Spec } from '@runts/oci';
import type { Manager } from '@runts/cgroups';
import { RuntsError, configError } from '@runts/errors';
import { testEnv } from '@runts/sys';
import { writeAtomic } from '@runts/sys/journal';
import type { Lsm, Plan } from './plan/build';
import { MSG_SIZE, Msg } from './plan/ops';
import { opError } from './converse';
import { os, safeClose, type Ctx } from './context';

const SIGNALS_FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

/** The plan builder and the seccomp compiler under it, loaded only by create and exec (the other commands start faster without them). */
export function planBuilder(): typeof import('./plan/build') {
  return require('./plan/build') as typeof import('./plan/build');
}

/** Clones the child; a user or pid namespace to join is joined by the stage's
 * intermediate child (after the plan's ops before FORK), never by this process.
 * An intermediate that failed an op said which on the sync socket (`fd`). */
export function spawnIn(ctx: Ctx, pidNsFd: number | undefined, buf: Buffer, plan: Plan, fd: number): { pid: number; pidfd: number } {
  try {
    if (plan.usernsFd === undefined && pidNsFd === undefined) return ctx.sys.spawn(buf, plan.cloneFlags);
    return ctx.sys.spawn(buf, plan.cloneFlags, { ...(plan.usernsFd !== undefined ? { userns: plan.usernsFd } : {}), ...(pidNsFd !== undefined ? { pidns: pidNsFd } : {}) });
  } catch (e) {
    if (!ctx.sys.pollIn(fd, 0)) throw e;
    const { data: msg } = ctx.sys.recvMsg(fd, MSG_SIZE);
    if (msg.length < MSG_SIZE || msg.readUInt32LE(0) !== Msg.ERROR) throw e;
    throw opError(plan, msg.readUInt32LE(4), msg.readInt32LE(8));
  }
}

/** Where a terminal's master goes: the console socket, or (attach) back to us
 * through a socketpair whose other end the container gets. */
export function consoleFor(ctx: Ctx, socket: string | undefined, attach: boolean, fds: number[], noSocket: string): { consoleFd: number; attachEnd?: number } {
  if (socket) {
    const consoleFd = ctx.sys.connectUnix(resolve(socket));
    fds.push(consoleFd);
    return { consoleFd };
  }
  if (!attach) throw configError('process.terminal', noSocket);
  const [attachEnd, consoleFd] = ctx.sys.socketpair();
  fds.push(attachEnd, consoleFd);
  return { consoleFd, attachEnd };
}

/** Opens the files through which the child moves itself into its cgroups; none if any
 * cannot be opened (the parent then moves it, and reports what fails). */
export function openJoinFiles(ctx: Ctx, cgroup: Manager, fds: number[]): number[] {
  const opened: number[] = [];
  // RUNTS_FAULT=join (test build): opened read-only, the child's writes fail and the fallback runs.
  const flags = testEnv('RUNTS_FAULT') === 'join' ? fsc.O_RDONLY : fsc.O_WRONLY;
  try {
    for (const f of cgroup.selfJoinFiles()) opened.push(ctx.sys.open(f, flags));
  } catch {
    opened.forEach((fd) => safeClose(ctx, fd));
    return [];
  }
  fds.push(...opened);
  return opened;
}

/** Waits for our child, passing on the signals a foreground runtime gets. */
export async function waitForwarding(ctx: Ctx, pidfd: number, skip: string[] = []): Promise<number> {
  const forward = new Map<string, () => void>();
  for (const sig of SIGNALS_FORWARDED) {
    if (skip.includes(sig)) continue;
    const h = () => {
      try {
        ctx.sys.pidfdSendSignal(pidfd, os().constants.signals[sig]);
      } catch {
        /* exited */
      }
    };
    forward.set(sig, h);
    process.on(sig, h);
  }
  try {
    return (await ctx.sys.waitPidfd(pidfd)).code;
  } finally {
    for (const [sig, h] of forward) process.off(sig, h);
    safeClose(ctx, pidfd);
  }
}

/** --debug: the steps the init will take, in order, before it takes them. */
export function debugPlan(ctx: Ctx, what: string, plan: Plan, bytes: number): void {
  ctx.debug!(`${what}: plan of ${plan.ops.length} ops (${bytes} bytes)`);
  plan.ops.forEach((o, i) => ctx.debug!(`${what}: plan op ${i}: ${o.what} (${o.path})`));
}

export const ownsMountNs = (spec: Spec): boolean => (spec.linux?.namespaces ?? []).some((n) => n.type === 'mount');

/** The container's own session keyring, which its exec'd processes join by name (runc's name). */
export function sessionKeyring(id: string): string {
  return `_ses.${id}`;
}

/** The pid with no trailing newline, written atomically (engines read it at once). */
export function writePidFile(file: string, pid: number): void {
  try {
    writeAtomic(file, String(pid), 0o644);
  } catch (e) {
    throw new RuntsError('ERR_IO', `--pid-file: cannot write ${file}: ${(e as NodeJS.ErrnoException).code}`, { file });
  }
}

/** The LSMs this host enables, tested the way runc's libraries do. */
export function hostLsm(): Lsm {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    /* not built in */
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce') };
}
