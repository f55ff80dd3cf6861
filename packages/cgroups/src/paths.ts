import { posix } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { CgroupFs } from './fs';

export const CGROUP2_MAGIC = 0x63677270;
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** One mounted v1 hierarchy, e.g. controllers ['cpu','cpuacct'] at /sys/fs/cgroup/cpu,cpuacct. */
export interface Hierarchy {
  mountpoint: string;
  /** The cgroup this mount shows as its root (not / inside a cgroup namespace). */
  root: string;
  /** Controller names, or `name=systemd` for a named hierarchy. */
  controllers: string[];
}

export type Mode = 'v1' | 'hybrid' | 'v2';

export function detectMode(fs: CgroupFs): Mode {
  if (fs.fsType(CGROUP_ROOT) === CGROUP2_MAGIC) return 'v2';
  const unified = posix.join(CGROUP_ROOT, 'unified');
  return fs.exists(unified) && fs.fsType(unified) === CGROUP2_MAGIC ? 'hybrid' : 'v1';
}

/** v1 hierarchies from /proc/self/mountinfo. */
export function v1Hierarchies(mountinfo: string): Hierarchy[] {
  const out: Hierarchy[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype !== 'cgroup') continue;
    const fields = pre.split(' ');
    const controllers = (superOpts ?? '').split(',').filter((o) => !['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'xattr', 'clone_children'].includes(o) && !o.startsWith('release_agent='));
    out.push({ mountpoint: fields[4]!, root: fields[3]!, controllers });
  }
  return out;
}

/** /proc/<pid>/cgroup: hierarchy key (controllers joined by ',', '' for v2) → path. */
export function parseProcCgroup(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) map.set(m[1]!, m[2]!);
  }
  return map;
}

/** systemd's `slice:prefix:name` form. Here there is no systemd to ask for it. */
export function checkSystemdPath(cgroupsPath: string | undefined, fs: CgroupFs): void {
  const parts = (cgroupsPath ?? '').split(':');
  if (cgroupsPath && parts.length !== 3) {
    throw new RuntsError('ERR_CGROUP', `linux.cgroupsPath: "${cgroupsPath}" is not of the systemd form slice:prefix:name`, { path: 'linux.cgroupsPath' });
  }
  if (!fs.exists('/run/systemd/system')) {
    throw new RuntsError('ERR_CGROUP', 'linux.cgroupsPath: --systemd-cgroup needs systemd, and systemd is not running on this host', { path: 'linux.cgroupsPath' });
  }
  throw new RuntsError('ERR_UNSUPPORTED', 'linux.cgroupsPath: the systemd cgroup driver is not supported yet', { path: 'linux.cgroupsPath' });
}

/** Where a container's cgroup goes inside a hierarchy: absolute paths as
 * given, relative ones under the caller's own cgroup (as runc does), and
 * `/runts/<id>` when config.json names none. */
export function containerPath(cgroupsPath: string | undefined, id: string, ownPath: string): string {
  if (!cgroupsPath) return `/runts/${id}`;
  if (cgroupsPath.includes('..') && posix.normalize(cgroupsPath).split('/').includes('..')) {
    throw new RuntsError('ERR_CGROUP', `linux.cgroupsPath: "${cgroupsPath}" must not leave the cgroup tree`, { path: 'linux.cgroupsPath' });
  }
  if (posix.isAbsolute(cgroupsPath)) return posix.normalize(cgroupsPath);
  return posix.join(ownPath, cgroupsPath);
}
