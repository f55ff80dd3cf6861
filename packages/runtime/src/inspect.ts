// What a container's cgroups say (processes, stats, OOM kills), and what the
// runtime says of itself (spec, features): queries that need more than the
// state dir (state and list, which do not, are in query.ts).
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSpec, features as ociFeatures } from '@runts/oci';
import { newManager, watchOom, type OomWatch } from '@runts/cgroups';
import { RuntsError } from '@runts/errors';
import { MOUNT_OPTIONS } from './plan/mountopts';
import { isAlive } from './proc';
import { statusOf } from './query';
import type { EventsOptions } from './options';
import { cgroupOf, type Ctx } from './context';

// How often a streaming `events` looks for OOM kills and for the container's end.
const EVENTS_POLL_MS = 100;

export function processes(ctx: Ctx, id: string): number[] {
  const rec = ctx.store.load(id);
  if (statusOf(ctx.store, rec) === 'stopped') return [];
  return cgroupOf(ctx, rec).pids();
}

export async function events(ctx: Ctx, id: string, opts: EventsOptions, out: (event: object) => void): Promise<void> {
  if (!(opts.intervalMs > 0)) throw new RuntsError('ERR_USAGE', '--interval must be greater than 0');
  const rec = ctx.store.load(id);
  if (statusOf(ctx.store, rec) === 'stopped') throw new RuntsError('ERR_BAD_STATE', `container with id ${id} is not running`);
  const cg = cgroupOf(ctx, rec);
  const stats = () => out({ type: 'stats', id, data: cg.stats() });
  if (opts.stats) {
    stats();
    return;
  }
  const oom = watchOom(cg, ctx.sys);
  const gone = () => !existsSync(ctx.store.file(id)) || !isAlive(rec.pid, rec.startTime);
  try {
    let next = Date.now() + opts.intervalMs;
    for (;;) {
      for (let n = oom.poll(); n > 0; n--) out({ type: 'oom', id });
      if (gone()) {
        for (let n = oom.poll(); n > 0; n--) out({ type: 'oom', id });
        return;
      }
      const now = Date.now();
      if (now >= next) {
        stats();
        next = now + opts.intervalMs;
      }
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(EVENTS_POLL_MS, next - Date.now()))));
    }
  } finally {
    oom.close();
  }
}

/** The container's OOM kills, for a parent that stays (the shim). */
export function oomWatch(ctx: Ctx, id: string): OomWatch {
  return watchOom(newManager({ paths: ctx.store.load(id).cgroupPaths }), ctx.sys);
}

export function writeSpec(opts: { bundle: string; rootless?: boolean }): void {
  const file = join(resolve(opts.bundle), 'config.json');
  if (existsSync(file)) throw new RuntsError('ERR_EXISTS', `File ${file} exists. Remove it first`);
  writeFileSync(file, JSON.stringify(defaultSpec({ rootless: opts.rootless ?? false }), null, '\t') + '\n');
}

export function features(): object {
  const { ACTIONS, OPERATORS, SUPPORTED_ARCHES, FILTER_FLAGS } = require('@runts/seccomp') as typeof import('@runts/seccomp');
  const flags = Object.keys(FILTER_FLAGS);
  return ociFeatures({
    mountOptions: MOUNT_OPTIONS,
    seccomp: { actions: [...ACTIONS], operators: [...OPERATORS], archs: SUPPORTED_ARCHES, knownFlags: flags, supportedFlags: flags },
    cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
    idmapMounts: true,
  });
}
