import { closeSync, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { shim } from '@runts/proto';
import { ackLine, parseOutbox } from '@runts/proto/outbox';
import { writeAtomic } from '@runts/sys/journal';

/** An event as published: the envelope's topic and one event field. */
export type EventBody = Omit<shim.Envelope, 'seq' | 'timestampMs'>;
export type Envelope = EventBody & { seq: number; timestampMs: number };

// Events survive the supervisor and the shim: each is appended before anyone
// hears of it, and dropped only once the supervisor acknowledges it (not
// fsynced: @runts/sys/journal says why). An ack is one appended line; what was delivered is dropped from the file
// only once COMPACT_LINES lines have piled up.
const COMPACT_LINES = 1024;

export class Outbox {
  private readonly file: string;
  private events: Envelope[];
  private acked: number;
  private nextSeq: number;
  private lines: number;
  private fd: number;
  private readonly listeners = new Set<(e: Envelope) => void>();

  constructor(dir: string) {
    this.file = join(dir, 'outbox.jsonl');
    const text = existsSync(this.file) ? readFileSync(this.file, 'utf8') : '';
    const found = parseOutbox<Envelope>(text);
    this.events = found.events;
    this.acked = found.acked;
    this.nextSeq = found.lastSeq + 1;
    this.lines = found.lines;
    this.fd = openSync(this.file, 'a', 0o600);
    // A line cut by a crash must not swallow the next one.
    if (text && !text.endsWith('\n')) writeSync(this.fd, '\n');
  }

  publish(body: EventBody): Envelope {
    const e: Envelope = { seq: this.nextSeq++, timestampMs: Date.now(), ...body };
    this.append(JSON.stringify(e) + '\n');
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
    this.events = this.events.filter((e) => e.seq > this.acked);
    if (this.lines < COMPACT_LINES) return this.append(ackLine(this.acked));
    // The ack line keeps the seq counter when no event is left. A shim dying
    // mid-write leaves the old file or the new one.
    writeAtomic(this.file, this.events.map((e) => JSON.stringify(e) + '\n').join('') + ackLine(this.acked));
    closeSync(this.fd);
    this.fd = openSync(this.file, 'a', 0o600);
    this.lines = this.events.length + 1;
  }

  close(): void {
    closeSync(this.fd);
  }

  private append(line: string): void {
    writeSync(this.fd, line);
    this.lines++;
  }
}
