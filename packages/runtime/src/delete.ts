// delete: what is left of a container killed, its poststop hooks run, its
// cgroups, mounts and state removed.
import { newManager } from '@runts/cgroups';
import { RuntsError, isRuntsError } from '@runts/errors';
import { isAlive, sleepMs, topMountAt } from './proc';
import { ociState, statusOf } from './query';
import type { ContainerRecord } from './state';
import { runHooksWarn } from './hooks';
import { deleteNotStopped } from './wording';
import { os, type Ctx } from './context';
import { signalAll } from './kill';

// How long a delete waits for a create under way in another process.
const CREATE_WAIT_MS = 30_000;
// umount2's lazy detach: the mount and everything under it.
const MNT_DETACH = 2;

export async function deleteContainer(ctx: Ctx, id: string, opts: { force?: boolean }): Promise<void> {
  const { store } = ctx;
  // A create killed before it wrote any state leaves just the claimed dir.
  if (store.isBare(id)) return store.remove(id);
  let rec: ContainerRecord;
  try {
    rec = afterCreate(ctx, store.load(id));
  } catch (e) {
    // As runc: engines clean up after a failed create with `delete --force`.
    if (opts.force && isRuntsError(e) && e.code === 'ERR_NOT_FOUND') return;
    throw e;
  }
  const status = statusOf(store, rec);
  ctx.debug?.(`delete ${id}: ${status}${opts.force ? ', forced' : ''}`);
  if ((status === 'running' || status === 'paused') && !opts.force) {
    throw new RuntsError('ERR_BAD_STATE', deleteNotStopped(id, status));
  }
  const cg = newManager({ paths: rec.cgroupPaths });
  if (status !== 'stopped') {
    if (opts.force || rec.sharedPidNs) signalAll(ctx, rec, os().constants.signals.SIGKILL);
    if (rec.pid > 0 && isAlive(rec.pid, rec.startTime)) {
      try {
        ctx.sys.kill(rec.pid, os().constants.signals.SIGKILL);
      } catch {
        /* gone */
      }
    }
    ctx.debug?.(`delete ${id}: killed; waiting for init ${rec.pid} to go`);
    await waitGone(ctx, rec);
  }
  ctx.debug?.(`delete ${id}: poststop hooks (${rec.creating ? 0 : rec.poststop.length})`);
  if (!rec.creating) await runHooksWarn(rec.poststop, 'poststop', JSON.stringify(ociState(rec, 'stopped')), ctx.warn);
  cg.destroy(rec.cgroupCreated);
  ctx.debug?.(`delete ${id}: cgroups removed`);
  detachRoot(ctx, rec);
  store.remove(id);
}

/** Detaches the rootfs bind a container without its own mount namespace made in ours, and every mount under it. */
export function detachRoot(ctx: Ctx, rec: ContainerRecord): void {
  if (rec.rootMountBase === undefined) return;
  const top = topMountAt(rec.rootfs);
  if (top !== null && top !== rec.rootMountBase) ctx.sys.umount2(rec.rootfs, MNT_DETACH);
}

/** The record once a create still under way in another process has finished: its undo
 * and our clean-up must not cross (we would remove the state of a container it then
 * finishes making). A create whose process died is left to us. */
function afterCreate(ctx: Ctx, rec: ContainerRecord): ContainerRecord {
  for (let i = 0; i < CREATE_WAIT_MS / 2 && rec.creating && rec.creator && rec.creator.pid !== process.pid && isAlive(rec.creator.pid, rec.creator.start); i++) {
    sleepMs(2);
    rec = ctx.store.load(rec.id);
  }
  return rec;
}

async function waitGone(ctx: Ctx, rec: ContainerRecord): Promise<void> {
  const fd = ctx.pidfds.get(rec.id);
  for (let i = 0; i < 10000 && rec.pid > 0 && isAlive(rec.pid, rec.startTime); i++) {
    // Our own child must be reaped, or it stays a zombie until we exit.
    if (fd !== undefined && ctx.sys.tryWaitPidfd(fd)) break;
    await new Promise((r) => setTimeout(r, 1));
  }
}
