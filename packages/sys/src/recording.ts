// A Sys for tests, as youki's recording syscall double: every call is logged
// with its arguments, a test can make the Nth call of a method fail with an
// errno, and what it does not script goes to an inner Sys (or fails ENOSYS).
// A failure it makes names the method as its syscall, and a path argument:
// `mkfifo /x: EACCES (...)`, `recvMsg: EIO (...)`; it is thrown, even by
// waitPidfd, whose real failures reject.
import { sysError } from './errno';
import type { Sys } from './sys';

export interface SysCall {
  method: keyof Sys;
  args: unknown[];
  /** What it returned, if anything (fds, pids). */
  result?: unknown;
  /** The errno name it failed with, injected or from the inner Sys. */
  errno?: string;
}

const ENOSYS = 38;

export interface RecordingSys extends Sys {}

export class RecordingSys {
  readonly calls: SysCall[] = [];
  private readonly counts = new Map<string, number>();
  private readonly faults = new Map<string, { nth: number; errno: number }[]>();

  /** inner: the methods that do something (a real LinuxSys, or scripted functions). */
  constructor(private readonly inner: Partial<Sys> = {}) {
    return new Proxy(this, {
      get: (target, name, receiver) => {
        // `then` stays undefined: a RecordingSys is not a promise.
        if (typeof name !== 'string' || name in target || name === 'then') return Reflect.get(target, name, receiver) as unknown;
        return (...args: unknown[]) => target.call(name as keyof Sys, args);
      },
    });
  }

  /** The nth call (from 1) of method, counted from the start, fails with errno (a number, as the kernel's). */
  failAt(method: keyof Sys, nth: number, errno: number): this {
    this.faults.set(method, [...(this.faults.get(method) ?? []), { nth, errno }]);
    return this;
  }

  /** The methods called, in order: what a test compares. */
  methods(): string[] {
    return this.calls.map((c) => c.method);
  }

  private call(method: keyof Sys, args: unknown[]): unknown {
    const n = (this.counts.get(method) ?? 0) + 1;
    this.counts.set(method, n);
    const rec: SysCall = { method, args };
    this.calls.push(rec);
    const fault = this.faults.get(method)?.find((f) => f.nth === n);
    // A path, as LinuxSys names it in its errors.
    const path = typeof args[0] === 'string' ? args[0] : undefined;
    const fail = (errno: number) => sysError(method, errno, path, path ? { file: path } : {});
    try {
      if (fault) throw fail(fault.errno);
      const fn = this.inner[method] as ((...a: unknown[]) => unknown) | undefined;
      if (!fn) throw fail(ENOSYS);
      const result = fn.apply(this.inner, args);
      if (result !== undefined) rec.result = result;
      return result;
    } catch (e) {
      rec.errno = (e as { detail?: { errno?: string } }).detail?.errno ?? 'EIO';
      throw e;
    }
  }
}
