// update, pause and resume: a live container's cgroups changed.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LinuxResources } from '@runts/oci';
import { planUpdate } from '@runts/cgroups';
import { RuntsError } from '@runts/errors';
import { writeAtomic } from '@runts/sys/journal';
import { statusOf } from './query';
import { NOT_PAUSED, NOT_RUNNING } from './wording';
import type { UpdateOptions } from './options';
import { cgroupOf, type Ctx } from './context';

// Where update keeps the container's resources after a change.
const RESOURCES_FILE = 'resources.json';

/** The resources the container has: the last update's, else config.json's. */
function resources(ctx: Ctx, id: string): LinuxResources {
  try {
    return JSON.parse(readFileSync(join(ctx.store.dir(id), RESOURCES_FILE), 'utf8')) as LinuxResources;
  } catch {
    return ctx.store.config(id).linux?.resources ?? {};
  }
}

export function update(ctx: Ctx, id: string, opts: UpdateOptions): LinuxResources {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx.store, rec);
  if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', `container "${id}" is not running`);
  for (const w of opts.warnings ?? []) ctx.warn(w);
  if (opts.l3CacheSchema || opts.memBwSchema) {
    const what = opts.l3CacheSchema ? 'Intel RDT/CAT: l3 cache schema' : 'Intel RDT/MBA: memory bandwidth schema';
    if (!existsSync('/sys/fs/resctrl/schemata')) throw new RuntsError('ERR_UNSUPPORTED', `${what} is not enabled (resctrl is not mounted at /sys/fs/resctrl)`);
    throw new RuntsError('ERR_UNSUPPORTED', `${what}: updating Intel RDT is not supported by runts`);
  }
  const { merged, writes } = planUpdate(resources(ctx, id), opts.resources);
  cgroupOf(ctx, rec).set(writes);
  // Kept beside the state, written atomically: later updates merge into it.
  const file = join(ctx.store.dir(id), RESOURCES_FILE);
  writeAtomic(file, JSON.stringify(merged));
  return merged;
}

export function pause(ctx: Ctx, id: string): void {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx.store, rec);
  if (status !== 'running' && status !== 'created') throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
  if (Object.keys(rec.cgroupPaths).length === 0) throw new RuntsError('ERR_CGROUP', `cannot pause container "${id}": it has no cgroup of its own (rootless, no cgroup delegated)`);
  cgroupOf(ctx, rec).freeze();
}

export function resume(ctx: Ctx, id: string): void {
  const rec = ctx.store.load(id);
  const status = statusOf(ctx.store, rec);
  if (status !== 'paused') throw new RuntsError('ERR_BAD_STATE', NOT_PAUSED);
  cgroupOf(ctx, rec).thaw();
}
