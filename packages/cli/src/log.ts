import { appendFileSync, writeSync } from 'node:fs';
import { isoTime } from './time';

/** Writes all of s to fd, without process.stdout or process.stderr: making
 * those loads node:stream, a cost every one-shot command would pay (bench/NOTES.md). */
export function writeAll(fd: number, s: string | Uint8Array): void {
  const buf = typeof s === 'string' ? Buffer.from(s) : s;
  for (let off = 0; off < buf.length; ) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
      // A full pipe that its owner made non-blocking: give the reader a moment.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** Errors go to stderr once, each line led by the program's name, and with
 * --log also to the file: one line each, JSON (`{"level","msg","time"}`, what
 * containerd and conmon parse) or logrus-like text.
 * With --debug, debug lines go to the log (stderr without --log, as runc's), each
 * with `ms`: milliseconds since this process started. */
export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: 'text' | 'json',
    private readonly debugOn: boolean,
    private readonly stderr: (s: string) => void,
    private readonly prog = 'runts',
  ) {}

  error(msg: string): void {
    msg = clip(msg);
    this.stderr(`${this.prog}: ${msg}\n`);
    this.toFile('error', msg);
  }

  warn(msg: string): void {
    msg = clip(msg);
    this.stderr(`${this.prog}: warning: ${msg}\n`);
    this.toFile('warning', msg);
  }

  /** What a resident process reports as it goes (runtsd's start and stop). */
  info(msg: string): void {
    msg = clip(msg);
    this.stderr(`${this.prog}: ${msg}\n`);
    this.toFile('info', msg);
  }

  get debugging(): boolean {
    return this.debugOn;
  }

  debug(msg: string): void {
    if (!this.debugOn) return;
    const ms = Math.round(process.uptime() * 10_000) / 10;
    if (this.file) this.toFile('debug', msg, ms);
    else this.stderr(this.line('debug', msg, ms) + '\n');
  }

  private line(level: string, msg: string, ms?: number): string {
    const time = isoTime();
    if (this.format === 'json') return JSON.stringify(ms === undefined ? { level, msg, time } : { level, msg, ms, time });
    return `time="${time}" level=${level} msg=${JSON.stringify(msg)}${ms === undefined ? '' : ` ms=${ms}`}`;
  }

  private toFile(level: string, msg: string, ms?: number): void {
    if (!this.file) return;
    try {
      appendFileSync(this.file, this.line(level, msg, ms) + '\n');
    } catch {
      // A log file we cannot write must not hide the error itself.
    }
  }
}

const MAX = 1000;

/** A 10 MB value quoted in an error must not become a 10 MB log line; the JSON path comes first and stays. */
export function clip(msg: string): string {
  return msg.length <= MAX ? msg : `${msg.slice(0, MAX)}… (${msg.length - MAX} more bytes)`;
}
