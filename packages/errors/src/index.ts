// One error type for the whole stack: made where the failure happens,
// carried up unchanged, printed once by a main.

export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_SYSCALL'
  | 'ERR_NOT_FOUND'
  | 'ERR_EXISTS'
  | 'ERR_INVALID_ID'
  | 'ERR_BAD_STATE'
  | 'ERR_HOOK'
  | 'ERR_UNSUPPORTED'
  | 'ERR_USAGE'
  | 'ERR_CGROUP'
  | 'ERR_UNSAFE_DIR'
  | 'ERR_IO';

export interface ErrorDetail {
  /** JSON path in config.json the failure came from, e.g. `mounts[2].destination`. */
  path?: string;
  /** Syscall or operation name, e.g. `mount`. */
  syscall?: string;
  /** errno name, e.g. `EPERM`. */
  errno?: string;
  /** File the failure concerns. */
  file?: string;
}

export class RuntsError extends Error {
  readonly code: ErrorCode;
  readonly detail: ErrorDetail;

  constructor(code: ErrorCode, message: string, detail: ErrorDetail = {}) {
    super(message);
    this.name = 'RuntsError';
    this.code = code;
    this.detail = detail;
  }
}

/** A config error: the message starts with the JSON path, as users see it. */
export function configError(path: string, message: string): RuntsError {
  return new RuntsError('ERR_CONFIG_INVALID', `${path}: ${message}`, { path });
}

export function isRuntsError(e: unknown): e is RuntsError {
  return e instanceof RuntsError;
}
