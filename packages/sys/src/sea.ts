// In the single executable (make sea) koffi's addon and the native stage are
// embedded assets. dlopen wants a file, so the libraries are written once into
// a private content-addressed dir and compared with the embedded bytes before
// every use: a file swapped there would run as root. The stage executable is
// never written: it is exec'd from a sealed memfd (linux.ts).
import { mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RuntsError } from '@runts/errors';
import { writeAtomic } from './journal';

type Sea = typeof import('node:sea');

let sea: Sea | null | undefined;
let checkedBase: string | undefined;
let hashes: Record<string, string> | undefined;

function seaModule(): Sea | null {
  if (sea === undefined) {
    const m = require('node:sea') as Sea;
    sea = m.isSea() ? m : null;
  }
  return sea;
}

/** Where the assets go: root's under /var/lib, anyone else's in their runtime dir. */
function libDir(): string {
  const override = process.env['RUNTS_LIB_DIR'];
  if (override) return override;
  if (process.geteuid!() === 0) return '/var/lib/runts/lib';
  const xdg = process.env['XDG_RUNTIME_DIR'];
  if (!xdg) throw new RuntsError('ERR_UNSUPPORTED', 'single executable: set XDG_RUNTIME_DIR or RUNTS_LIB_DIR for its private lib dir');
  return join(xdg, 'runts', 'lib');
}

/** Every dir above `dir` (up to `checked`, already seen to be private) must be
 * owned by root or us and writable by no one else (sticky dirs like /tmp aside:
 * their entries are the owner's); `dir` itself must be ours and 0700. */
function checkPrivate(dir: string, strict: boolean, checked?: string): void {
  const euid = process.geteuid!();
  const refuse = (path: string, why: string) => {
    throw new RuntsError('ERR_IO', `single executable's lib dir ${path} ${why}`, { file: path });
  };
  const st = statSync(dir);
  if (!st.isDirectory()) refuse(dir, 'is not a directory');
  if (strict && (st.uid !== euid || (st.mode & 0o777) !== 0o700)) refuse(dir, `must be mode 0700 and owned by uid ${euid}`);
  if (!strict && (st.uid !== 0 && st.uid !== euid)) refuse(dir, `must be owned by root or uid ${euid}`);
  if (!strict && (st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) refuse(dir, 'is writable by others');
  const up = dirname(dir);
  if (up !== dir && up !== checked) checkPrivate(up, false, checked);
}

function privateDir(dir: string, checked?: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const real = realpathSync(dir);
  checkPrivate(real, true, checked);
  return real;
}

function sameContent(file: string, bytes: Buffer): boolean {
  try {
    return readFileSync(file).equals(bytes);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** The bytes of embedded asset `name` (no copy), or undefined when not running as a single executable. */
export function seaAssetBytes(name: string): Uint8Array | undefined {
  const s = seaModule();
  return s ? new Uint8Array(s.getRawAsset(name)) : undefined;
}

/** The file holding embedded asset `name`, or undefined when not running as a single executable. */
export function seaAsset(name: string): string | undefined {
  const s = seaModule();
  if (!s) return undefined;
  hashes ??= JSON.parse(s.getAsset('sha256', 'utf8')) as Record<string, string>;
  const hash = hashes[name];
  if (!hash) throw new RuntsError('ERR_NOT_FOUND', `single executable: no asset ${name}`);
  checkedBase ??= privateDir(libDir());
  // The base and all above it were checked once; a symlink out of it is checked all the way up.
  const dir = privateDir(join(checkedBase, hash.slice(0, 32)), checkedBase);
  const file = join(dir, name);
  const bytes = Buffer.from(s.getRawAsset(name));
  if (!sameContent(file, bytes)) {
    // Written aside and renamed: a concurrent start never maps a half-written file.
    writeAtomic(file, bytes, 0o500);
  }
  return file;
}
