// What differs when runts runs as an unprivileged user: who writes the id maps,
// and whether the container gets cgroups of its own.
import { accessSync, existsSync, readFileSync, constants as fsc } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LinuxIdMapping, LinuxResources, Spec } from '@runts/oci';
import { RuntsError, configError } from '@runts/errors';
import type { Sys } from '@runts/sys';
import { writeProc } from './proc';

/** Who runs the runtime. */
export interface Caller {
  uid: number;
  gid: number;
  /** The login name, as /etc/subuid names users. */
  name: string;
}

export interface SubRange {
  start: number;
  count: number;
}

/** The ranges /etc/subuid (or /etc/subgid) gives a user, named or by number. */
export function subordinateRanges(text: string, name: string, id: number): SubRange[] {
  const out: SubRange[] = [];
  for (const line of text.split('\n')) {
    const [who, start, count] = line.trim().split(':');
    if (who === undefined || start === undefined || count === undefined) continue;
    if (who !== name && who !== String(id)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

const KIND = {
  uid: { field: 'linux.uidMappings', file: '/etc/subuid', tool: 'newuidmap', ids: 'uids' },
  gid: { field: 'linux.gidMappings', file: '/etc/subgid', tool: 'newgidmap', ids: 'gids' },
} as const;

/** Is the map just the caller's own id, which it may write itself? */
export function ownIdOnly(map: LinuxIdMapping[], own: number): boolean {
  return map.length === 1 && map[0]!.size === 1 && map[0]!.hostID === own;
}

/** Checks that newuidmap/newgidmap will accept the map: each host range is
 * the caller's own id or lies in one of its subordinate ranges. */
export function checkSubordinate(kind: 'uid' | 'gid', map: LinuxIdMapping[], caller: Caller, subText: string): void {
  const k = KIND[kind];
  const own = kind === 'uid' ? caller.uid : caller.gid;
  const ranges = subordinateRanges(subText, caller.name, caller.uid);
  map.forEach((m, i) => {
    if (m.size === 1 && m.hostID === own) return;
    if (ranges.length === 0) throw configError(k.field, `no subordinate ${k.ids} for user ${caller.name} in ${k.file}`);
    const inside = ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
    if (!inside) {
      const have = ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ');
      throw configError(`${k.field}[${i}]`, `host ${k.ids} ${m.hostID}-${m.hostID + m.size - 1} are not among user ${caller.name}'s subordinate ${k.ids} in ${k.file} (${have})`);
    }
  });
}

function findTool(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/sbin', '/bin', '/sbin'];
  return dirs.map((d) => join(d, name)).find((p) => existsSync(p));
}

function writeMap(sys: Sys, kind: 'uid' | 'gid', pid: number, map: LinuxIdMapping[], caller: Caller | null): void {
  const k = KIND[kind];
  if (caller === null) return writeProc(sys, `/proc/${pid}/${kind}_map`, map.map((e) => `${e.containerID} ${e.hostID} ${e.size}\n`).join(''), k.field);
  if (ownIdOnly(map, kind === 'uid' ? caller.uid : caller.gid)) {
    // The kernel lets an unprivileged gid_map through only once setgroups is denied for good.
    if (kind === 'gid') writeProc(sys, `/proc/${pid}/setgroups`, 'deny', k.field);
    return writeProc(sys, `/proc/${pid}/${kind}_map`, `${map[0]!.containerID} ${map[0]!.hostID} 1\n`, k.field);
  }
  let subText = '';
  try {
    subText = readFileSync(k.file, 'utf8');
  } catch {
    /* no file: no subordinate ids */
  }
  checkSubordinate(kind, map, caller, subText);
  const tool = findTool(k.tool);
  const own = kind === 'uid' ? caller.uid : caller.gid;
  if (!tool) throw configError(k.field, `mapping ${k.ids} other than ${own} needs ${k.tool} (Debian package uidmap), which is not installed`);
  const args = [String(pid), ...map.flatMap((m) => [String(m.containerID), String(m.hostID), String(m.size)])];
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  const r = spawnSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) {
    const why = (r.stderr ?? '').trim().split('\n').pop() || (r.error ? r.error.message : `exit status ${r.status}`);
    throw new RuntsError('ERR_SYSCALL', `${k.field}: ${k.tool} ${args.join(' ')}: ${why}`, { path: k.field });
  }
}

/** Writes the maps of a user namespace the init created. Root writes them
 * itself; an unprivileged caller (non-null) writes a map of only its own id,
 * and anything more through the setuid newuidmap/newgidmap. */
export function writeIdMaps(sys: Sys, pid: number, spec: Spec, caller: Caller | null): void {
  if (!(spec.linux?.namespaces ?? []).some((n) => n.type === 'user' && !n.path)) return;
  const uid = spec.linux?.uidMappings;
  const gid = spec.linux?.gidMappings;
  if (caller !== null && (!uid?.length || !gid?.length)) {
    throw configError(uid?.length ? 'linux.gidMappings' : 'linux.uidMappings', 'a rootless container needs uid and gid mappings for its user namespace');
  }
  if (uid?.length) writeMap(sys, 'uid', pid, uid, caller);
  if (gid?.length) writeMap(sys, 'gid', pid, gid, caller);
}

/** Whether any limit is asked for (a devices list alone is not: without
 * privileges no device can be made, only the host's bound). */
export function wantsLimits(r: LinuxResources | undefined): boolean {
  return Object.entries(r ?? {}).some(([k, v]) => k !== 'devices' && v !== undefined && !(Array.isArray(v) && v.length === 0));
}

/** Can an unprivileged caller make these cgroups: is the nearest existing
 * directory of each writable (a subtree delegated to it)? */
export function cgroupsWritable(paths: Record<string, string>): boolean {
  const dirs = Object.values(paths);
  return dirs.length > 0 && dirs.every((d) => {
    let p = d;
    while (!existsSync(p) && p !== '/') p = dirname(p);
    try {
      accessSync(p, fsc.W_OK);
      return p === d ? canWriteProcs(d) : true;
    } catch {
      return false;
    }
  });
}

function canWriteProcs(dir: string): boolean {
  try {
    accessSync(join(dir, 'cgroup.procs'), fsc.W_OK);
    return true;
  } catch {
    return false;
  }
}
