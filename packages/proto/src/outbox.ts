// The shim's durable outbox, as the shim writes it and runtsd reads a dead
// shim's: one JSON line per event Envelope, and an ack line `{"acked":N}` for
// each acknowledgement. Acks are appended rather than rewriting the file (two
// renames on the path from create to start); the shim compacts it now and then.

/** The line that records every event up to seq as delivered. */
export function ackLine(seq: number): string {
  return `{"acked":${seq}}\n`;
}

export interface OutboxContents<E> {
  /** Events after the last ack, oldest first. */
  events: E[];
  /** The highest seq acknowledged (0 if none). */
  acked: number;
  /** The highest seq in the file, acknowledged or not. */
  lastSeq: number;
  lines: number;
}

export function parseOutbox<E extends { seq: number }>(text: string): OutboxContents<E> {
  let acked = 0;
  let lastSeq = 0;
  let lines = 0;
  const all: E[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let v: E | { acked: number };
    try {
      v = JSON.parse(line) as E | { acked: number };
    } catch {
      // A line cut by the shim's death: everything before it is complete.
      continue;
    }
    lines++;
    if ('acked' in v) {
      acked = Math.max(acked, v.acked);
    } else {
      all.push(v);
      lastSeq = Math.max(lastSeq, v.seq);
    }
  }
  const events = all.filter((e) => e.seq > acked).sort((a, b) => a.seq - b.seq);
  return { events, acked, lastSeq: Math.max(lastSeq, acked), lines };
}
