// The one-shot client's unix socket, on Node's own pipe handle rather than
// node:net: loading node:net (and the streams it is built on) and going
// through its connect is a noticeable part of a short `runtsctl run`, where
// the handle alone connects and answers at once. The handle is driven as
// node:net drives it (lib/net.js, internal/stream_base_commons); without it,
// node:net does the same job.
import { EventEmitter } from 'node:events';
import { getSystemErrorName } from 'node:util';

/** What h2.ts's Connection needs of a socket. Events: 'connect', 'data'
 * (Buffer), 'error' (with the errno name as code), then 'close' once. */
export interface ByteStream extends EventEmitter {
  write(data: Buffer): unknown;
  /** Half-closes: no more writes; the peer's end closes the socket. */
  end(): unknown;
  destroy(): unknown;
}

interface Req {
  oncomplete?: (status: number) => void;
  handle?: PipeHandle;
}

interface PipeHandle {
  connect(req: Req, path: string): number;
  readStart(): number;
  writeBuffer(req: Req, data: Buffer): number;
  shutdown(req: Req): number;
  close(cb: () => void): void;
  onread: (buf: ArrayBuffer) => void;
}

interface Bindings {
  Pipe: new (type: number) => PipeHandle;
  PipeConnectWrap: new () => Req;
  WriteWrap: new () => Req;
  ShutdownWrap: new () => Req;
  SOCKET: number;
  state: Int32Array;
  kRead: number;
  kOffset: number;
  kAsync: number;
}

let bindings: Bindings | null | undefined;

/** Node's stream bindings, or null where this Node lacks them. process.binding
 * is deprecated in the documentation only; its warning (shown under
 * --pending-deprecation) is about this code, not for runtsctl's user. */
function load(): Bindings | null {
  if (bindings === undefined) {
    const quiet = process.noDeprecation === true;
    try {
      process.noDeprecation = true;
      bindings = fromProcess();
    } catch {
      bindings = null;
    } finally {
      process.noDeprecation = quiet;
    }
  }
  return bindings;
}

function fromProcess(): Bindings | null {
  const binding = (process as unknown as { binding(name: string): unknown }).binding;
  const pipe = binding('pipe_wrap') as Pick<Bindings, 'Pipe' | 'PipeConnectWrap'> & { constants?: { SOCKET?: number } };
  const stream = binding('stream_wrap') as Pick<Bindings, 'WriteWrap' | 'ShutdownWrap'> & {
    streamBaseState?: unknown;
    kReadBytesOrError: number;
    kArrayBufferOffset: number;
    kLastWriteWasAsync: number;
  };
  const fns = [pipe.Pipe, pipe.PipeConnectWrap, stream.WriteWrap, stream.ShutdownWrap];
  if (!fns.every((f) => typeof f === 'function') || !(stream.streamBaseState instanceof Int32Array) || pipe.constants?.SOCKET === undefined) return null;
  return {
    Pipe: pipe.Pipe,
    PipeConnectWrap: pipe.PipeConnectWrap,
    WriteWrap: stream.WriteWrap,
    ShutdownWrap: stream.ShutdownWrap,
    SOCKET: pipe.constants.SOCKET,
    state: stream.streamBaseState,
    kRead: stream.kReadBytesOrError,
    kOffset: stream.kArrayBufferOffset,
    kAsync: stream.kLastWriteWasAsync,
  };
}

function errnoError(status: number, syscall: string, path: string): NodeJS.ErrnoException {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${syscall} ${code} ${path}`), { code, errno: status, syscall });
}

/** A connected stream socket on path: the pipe handle, else node:net. */
export function connectUnix(path: string): ByteStream {
  const b = load();
  return b ? new PipeSocket(b, path) : (require('node:net') as typeof import('node:net')).connect(path);
}

export class PipeSocket extends EventEmitter implements ByteStream {
  private readonly handle: PipeHandle;
  /** Writes made before the connection is up. */
  private pending: Buffer[] | undefined = [];
  /** Requests the handle still works on: each must stay referenced until done. */
  private readonly inflight = new Set<Req>();
  private ending = false;
  private closed = false;

  constructor(private readonly b: Bindings, private readonly path: string) {
    super();
    this.handle = new b.Pipe(b.SOCKET);
    const req = new b.PipeConnectWrap();
    req.oncomplete = (status) => this.connected(status);
    const err = this.handle.connect(req, path);
    if (err) process.nextTick(() => this.fail(errnoError(err, 'connect', path)));
  }

  write(data: Buffer): void {
    if (this.closed || this.ending) return;
    if (this.pending) this.pending.push(data);
    else this.send(data);
  }

  end(): void {
    if (this.closed || this.ending) return;
    this.ending = true;
    if (!this.pending) this.shutdown();
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.handle.close(() => this.emit('close'));
  }

  private connected(status: number): void {
    if (this.closed) return;
    if (status < 0) return this.fail(errnoError(status, 'connect', this.path));
    this.handle.onread = (buf) => this.read(buf);
    const err = this.handle.readStart();
    if (err) return this.fail(errnoError(err, 'read', this.path));
    // What was written before goes first, then anything the listeners write.
    const queued = this.pending ?? [];
    this.pending = undefined;
    if (queued.length) this.send(queued.length === 1 ? queued[0]! : Buffer.concat(queued));
    if (this.ending) this.shutdown();
    this.emit('connect');
  }

  private read(buf: ArrayBuffer): void {
    const n = this.b.state[this.b.kRead]!;
    if (n > 0) {
      if (!this.closed) this.emit('data', Buffer.from(buf, this.b.state[this.b.kOffset], n));
      return;
    }
    if (n === 0) return;
    // The peer's end (or a read error): the socket is done either way.
    if (getSystemErrorName(n) !== 'EOF') return this.fail(errnoError(n, 'read', this.path));
    this.destroy();
  }

  private send(data: Buffer): void {
    const req = new this.b.WriteWrap();
    req.handle = this.handle;
    req.oncomplete = (status) => {
      this.inflight.delete(req);
      if (status < 0) this.fail(errnoError(status, 'write', this.path));
    };
    const err = this.handle.writeBuffer(req, data);
    if (err) return this.fail(errnoError(err, 'write', this.path));
    // Written later by libuv: the request (and the data it points at) must live until then.
    if (this.b.state[this.b.kAsync]) this.inflight.add(Object.assign(req, { data }));
  }

  private shutdown(): void {
    const req = new this.b.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = () => this.inflight.delete(req);
    if (this.handle.shutdown(req) === 0) this.inflight.add(req);
  }

  private fail(e: NodeJS.ErrnoException): void {
    if (this.closed) return;
    this.emit('error', e);
    this.destroy();
  }
}
