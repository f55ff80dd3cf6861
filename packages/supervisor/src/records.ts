// Container records: one journal per container under <state>/containers,
// <id>.jsonl, each change appended as the whole record on one line; the last
// line that parses is the record, so a kill -9 of runtsd mid-write leaves the
// previous one. Appending costs no rename: on ext4 a rename over a file starts
// the writeback of the new one (auto_da_alloc), five times per container run.
// Events from the shims are applied here.
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { shim, supervisor } from '@runts/proto';

export type Status = 'created' | 'running' | 'paused' | 'stopped' | 'unknown';

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

/** Writes data to file so that a crash leaves either the old or the new content. */
export function writeAtomic(file: string, data: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, data, { mode: 0o600 });
  // Not fsynced: a record must outlive runtsd, which the page cache sees to.
  // Only a host crash loses an unsynced write, and that takes the containers
  // too; then the record is the previous one, or unreadable and skipped by
  // load(), and either is reconciled with the (gone) shims. An fsync would
  // wait for the disk, several times per container.
  renameSync(tmp, file);
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
        const rec = lastRecord(text);
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
    appendFileSync(this.file(rec.id), JSON.stringify(rec) + '\n', { mode: 0o600 });
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

/** The last line of a journal that parses as a record. */
function lastRecord(text: string): ContainerRecord | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line) continue;
    try {
      const rec = JSON.parse(line) as ContainerRecord;
      if (rec && typeof rec === 'object' && typeof rec.id === 'string') return rec;
    } catch {
      // Cut short by a crash: the line before holds the record.
    }
  }
  return undefined;
}

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
