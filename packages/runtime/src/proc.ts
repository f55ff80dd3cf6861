import { readFileSync } from 'node:fs';
import { RuntsError } from '@runts/errors';
import { errnoOf, type Sys } from '@runts/sys';

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces). */
function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/** Start time in clock ticks since boot (field 22): with the pid, it names one process. */
export function startTime(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

let ownStart: string | undefined;

/** This process's start time: read once, as a shim creates many containers. */
export function ownStartTime(): string {
  return (ownStart ??= startTime(process.pid) ?? '');
}

/** Is the process that was `pid` at `start` still alive (not a zombie)? */
export function isAlive(pid: number, start: string): boolean {
  const f = statFields(pid);
  if (!f) return false;
  return f[0] !== 'Z' && f[0] !== 'X' && f[19] === start;
}

/** The mount point that holds `path`, from this process's mountinfo. */
export function mountPointOf(path: string): string | null {
  let best: string | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const point = mp.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    const inside = point === '/' || path === point || path.startsWith(point + '/');
    if (inside && (best === null || point.length > best.length)) best = point;
  }
  return best;
}

/** The id of the topmost mount at exactly `path` in this process's mountinfo (later lines mount over earlier ones), or null. */
export function topMountAt(path: string): number | null {
  let id: number | null = null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const mp = f[4]?.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === path) id = Number(f[0]);
  }
  return id;
}

/** Sleeps without the event loop: the one-shot CLI waits in short steps. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Writes a /proc knob of a child (id maps, oom_score_adj); a failure names the config field it serves. */
export function writeProc(sys: Sys, file: string, value: string, field: string): void {
  try {
    sys.writeFile(file, value);
  } catch (e) {
    const code = errnoOf(e);
    throw new RuntsError('ERR_SYSCALL', `${field}: write ${file}: ${code}`, { path: field, file, errno: code });
  }
}
