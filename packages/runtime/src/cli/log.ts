import { appendFileSync } from 'node:fs';

/** Errors go to stderr once, and with --log also to the file: one line each,
 * JSON (`{"level","msg","time"}`, what containerd and conmon parse) or logrus-like text. */
export class Logger {
  constructor(
    private readonly file: string | undefined,
    private readonly format: 'text' | 'json',
    private readonly debugOn: boolean,
    private readonly stderr: (s: string) => void = (s) => process.stderr.write(s),
  ) {}

  error(msg: string): void {
    msg = clip(msg);
    this.stderr(`runts: ${msg}\n`);
    this.toFile('error', msg);
  }

  warn(msg: string): void {
    msg = clip(msg);
    this.stderr(`runts: warning: ${msg}\n`);
    this.toFile('warning', msg);
  }

  debug(msg: string): void {
    if (!this.debugOn) return;
    this.stderr(`runts: debug: ${msg}\n`);
    this.toFile('debug', msg);
  }

  private toFile(level: string, msg: string): void {
    if (!this.file) return;
    const time = new Date().toISOString();
    const line = this.format === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    try {
      appendFileSync(this.file, line + '\n');
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
