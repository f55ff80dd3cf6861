import { MOUNT_ATTR, MS } from './flags';

export interface MountOptions {
  /** Flags for the mount itself. */
  flags: number;
  /** Propagation flags, applied in a separate mount call. */
  propagation: number[];
  /** Options the kernel gets as the data string. */
  data: string[];
  /** The `r*` options: mount attributes set on the whole tree with mount_setattr(AT_RECURSIVE). */
  recursive?: { set: number; clr: number };
  /** `idmap` / `ridmap`: an idmapped mount, of the top mount only or of every submount. */
  idmap?: { recursive: boolean };
  /** runc's `tmpcopyup`: what the destination held is copied into the new tmpfs. */
  copyUp?: boolean;
}

// Each option sets or clears flags; "rw" clears MS_RDONLY as runc does.
const FLAGS: Record<string, { set?: number; clear?: number }> = {
  acl: { set: MS.POSIXACL },
  async: { clear: MS.SYNCHRONOUS },
  atime: { clear: MS.NOATIME },
  bind: { set: MS.BIND },
  defaults: {},
  dev: { clear: MS.NODEV },
  diratime: { clear: MS.NODIRATIME },
  dirsync: { set: MS.DIRSYNC },
  exec: { clear: MS.NOEXEC },
  iversion: { set: MS.I_VERSION },
  mand: { set: MS.MANDLOCK },
  noacl: { clear: MS.POSIXACL },
  noatime: { set: MS.NOATIME },
  nodev: { set: MS.NODEV },
  nodiratime: { set: MS.NODIRATIME },
  noiversion: { clear: MS.I_VERSION },
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
  symfollow: { clear: MS.NOSYMFOLLOW },
  sync: { set: MS.SYNCHRONOUS },
  lazytime: { set: MS.LAZYTIME },
  nolazytime: { clear: MS.LAZYTIME },
  loud: { clear: MS.SILENT },
};

// The recursive options (runc's names): each sets or clears a mount attribute.
// The atime ones pick one value of an enum, so they also clear the whole field.
const RECURSIVE: Record<string, { set?: number; clr?: number; atime?: number }> = {
  rro: { set: MOUNT_ATTR.RDONLY },
  rrw: { clr: MOUNT_ATTR.RDONLY },
  rnosuid: { set: MOUNT_ATTR.NOSUID },
  rsuid: { clr: MOUNT_ATTR.NOSUID },
  rnodev: { set: MOUNT_ATTR.NODEV },
  rdev: { clr: MOUNT_ATTR.NODEV },
  rnoexec: { set: MOUNT_ATTR.NOEXEC },
  rexec: { clr: MOUNT_ATTR.NOEXEC },
  rnodiratime: { set: MOUNT_ATTR.NODIRATIME },
  rdiratime: { clr: MOUNT_ATTR.NODIRATIME },
  rnosymfollow: { set: MOUNT_ATTR.NOSYMFOLLOW },
  rsymfollow: { clr: MOUNT_ATTR.NOSYMFOLLOW },
  rnoatime: { atime: MOUNT_ATTR.NOATIME },
  ratime: { atime: MOUNT_ATTR.RELATIME },
  rrelatime: { atime: MOUNT_ATTR.RELATIME },
  rnorelatime: { atime: MOUNT_ATTR.STRICTATIME },
  rstrictatime: { atime: MOUNT_ATTR.STRICTATIME },
  rnostrictatime: { atime: MOUNT_ATTR.RELATIME },
};

const IDMAP: Record<string, boolean> = { idmap: false, ridmap: true };

// runc's extensions: options that are neither flags nor filesystem data.
const COPY_UP = 'tmpcopyup';

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
  let recursive: { set: number; clr: number } | undefined;
  let idmap: { recursive: boolean } | undefined;
  let copyUp = false;
  for (const o of options) {
    if (o === COPY_UP) {
      copyUp = true;
      continue;
    }
    const f = FLAGS[o];
    if (f) {
      if (f.clear) flags &= ~f.clear;
      if (f.set) flags |= f.set;
      continue;
    }
    const r = RECURSIVE[o];
    if (r) {
      const cur = recursive ?? { set: 0, clr: 0 };
      if (r.set) {
        cur.set |= r.set;
        cur.clr &= ~r.set;
      }
      if (r.clr) {
        cur.clr |= r.clr;
        cur.set &= ~r.clr;
      }
      if (r.atime !== undefined) {
        cur.set = (cur.set & ~MOUNT_ATTR.ATIME_MASK) | r.atime;
        cur.clr |= MOUNT_ATTR.ATIME_MASK;
      }
      recursive = cur;
      continue;
    }
    const i = IDMAP[o];
    if (i !== undefined) {
      idmap = { recursive: i };
      continue;
    }
    const p = PROPAGATION[o];
    if (p !== undefined) propagation.push(p);
    else data.push(o);
  }
  return { flags, propagation, data, ...(recursive ? { recursive } : {}), ...(idmap ? { idmap } : {}), ...(copyUp ? { copyUp } : {}) };
}

export function propagationFlag(name: string): number | undefined {
  return PROPAGATION[name];
}

/** Every option this runtime turns into flags (features reports them). */
export const MOUNT_OPTIONS = [...Object.keys(FLAGS), ...Object.keys(PROPAGATION), ...Object.keys(RECURSIVE), ...Object.keys(IDMAP), COPY_UP];
