// What every operation of the runtime shares: the state store, the one Sys,
// how to warn and debug, and the fd and process chores around a child.
import { newManager, type Manager } from '@runts/cgroups';
import { testEnv, type Sys } from '@runts/sys';
import type { ContainerRecord, StateStore } from './state';
import type { Caller } from './rootless';
import { sleepMs } from './proc';

/** A process this runtime started, for a parent that stays (run, exec, the shim). */
export interface Created {
  pid: number;
  pidfd: number;
  /** The pty master of a terminal attached to this process. */
  master?: number;
}

export interface Ctx {
  readonly store: StateStore;
  readonly sys: Sys;
  readonly warn: (msg: string) => void;
  /** --debug: one line per setup step. Without it, no line is even built. */
  readonly debug: ((msg: string) => void) | undefined;
  readonly systemd: boolean;
  /** pidfds of inits this process created, for run's wait. */
  readonly pidfds: Map<string, number>;
}

/** node:os when a command first needs it: state and list never load it. */
export const os = (): typeof import('node:os') => require('node:os') as typeof import('node:os');

export function safeClose(ctx: Pick<Ctx, 'sys'>, fd: number): void {
  try {
    ctx.sys.close(fd);
  } catch {
    /* already closed */
  }
}

/** Closes the fds that only the child uses, once it has its copies. */
export function closeChildEnds(ctx: Ctx, fds: number[], ends: (number | undefined)[]): void {
  for (const fd of ends) {
    if (fd === undefined) continue;
    safeClose(ctx, fd);
    fds.splice(fds.indexOf(fd), 1);
  }
}

/** Kills and reaps a child that failed its setup. */
export function reap(ctx: Ctx, pidfd: number): void {
  try {
    ctx.sys.pidfdSendSignal(pidfd, os().constants.signals.SIGKILL);
    for (let i = 0; i < 5000 && !ctx.sys.tryWaitPidfd(pidfd); i++) sleepMs(1);
  } catch {
    /* already gone */
  }
  safeClose(ctx, pidfd);
}

export function cgroupOf(ctx: Ctx, rec: ContainerRecord): Manager {
  return newManager({ paths: rec.cgroupPaths, bpf: ctx.sys });
}

/** null for root; else who runs us, for rootless id maps and errors. */
export function callerOf(ctx: Ctx): Caller | null {
  const uid = ctx.sys.geteuid();
  if (uid === 0) return null;
  let name = String(uid);
  try {
    name = os().userInfo().username;
  } catch {
    /* no passwd entry: /etc/subuid may still name the uid */
  }
  return { uid, gid: process.getegid?.() ?? uid, name };
}

/** Test hook (test build only): RUNTS_FAULT=<step> kills this process at that
 * step of create, as a `kill -9` from outside would, so that recovery can be tested. */
export function fault(step: string): void {
  if (testEnv('RUNTS_FAULT') === step) process.kill(process.pid, 'SIGKILL');
}
