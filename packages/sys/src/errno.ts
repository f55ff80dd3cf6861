import { RuntsError } from '@runts/errors';

let names: Map<number, string> | undefined;

/** `EPERM` for 1; `errno 1234` for numbers the platform does not name. */
export function errnoName(errno: number): string {
  if (!names) {
    // node:os is loaded only when a failure needs its table: no start pays for it.
    names = new Map();
    for (const [name, num] of Object.entries((require('node:os') as typeof import('node:os')).constants.errno)) {
      if (!names.has(num)) names.set(num, name);
    }
  }
  return names.get(errno) ?? `errno ${errno}`;
}

/** The one-line error for a failed syscall: `mount /x: EPERM (Operation not permitted)`. */
export function sysError(syscall: string, errno: number, what?: string, extra: { path?: string; file?: string } = {}): RuntsError {
  const name = errnoName(errno);
  const target = what ? ` ${what}` : '';
  return new RuntsError('ERR_SYSCALL', `${syscall}${target}: ${name} (${strerror(errno)})`, {
    syscall,
    errno: name,
    ...extra,
  });
}

// Short descriptions for the errnos a runtime sees most; others print their name only.
const messages: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ESRCH: 'no such process',
  EINTR: 'interrupted system call',
  EIO: 'input/output error',
  E2BIG: 'argument list too long',
  EBADF: 'bad file descriptor',
  ECHILD: 'no child processes',
  EAGAIN: 'resource temporarily unavailable',
  ENOMEM: 'cannot allocate memory',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy',
  EEXIST: 'file exists',
  ENODEV: 'no such device',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'file name too long',
  ENOSYS: 'function not implemented',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'invalid cross-device link',
  ETIMEDOUT: 'timed out',
  EUSERS: 'too many users',
  EOPNOTSUPP: 'operation not supported',
  ENXIO: 'no such device or address',
};

export function strerror(errno: number): string {
  return messages[errnoName(errno)] ?? errnoName(errno);
}

/** The errno name a failure carries: a RuntsError's, or a Node error's code. */
export function errnoOf(e: unknown, fallback = 'EIO'): string {
  const err = e as { code?: unknown; detail?: { errno?: string } } | null;
  return err?.detail?.errno ?? (typeof err?.code === 'string' ? err.code : fallback);
}
