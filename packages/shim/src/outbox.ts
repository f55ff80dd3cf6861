import { closeSync, existsSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { shim } from '@runts/proto';

/** An event as published: the envelope's topic and one event field. */
export type EventBody = Omit<shim.Envelope, 'seq' | 'timestampMs'>;
export type Envelope = EventBody & { seq: number; timestampMs: number };

// Events survive the supervisor and the shim: each is appended before anyone
// hears of it, and dropped only once the supervisor acknowledges it. Written
// data outlives any process; it is not fsynced, since only a host crash would
// lose it and that takes the containers with it (containerd's shims keep
// their events in memory only). Each fsync cost 0.2-1.3 ms of a run.
export class Outbox {
  private readonly file: string;
  private readonly ackFile: string;
  private events: Envelope[];
  private acked: number;
  private nextSeq: number;
  private fd: number;
  private readonly listeners = new Set<(e: Envelope) => void>();

  constructor(dir: string) {
    this.file = join(dir, 'outbox.jsonl');
    this.ackFile = join(dir, 'acked');
    this.acked = existsSync(this.ackFile) ? Number(readFileSync(this.ackFile, 'utf8').trim()) || 0 : 0;
    this.events = existsSync(this.file)
      ? readFileSync(this.file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Envelope).filter((e) => e.seq > this.acked)
      : [];
    this.nextSeq = Math.max(this.acked, ...this.events.map((e) => e.seq)) + 1;
    this.fd = openSync(this.file, 'a', 0o600);
  }

  publish(body: EventBody): Envelope {
    const e: Envelope = { seq: this.nextSeq++, timestampMs: Date.now(), ...body };
    writeSync(this.fd, JSON.stringify(e) + '\n');
    this.events.push(e);
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Unacknowledged events after seq, oldest first. */
  since(after: number): Envelope[] {
    return this.events.filter((e) => e.seq > after);
  }

  /** Live events from now on; returns the unsubscribe. */
  listen(fn: (e: Envelope) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  ack(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = Math.min(seq, this.nextSeq - 1);
    writeAtomic(this.ackFile, String(this.acked));
    this.events = this.events.filter((e) => e.seq > this.acked);
    // Rewrite the outbox without what was delivered.
    closeSync(this.fd);
    writeAtomic(this.file, this.events.map((e) => JSON.stringify(e) + '\n').join(''));
    this.fd = openSync(this.file, 'a', 0o600);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** A shim dying mid-write leaves the old file or the new one. */
function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}
