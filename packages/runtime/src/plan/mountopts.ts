import { MS } from './flags';

export interface MountOptions {
  /** Flags for the mount itself. */
  flags: number;
  /** Propagation flags, applied in a separate mount call. */
  propagation: number[];
  /** Options the kernel gets as the data string. */
  data: string[];
}

// Each option sets or clears flags; "rw" clears MS_RDONLY as runc does.
const FLAGS: Record<string, { set?: number; clear?: number }> = {
  async: { clear: MS.SYNCHRONOUS },
  atime: { clear: MS.NOATIME },
  bind: { set: MS.BIND },
  defaults: {},
  dev: { clear: MS.NODEV },
  diratime: { clear: MS.NODIRATIME },
  dirsync: { set: MS.DIRSYNC },
  exec: { clear: MS.NOEXEC },
  mand: { set: MS.MANDLOCK },
  noatime: { set: MS.NOATIME },
  nodev: { set: MS.NODEV },
  nodiratime: { set: MS.NODIRATIME },
  noexec: { set: MS.NOEXEC },
  nomand: { clear: MS.MANDLOCK },
  norelatime: { clear: MS.RELATIME },
  nostrictatime: { clear: MS.STRICTATIME },
  nosuid: { set: MS.NOSUID },
  nosymfollow: { set: MS.NOSYMFOLLOW },
  rbind: { set: MS.BIND | MS.REC },
  relatime: { set: MS.RELATIME },
  remount: { set: MS.REMOUNT },
  ro: { set: MS.RDONLY },
  rw: { clear: MS.RDONLY },
  silent: { set: MS.SILENT },
  strictatime: { set: MS.STRICTATIME },
  suid: { clear: MS.NOSUID },
  sync: { set: MS.SYNCHRONOUS },
  lazytime: { set: MS.LAZYTIME },
  nolazytime: { clear: MS.LAZYTIME },
  loud: { clear: MS.SILENT },
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

export function parseMountOptions(options: readonly string[] = []): MountOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options) {
    const f = FLAGS[o];
    if (f) {
      if (f.clear) flags &= ~f.clear;
      if (f.set) flags |= f.set;
      continue;
    }
    const p = PROPAGATION[o];
    if (p !== undefined) propagation.push(p);
    else data.push(o);
  }
  return { flags, propagation, data };
}

export function propagationFlag(name: string): number | undefined {
  return PROPAGATION[name];
}

/** Every option this runtime turns into flags (features reports them). */
export const MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(PROPAGATION)];
