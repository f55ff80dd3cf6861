// ttrpc, the RPC protocol containerd speaks to its shims (containerd/ttrpc 1.1):
// frames of a 10-byte header (u32 BE payload length, u32 BE stream id, u8
// type, u8 flags) and a protobuf Request or Response, one frame each way per
// call. Clients number their streams with odd ids; calls on one connection run
// concurrently and are answered as they finish. Messages are coded by the
// descriptor-driven codec of light.ts, so no grpc-js or protobufjs is loaded.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { codec, lookup, Status, type MessageCodec, type Namespace } from './light';

export const HEADER_LENGTH = 10;
/** The largest payload either side accepts (ttrpc's messageLengthMax). */
export const MAX_MESSAGE = 4 << 20;
export const TYPE_REQUEST = 1;
export const TYPE_RESPONSE = 2;

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  payload: Buffer;
  /** Set instead of a payload for a frame over MAX_MESSAGE: its length (its bytes were skipped). */
  oversized?: number;
}

export function encodeFrame(streamId: number, type: number, payload: Uint8Array, flags = 0): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(payload.length, 0);
  header.writeUInt32BE(streamId, 4);
  header[8] = type;
  header[9] = flags;
  return Buffer.concat([header, payload]);
}

/** Cuts a byte stream into frames, whatever the chunk boundaries. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized payload still to drop, and its frame once they are. */
  private skip = 0;
  private skipped: Frame | undefined;

  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Frame[] = [];
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buffered);
        this.take(n);
        this.skip -= n;
        if (this.skip > 0) break;
        out.push(this.skipped!);
        this.skipped = undefined;
      }
      if (this.buffered < HEADER_LENGTH) break;
      const header = this.peek(HEADER_LENGTH);
      const length = header.readUInt32BE(0);
      const frame = { streamId: header.readUInt32BE(4), type: header[8]!, flags: header[9]! };
      if (length > MAX_MESSAGE) {
        this.take(HEADER_LENGTH);
        this.skip = length;
        this.skipped = { ...frame, payload: Buffer.alloc(0), oversized: length };
        continue;
      }
      if (this.buffered < HEADER_LENGTH + length) break;
      this.take(HEADER_LENGTH);
      out.push({ ...frame, payload: this.take(length) });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        parts.push(c);
        this.chunks.shift();
        need -= c.length;
      } else {
        parts.push(c.subarray(0, need));
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }
}

export interface CallContext {
  /** Request metadata; containerd sends the namespace as containerd-namespace-ttrpc. */
  metadata: Map<string, string[]>;
}

// Handlers take and return objects in the shapes of the generated __Output types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TtrpcHandler = (req: any, ctx: CallContext) => unknown;

/** What a handler's throw becomes on the wire: a gRPC status code and one line. */
export type ToStatus = (e: unknown) => { code: number; details?: string };

interface Method {
  req: MessageCodec;
  res: MessageCodec;
  fn: TtrpcHandler | undefined;
}

/** A method's full request and response type names, from the descriptor. */
function methodsOf(service: string): Map<string, { requestType: string; responseType: string }> {
  const { def, path } = lookup(service, []);
  const methods = (def as Namespace).methods;
  if (!methods) throw new Error(`ttrpc: ${service} is not a service`);
  const scope = path.slice(0, -1);
  const full = (t: string) => lookup(t, scope).path.join('.');
  return new Map(Object.entries(methods).map(([m, d]) => [m, { requestType: full(d.requestType), responseType: full(d.responseType) }]));
}

const requestCodec = () => codec('ttrpc.Request');
const responseCodec = () => codec('ttrpc.Response');

export class TtrpcServer {
  private readonly services = new Map<string, Map<string, Method>>();
  private readonly conns = new Set<Socket>();
  private server: Server | undefined;
  private gate: Promise<void> = Promise.resolve();

  constructor(private readonly toStatus: ToStatus) {}

  /** Requests wait for ready before they are dispatched: a server may listen
   * (and so claim its address) before its services are there. */
  holdUntil(ready: Promise<void>): void {
    this.gate = ready;
  }

  /** Serves a service of proto/ by its full name; a method without a handler answers Unimplemented. */
  addService(name: string, handlers: Record<string, TtrpcHandler>): void {
    const methods = new Map<string, Method>();
    for (const [m, t] of methodsOf(name)) methods.set(m, { req: codec(t.requestType), res: codec(t.responseType), fn: handlers[m] });
    for (const m of Object.keys(handlers)) if (!methods.has(m)) throw new Error(`ttrpc: ${name} has no method ${m}`);
    this.services.set(name, methods);
  }

  listen(path: string): Promise<void> {
    const server = createServer((s) => this.serve(s));
    this.server = server;
    return new Promise((res, rej) => {
      server.once('error', rej);
      server.listen(path, () => {
        server.off('error', rej);
        res();
      });
    });
  }

  /** Serves one connection (the listener's, or any duplex socket). */
  serve(socket: Socket): void {
    this.conns.add(socket);
    const reader = new FrameReader();
    const send = (streamId: number, status: { code: number; message: string }, payload?: Buffer) => {
      if (socket.destroyed) return;
      let body = responseCodec().encode({ status, payload: payload ?? Buffer.alloc(0) });
      if (body.length > MAX_MESSAGE) {
        body = responseCodec().encode({ status: { code: Status.RESOURCE_EXHAUSTED, message: `response of ${body.length} bytes exceeds the maximum message size of ${MAX_MESSAGE}` } });
      }
      socket.write(encodeFrame(streamId, TYPE_RESPONSE, body));
    };
    socket.on('data', (chunk: Buffer) => {
      for (const f of reader.push(chunk)) void this.gate.then(() => this.dispatch(f, send));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.conns.delete(socket));
  }

  private dispatch(f: Frame, send: (id: number, status: { code: number; message: string }, payload?: Buffer) => void): void {
    if (f.oversized !== undefined) {
      return send(f.streamId, { code: Status.RESOURCE_EXHAUSTED, message: `message length ${f.oversized} exceeds the maximum message size of ${MAX_MESSAGE}` });
    }
    // Other types are for later protocol versions: ignored, as ttrpc does.
    if (f.type !== TYPE_REQUEST) return;
    let req: { service: string; method: string; payload: Buffer; timeoutNano: number; metadata: { key: string; value: string }[] };
    try {
      req = requestCodec().decode(f.payload) as typeof req;
    } catch (e) {
      return send(f.streamId, { code: Status.INVALID_ARGUMENT, message: `unmarshal request: ${(e as Error).message}` });
    }
    if (f.streamId % 2 !== 1) return send(f.streamId, { code: Status.INVALID_ARGUMENT, message: 'stream id must be odd for client-initiated streams' });
    const method = this.services.get(req.service)?.get(req.method);
    if (!method?.fn) return send(f.streamId, { code: Status.UNIMPLEMENTED, message: `${req.service}/${req.method} is not implemented` });
    const metadata = new Map<string, string[]>();
    for (const { key, value } of req.metadata) metadata.set(key, [...(metadata.get(key) ?? []), value]);
    let done = false;
    const answer = (status: { code: number; message: string }, payload?: Buffer) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      send(f.streamId, status, payload);
    };
    const timer = req.timeoutNano > 0
      ? setTimeout(() => answer({ code: Status.DEADLINE_EXCEEDED, message: `${req.method} took longer than its ${req.timeoutNano / 1e6} ms timeout` }), req.timeoutNano / 1e6)
      : undefined;
    Promise.resolve()
      .then(() => method.fn!(method.req.decode(req.payload), { metadata }))
      .then(
        (res) => answer({ code: Status.OK, message: '' }, method.res.encode((res ?? {}) as Record<string, unknown>)),
        (e: unknown) => {
          const st = this.toStatus(e);
          answer({ code: st.code, message: st.details ?? '' });
        },
      );
  }

  /** Stops listening and drops every connection. */
  close(): void {
    this.server?.close();
    for (const s of this.conns) s.destroy();
  }
}

export class TtrpcError extends Error {
  constructor(readonly code: number, readonly details: string) {
    super(details);
  }
}

interface Pending {
  res: MessageCodec;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/** A ttrpc client on one connection: calls by full service name, as objects. */
export class TtrpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly reader = new FrameReader();
  private closedWith: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const f of this.reader.push(chunk)) this.answer(f);
    });
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('ttrpc: connection closed')));
  }

  static connect(path: string): Promise<TtrpcClient> {
    return new Promise((res, rej) => {
      const s = connect(path);
      s.once('error', rej);
      s.once('connect', () => {
        s.off('error', rej);
        res(new TtrpcClient(s));
      });
    });
  }

  /** Wraps a socket already connected (tests). */
  static over(socket: Socket): TtrpcClient {
    return new TtrpcClient(socket);
  }

  call<Res>(service: string, method: string, req: object, opts: { metadata?: Record<string, string>; timeoutMs?: number } = {}): Promise<Res> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const m = methodsOf(service).get(method);
    if (!m) return Promise.reject(new Error(`ttrpc: ${service} has no method ${method}`));
    const id = this.nextId;
    this.nextId += 2;
    const body = requestCodec().encode({
      service, method, payload: codec(m.requestType).encode(req as Record<string, unknown>),
      timeoutNano: (opts.timeoutMs ?? 0) * 1e6,
      metadata: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    });
    return new Promise<Res>((resolve, reject) => {
      this.pending.set(id, { res: codec(m.responseType), resolve: resolve as (v: unknown) => void, reject });
      this.socket.write(encodeFrame(id, TYPE_REQUEST, body));
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private answer(f: Frame): void {
    const p = this.pending.get(f.streamId);
    if (!p || f.type !== TYPE_RESPONSE) return;
    this.pending.delete(f.streamId);
    if (f.oversized !== undefined) return p.reject(new TtrpcError(Status.RESOURCE_EXHAUSTED, `response of ${f.oversized} bytes exceeds the maximum message size`));
    try {
      const r = responseCodec().decode(f.payload) as { status: { code: number; message: string } | null; payload: Buffer };
      if (r.status && r.status.code !== Status.OK) p.reject(new TtrpcError(r.status.code, r.status.message));
      else p.resolve(p.res.decode(r.payload));
    } catch (e) {
      p.reject(e as Error);
    }
  }

  private fail(e: Error): void {
    this.closedWith ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
