import { closeSync, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import type { Stdio } from '@runts/runtime';
import type { Sys } from '@runts/sys';

export interface Output {
  stdout?: Buffer;
  stderr?: Buffer;
}

// One process's stdio, owned by the shim: output goes to a log file and to
// whoever is attached; input comes from an attached client (or /dev/null).
// Pipes and the pty master are read through libuv's poller, not the thread pool.
export class ProcessIO {
  /** Ends handed to the container, closed here once it has them. */
  private childEnds: number[] = [];
  private readonly streams: Socket[] = [];
  private stdinFd: number | undefined;
  private master: number | undefined;
  private readonly logFd: number;
  private readonly attached = new Set<(o: Output) => void>();
  private open = 0;
  readonly drained: Promise<void>;
  private markDrained!: () => void;
  readonly stdio: Stdio | undefined;

  constructor(private readonly sys: Sys, readonly logPath: string, terminal: boolean, stdin: boolean) {
    this.logFd = openSync(logPath, 'a', 0o600);
    this.drained = new Promise((res) => (this.markDrained = res));
    if (terminal) {
      this.stdio = undefined;
      return;
    }
    let inFd: number;
    if (stdin) {
      const [r, w] = sys.pipe();
      inFd = r;
      this.stdinFd = w;
      this.childEnds.push(r);
    } else {
      inFd = openSync('/dev/null', 'r');
      this.childEnds.push(inFd);
    }
    const [outR, outW] = sys.pipe();
    const [errR, errW] = sys.pipe();
    this.childEnds.push(outW, errW);
    this.stdio = [inFd, outW, errW];
    this.read(new Socket({ fd: outR, readable: true, writable: false }), 'stdout');
    this.read(new Socket({ fd: errR, readable: true, writable: false }), 'stderr');
  }

  /** The container has its ends now (or failed to start). */
  spawned(master?: number): void {
    for (const fd of this.childEnds) this.sys.close(fd);
    this.childEnds = [];
    if (master === undefined) return;
    this.master = master;
    const stream = new ReadStream(master);
    // The stream owns the master: once it closes, the fd number is not ours.
    stream.on('close', () => (this.master = undefined));
    this.read(stream, 'stdout');
  }

  private read(s: Socket, which: keyof Output): void {
    this.open++;
    this.streams.push(s);
    s.on('data', (b: Buffer) => {
      writeSync(this.logFd, b);
      for (const fn of this.attached) fn({ [which]: b });
    });
    // A pty master reads EIO once the container side is closed: that is its end.
    s.on('error', () => s.destroy());
    s.on('close', () => {
      if (--this.open === 0) this.markDrained();
    });
  }

  /** Live output from now on; returns the detach. */
  attach(fn: (o: Output) => void): () => void {
    this.attached.add(fn);
    return () => this.attached.delete(fn);
  }

  write(data: Buffer): void {
    const fd = this.master ?? this.stdinFd;
    if (fd === undefined) return;
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  }

  closeStdin(): void {
    if (this.stdinFd !== undefined) this.sys.close(this.stdinFd);
    this.stdinFd = undefined;
  }

  resize(width: number, height: number): void {
    if (this.master !== undefined && width > 0 && height > 0) this.sys.setWinsize(this.master, height, width);
  }

  close(): void {
    this.spawned();
    this.closeStdin();
    for (const s of this.streams) s.destroy();
    if (this.open === 0) this.markDrained();
    closeSync(this.logFd);
  }
}
