import { closeSync, openSync } from 'node:fs';
import { posix } from 'node:path';
import { RuntsError } from '@runts/errors';
import { realFs, type CgroupFs } from './fs';
import type { Manager } from './manager';

/** The syscalls an OOM watch needs; packages/sys's LinuxSys has them. */
export interface OomSys {
  eventfd(initval: number, flags: number): number;
  read(fd: number, buf: Uint8Array): number;
  close(fd: number): void;
}

const EFD_CLOEXEC = 0o2000000;
const EFD_NONBLOCK = 0o4000;

export interface OomWatch {
  /** OOM kills since the last call (0 if none); never blocks. */
  poll(): number;
  close(): void;
}

/** v1: an eventfd registered on memory.oom_control through cgroup.event_control,
 * and the oom_kill count there where the kernel keeps one.
 * v2: the oom_kill count in memory.events, read on each poll. */
export function watchOom(m: Manager, sys: OomSys, fs: CgroupFs = realFs): OomWatch {
  const paths = m.paths();
  if (m.mode === 'v2') {
    const file = posix.join(paths['']!, 'memory.events');
    const count = () => {
      try {
        return Number(/^oom_kill (\d+)$/m.exec(fs.read(file))?.[1] ?? 0);
      } catch {
        return 0;
      }
    };
    let seen = count();
    return {
      poll: () => {
        const now = count();
        const n = Math.max(0, now - seen);
        seen = Math.max(seen, now);
        return n;
      },
      close: () => undefined,
    };
  }
  const dir = Object.entries(paths).find(([k]) => k.split(',').includes('memory'))?.[1];
  if (!dir) throw new RuntsError('ERR_CGROUP', 'events: the memory controller is not available on this host');
  const control = posix.join(dir, 'memory.oom_control');
  let ocfd: number;
  try {
    ocfd = openSync(control, 'r');
  } catch (e) {
    throw new RuntsError('ERR_CGROUP', `events: open ${control}: ${(e as NodeJS.ErrnoException).code}`, { file: control });
  }
  let efd = -1;
  try {
    efd = sys.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    const reg = posix.join(dir, 'cgroup.event_control');
    try {
      fs.write(reg, `${efd} ${ocfd}`);
    } catch (e) {
      throw new RuntsError('ERR_CGROUP', `events: write ${reg}: ${(e as NodeJS.ErrnoException).code}`, { file: reg });
    }
  } catch (e) {
    if (efd >= 0) sys.close(efd);
    closeSync(ocfd);
    throw e;
  }
  const buf = new Uint8Array(8);
  let open = true;
  const notified = (): number => {
    try {
      if (sys.read(efd, buf) !== 8) return 0;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
      throw e;
    }
    // The kernel also signals when the cgroup goes away: that is no OOM.
    if (!fs.exists(posix.join(dir, 'cgroup.event_control'))) return 0;
    return Number(Buffer.from(buf).readBigUInt64LE(0));
  };
  const readControl = () => {
    try {
      return fs.read(control);
    } catch {
      return '';
    }
  };
  // Since Linux 4.13 memory.oom_control counts kills: one event per kill, as
  // on v2, where one kill can bring several notifications (a charge fails
  // again while the victim dies). The kill is counted before the victim can
  // exit, so a poll at its exit sees it.
  const kills = (text: string) => {
    const m = /^oom_kill (\d+)$/m.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  let seen = kills(readControl());
  return {
    poll: () => {
      if (!open) return 0;
      const n = notified();
      if (seen === undefined) return n;
      const text = readControl();
      const now = kills(text) ?? seen;
      const killed = Math.max(0, now - seen);
      seen = Math.max(seen, now);
      // With the OOM killer disabled nothing is killed: the notification is the event.
      if (!killed && n > 0 && /^oom_kill_disable 1$/m.test(text)) return 1;
      return killed;
    },
    close: () => {
      if (!open) return;
      open = false;
      sys.close(efd);
      closeSync(ocfd);
    },
  };
}
