import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import type { Stdio } from '@runts/runtime';
import type { Sys } from '@runts/sys';
import { RuntsError } from '@runts/errors';

export interface Output {
  stdout?: Buffer;
  stderr?: Buffer;
}

/** Where a containerd client wants a process's stdio: fifo paths or file://
 * URIs ('' for none), or sinks opened by the caller (a binary:// logger's pipes). */
export interface StdioPaths {
  stdin: string;
  stdout: string | Sink;
  stderr: string | Sink;
}

/** An output sink: a fifo (through libuv, never blocking the loop), a file or a pipe. */
export interface Sink {
  write(b: Buffer): void;
  close(): void;
}

function openSink(uri: string): Sink {
  if (uri.startsWith('file://')) {
    const fd = openSync(uri.slice('file://'.length), 'a', 0o600);
    return { write: (b) => void writeSync(fd, b), close: () => closeSync(fd) };
  }
  if (uri.includes('://')) throw new RuntsError('ERR_UNSUPPORTED', `stdio ${uri}: only fifo paths and file:// are supported`);
  // Read-write: the open never waits for a reader, and a reader that goes
  // away costs no EPIPE (the pipe fills, as with containerd's own shims).
  const s = new Socket({ fd: openSync(uri, constants.O_RDWR), readable: false, writable: true });
  s.on('error', () => s.destroy());
  return { write: (b) => void s.write(b), close: () => void s.end() };
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
  private masterStream: ReadStream | undefined;
  private readonly logFd: number | undefined;
  private readonly sinks: Partial<Record<keyof Output, Sink>> = {};
  private stdinFifo: Socket | undefined;

  private readonly attached = new Set<(o: Output) => void>();
  private open = 0;
  readonly drained: Promise<void>;
  private markDrained!: () => void;
  readonly stdio: Stdio | undefined;

  /** With paths (containerd's shim), output goes to them instead of a log, and input comes from the stdin fifo. */
  constructor(private readonly sys: Sys, readonly logPath: string, terminal: boolean, stdin: boolean, paths?: StdioPaths) {
    this.drained = new Promise((res) => (this.markDrained = res));
    if (paths) {
      try {
        const sink = (p: string | Sink) => (typeof p === 'string' ? openSink(p) : p);
        if (paths.stdout) this.sinks.stdout = sink(paths.stdout);
        // A terminal has one output: the pty's.
        if (paths.stderr && !terminal) this.sinks.stderr = sink(paths.stderr);
        if (paths.stdin) this.openStdin(paths.stdin, terminal);
      } catch (e) {
        this.closeSinks();
        throw e;
      }
    } else {
      this.logFd = openSync(logPath, 'a', 0o600);
    }
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
    // The stream owns the master: once destroyed (at its end, or EIO) the fd number is
    // not ours, and a late ResizePty must not reach it (EBADF, or another container's fd).
    this.masterStream = stream;
    stream.on('close', () => (this.master = undefined));
    this.read(stream, 'stdout');
  }

  private read(s: Socket, which: keyof Output): void {
    this.open++;
    this.streams.push(s);
    s.on('data', (b: Buffer) => {
      if (this.logFd !== undefined) writeSync(this.logFd, b);
      this.sinks[which]?.write(b);
      for (const fn of this.attached) fn({ [which]: b });
    });
    // A pty master reads EIO once the container side is closed: that is its end.
    s.on('error', () => s.destroy());
    s.on('close', () => {
      // Its reader sees EOF once the process's output is all through.
      if (--this.open === 0) {
        this.closeSinks();
        this.markDrained();
      }
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
    this.stdinFifo?.destroy();
    this.stdinFifo = undefined;
  }

  /** The client's stdin fifo, read-only so that its writer's close is EOF (then
   * the process's stdin is closed). Opened non-blocking: before a writer has
   * come, epoll reports no hang-up on a fifo, so libuv waits for it. */
  private openStdin(path: string, terminal: boolean): void {
    const s = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    s.on('data', (b: Buffer) => {
      try {
        this.write(b);
      } catch {
        // The process has closed its stdin or is gone.
      }
    });
    // A terminal's input ends with the process, not with the client's.
    s.on('end', () => (terminal ? s.destroy() : this.closeStdin()));
    s.on('error', () => s.destroy());
    this.stdinFifo = s;
  }

  private closeSinks(): void {
    for (const k of ['stdout', 'stderr'] as const) {
      this.sinks[k]?.close();
      delete this.sinks[k];
    }
  }

  resize(width: number, height: number): void {
    if (this.master !== undefined && !this.masterStream?.destroyed && width > 0 && height > 0) this.sys.setWinsize(this.master, height, width);
  }

  close(): void {
    this.spawned();
    this.closeStdin();
    for (const s of this.streams) s.destroy();
    if (this.open === 0) this.markDrained();
    this.closeSinks();
    if (this.logFd !== undefined) closeSync(this.logFd);
  }
}
