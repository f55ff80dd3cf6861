import { readFileSync, readdirSync } from 'node:fs';
import { nodeChildren } from '@runts/runtime';
import type { Sys, WaitStatus } from '@runts/sys';

interface Watched {
  pidfd: number;
  onExit: (status: WaitStatus) => void;
}

// The shim is a subreaper: its own children (inits, execs) are reaped through
// their pidfds, and orphans the containers leave behind by pid, so none stays
// a zombie. Node's child_process reaps its own children (hooks, loggers): spared.
export class Reaper {
  private readonly watched = new Map<number, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private sweep: NodeJS.Immediate | undefined;
  private readonly onSignal = () => this.tick();

  constructor(private readonly sys: Sys, private readonly pollMs = 1000) {}

  start(): void {
    process.on('SIGCHLD', this.onSignal);
    // SIGCHLDs coalesce; a slow poll catches anything a signal did not announce.
    this.timer = setInterval(this.onSignal, this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    process.off('SIGCHLD', this.onSignal);
    if (this.timer) clearInterval(this.timer);
    if (this.sweep) clearImmediate(this.sweep);
  }

  watch(pid: number, pidfd: number, onExit: (status: WaitStatus) => void): void {
    this.watched.set(pid, { pidfd, onExit });
    // It may be gone already; orphans wait for the next signal.
    this.reapWatched();
  }

  tick(): void {
    this.reapWatched();
    // Orphans wait for the next turn of the loop: the exits just seen go out first.
    if (this.sweep) return;
    this.sweep = setImmediate(() => {
      this.sweep = undefined;
      for (const pid of orphanZombies(new Set([...this.watched.keys(), ...nodeChildren]))) this.sys.reapPid(pid);
    });
  }

  private reapWatched(): void {
    const exited: [Watched, WaitStatus][] = [];
    for (const [pid, w] of this.watched) {
      let st: WaitStatus | null;
      try {
        st = this.sys.tryWaitPidfd(w.pidfd);
      } catch {
        st = { code: 255 };
      }
      if (!st) continue;
      this.watched.delete(pid);
      this.sys.close(w.pidfd);
      exited.push([w, st]);
    }
    for (const [w, st] of exited) w.onExit(st);
  }
}

/** Zombie children of this process that nobody watches. */
function orphanZombies(watched: Set<number>): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const t of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/self/task/${t}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const p of children.split(' ').filter(Boolean).map(Number)) {
      if (watched.has(p)) continue;
      try {
        // state is the field after the parenthesised command name
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        if (stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') out.push(p);
      } catch {
        /* gone */
      }
    }
  }
  return out;
}
