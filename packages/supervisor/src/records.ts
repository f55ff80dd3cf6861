// Container records: one journal (@runts/sys/journal) per container under
// <state>/containers, <id>.jsonl, each change appended as the whole record,
// so a kill -9 of runtsd mid-write leaves the previous one. Events from the
// shims are applied here.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { shim, supervisor } from '@runts/proto';
import { appendRecord, lastRecord, writeAtomic } from '@runts/sys/journal';

/** The shim's status vocabulary (proto/runts/shim/v1), lower-case as records and runtsctl show it. */
export type Status = Lowercase<shim.Status__Output>;

export interface ContainerRecord {
  id: string;
  bundle: string;
  group: string;
  terminal: boolean;
  stdin: boolean;
  autoRemove: boolean;
  /** The shim serving this container: its dir (outbox, logs, runtime root) and socket. */
  shimDir: string;
  shimSocket: string;
  shimPid: number;
  status: Status;
  pid: number;
  exitStatus: number;
  exitedAtMs: number;
  createdAtMs: number;
  startedAtMs: number;
  /** The highest event seq of the shim applied to this record (replays at or below it are skipped). */
  lastSeq: number;
  reason: string;
}

/** A journal is rewritten to its last record once it holds this many lines. */
const COMPACT_LINES = 64;

export class RecordStore {
  readonly dir: string;
  /** Lines in each journal this store has loaded or written. */
  private readonly lines = new Map<string, number>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'containers');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Every record on disk; unreadable journals are reported, not fatal. */
  load(warn: (msg: string) => void = () => {}): ContainerRecord[] {
    const out: ContainerRecord[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith('.jsonl') || name.startsWith('.')) continue;
      const file = join(this.dir, name);
      try {
        const text = readFileSync(file, 'utf8');
        const rec = lastRecord<ContainerRecord>(text, isRecord);
        if (!rec) throw new Error('no complete record in it');
        out.push(rec);
        // A line cut by a crash must not swallow the next one: start afresh.
        if (!text.endsWith('\n')) this.rewrite(rec);
        else this.lines.set(rec.id, text.split('\n').length - 1);
      } catch (e) {
        warn(`skipping record ${name}: ${(e as Error).message}`);
      }
    }
    return out.sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  }

  write(rec: ContainerRecord): void {
    const n = this.lines.get(rec.id) ?? 0;
    if (n >= COMPACT_LINES) return this.rewrite(rec);
    appendRecord(this.file(rec.id), rec);
    this.lines.set(rec.id, n + 1);
  }

  remove(id: string): void {
    rmSync(this.file(id), { force: true });
    this.lines.delete(id);
  }

  private rewrite(rec: ContainerRecord): void {
    writeAtomic(this.file(rec.id), JSON.stringify(rec) + '\n');
    this.lines.set(rec.id, 1);
  }

  private file(id: string): string {
    return join(this.dir, `${id}.jsonl`);
  }
}

const isRecord = (v: unknown) => typeof v === 'object' && v !== null && typeof (v as ContainerRecord).id === 'string';

/** The container an event is about, whatever its kind. */
export function eventContainer(env: shim.Envelope__Output): string | undefined {
  const kind = env.event;
  if (kind === undefined) return undefined;
  const body = env[kind] as { containerId?: string } | null | undefined;
  return body?.containerId || undefined;
}

/**
 * Applies one shim event to a record. Returns false when the event was
 * already applied (replay after a restart): seqs grow by one per shim.
 * A stopped container stays stopped: its exit code is final.
 */
export function applyEvent(rec: ContainerRecord, env: shim.Envelope__Output): boolean {
  if (env.seq <= rec.lastSeq) return false;
  rec.lastSeq = env.seq;
  const stopped = rec.status === 'stopped';
  switch (env.event) {
    case 'create':
      if (env.create && !stopped && rec.status !== 'running') rec.pid = env.create.pid || rec.pid;
      break;
    case 'start':
      if (env.start && !stopped) {
        rec.status = 'running';
        rec.pid = env.start.pid || rec.pid;
        rec.startedAtMs = env.timestampMs || Date.now();
      }
      break;
    case 'exit': {
      const x = env.exit;
      // Exits of execs leave the container running.
      if (x && (x.id === '' || x.id === rec.id) && !stopped) {
        rec.status = 'stopped';
        rec.exitStatus = x.exitStatus;
        rec.exitedAtMs = x.exitedAtMs || env.timestampMs || Date.now();
        rec.reason = '';
      }
      break;
    }
    case 'paused':
      if (!stopped) rec.status = 'paused';
      break;
    case 'resumed':
      if (!stopped) rec.status = 'running';
      break;
    case 'oom':
      rec.reason = 'out of memory';
      break;
    default:
      break;
  }
  return true;
}

/** Whether an exit event is the container's init (not one of its execs). */
export function isInitExit(rec: ContainerRecord, env: shim.Envelope__Output): boolean {
  return env.event === 'exit' && !!env.exit && (env.exit.id === '' || env.exit.id === rec.id);
}

export function toContainer(rec: ContainerRecord): supervisor.Container {
  return {
    id: rec.id,
    bundle: rec.bundle,
    status: rec.status,
    pid: rec.pid,
    exitStatus: rec.exitStatus,
    exitedAtMs: rec.exitedAtMs,
    createdAtMs: rec.createdAtMs,
    terminal: rec.terminal,
    group: rec.group,
    shimPid: rec.shimPid,
    reason: rec.reason,
    autoRemove: rec.autoRemove,
  };
}
