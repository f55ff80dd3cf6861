// The directories runts, runts-shim and runtsd write (state, sockets, logs,
// outbox) must be theirs alone: another user who can rename or replace a
// directory on the way, or plant a symlink in it, steers root's writes and
// deletes, or stands in for its sockets. Plain file I/O under a directory
// that passed this check is then safe by path: nobody else can change any
// name on it.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, realpathSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { RuntsError } from '@runts/errors';

const S_ISVTX = 0o1000;
const GROUP_OTHER_WRITE = 0o022;

/** Checks that `path` is a directory only the effective user can change,
 * reached through directories only it or root can change; with create, makes
 * it (0700, and missing parents) first. Returns the path with its parents'
 * symlinks resolved. Refuses in one line naming `what`, the path and why. */
export function privateDir(path: string, what: string, { create = false } = {}): string {
  const abs = resolve(path);
  const euid = process.geteuid?.() ?? 0;
  const refuse = (p: string, why: string): never => {
    throw new RuntsError('ERR_UNSAFE_DIR', `${what} ${abs}: ${p === abs ? '' : `${p} `}${why}`, { file: p });
  };
  if (create) {
    try {
      mkdirSync(abs, { recursive: true, mode: 0o700 });
    } catch (e) {
      refuse(abs, `cannot be created: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  // The parents as named, and as resolved: a symlink on the way must be as safe as a directory.
  const parent = dirname(abs);
  checkParents(parent, euid, refuse);
  let real: string;
  try {
    real = realpathSync(parent);
  } catch (e) {
    return refuse(parent, `cannot be resolved: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (real !== parent) checkParents(real, euid, refuse);
  const target = join(real, basename(abs));
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // With O_DIRECTORY the kernel says ENOTDIR for a symlink too.
    const link = code === 'ELOOP' || (code === 'ENOTDIR' && lstatSync(target, { throwIfNoEntry: false })?.isSymbolicLink());
    return refuse(abs, link ? 'is a symlink' : code === 'ENOTDIR' ? 'is not a directory' : code === 'ENOENT' ? 'does not exist' : `cannot be opened: ${code}`);
  }
  try {
    const st = fstatSync(fd);
    if (st.uid !== euid) refuse(abs, `is owned by uid ${st.uid}, not by uid ${euid}`);
    if (st.mode & GROUP_OTHER_WRITE) refuse(abs, `is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  } finally {
    closeSync(fd);
  }
  return target;
}

/** Every directory from / down to dir: owned by root or euid, and writable by
 * nobody else unless sticky (as /tmp: others cannot rename what is not theirs). */
function checkParents(dir: string, euid: number, refuse: (p: string, why: string) => never): void {
  const parts = dir.split('/').filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const p = '/' + parts.slice(0, i).join('/');
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      return refuse(p, `cannot be examined: ${(e as NodeJS.ErrnoException).code}`);
    }
    if (st.uid !== 0 && st.uid !== euid) refuse(p, `is owned by uid ${st.uid}`);
    if (st.isSymbolicLink()) continue;
    if (!st.isDirectory()) refuse(p, 'is not a directory');
    if (st.mode & GROUP_OTHER_WRITE && !(st.mode & S_ISVTX)) refuse(p, `is writable by group or others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
  }
}
