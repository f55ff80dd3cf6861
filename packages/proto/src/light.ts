// A gRPC client for one-shot commands (runtsctl): our own HTTP/2 (h2.ts) and a
// protobuf codec driven by the descriptor generated from proto/, instead of
// grpc-js and protobufjs, whose loading would weigh on every start. Calls and
// objects have the shapes of grpc-js with @grpc/proto-loader's options (see
// index.ts), so the generated client types describe them.
import { EventEmitter } from 'node:events';
import { DESCRIPTOR } from './gen/descriptor';
import { CANCEL, Connection, type Stream, type StreamFailure } from './h2';
import type { Header } from './hpack';
import { connectUnix } from './pipe';

/** gRPC status codes (the gRPC spec's numbering, as grpc-js's `status`). */
export const Status = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const;

export interface CallError extends Error {
  code: number;
  details: string;
}

export interface Namespace {
  nested?: Record<string, Namespace>;
  fields?: Record<string, { type: string; id: number; rule?: string }>;
  oneofs?: Record<string, { oneof: string[] }>;
  values?: Record<string, number>;
  methods?: Record<string, { requestType: string; responseType: string; requestStream?: boolean; responseStream?: boolean }>;
}

type Obj = Record<string, unknown>;

/** Finds a type by its (possibly relative) name, from scope outwards, as protobuf does. */
export function lookup(name: string, scope: string[]): { def: Namespace; path: string[] } {
  const parts = name.split('.');
  for (let n = scope.length; n >= 0; n--) {
    let def: Namespace | undefined = DESCRIPTOR as Namespace;
    const path = [...scope.slice(0, n), ...parts];
    for (const p of path) def = def?.nested?.[p];
    if (def) return { def, path };
  }
  throw new Error(`proto: unknown type ${name}`);
}

const VARINT = new Set(['bool', 'int32', 'uint32', 'int64', 'uint64', 'enum']);

interface FieldCodec {
  name: string;
  id: number;
  type: string;
  repeated: boolean;
  oneof?: string;
  message?: () => MessageCodec;
  values?: Record<string, number>;
}

export class MessageCodec {
  private readonly fields: FieldCodec[] = [];
  private readonly byId = new Map<number, FieldCodec>();

  constructor(def: Namespace, path: string[]) {
    const scope = path.slice(0, -1);
    const oneofOf = new Map(Object.entries(def.oneofs ?? {}).flatMap(([o, { oneof }]) => oneof.map((f) => [f, o] as const)));
    for (const [name, f] of Object.entries(def.fields ?? {})) {
      const fc: FieldCodec = { name, id: f.id, type: f.type, repeated: f.rule === 'repeated' };
      const one = oneofOf.get(name);
      if (one) fc.oneof = one;
      if (!['string', 'bytes', ...VARINT].includes(f.type)) {
        const t = lookup(f.type, scope);
        if (t.def.values) {
          fc.type = 'enum';
          fc.values = t.def.values;
        } else if (t.def.fields || !t.def.nested) {
          fc.message = () => codec(t.path.join('.'));
        } else {
          throw new Error(`proto: field ${name} has type ${f.type}, which this codec does not know`);
        }
      }
      this.fields.push(fc);
      this.byId.set(f.id, fc);
    }
  }

  encode(obj: Obj): Buffer {
    const out: Buffer[] = [];
    for (const f of this.fields) {
      const v = obj[f.name];
      if (v === undefined || v === null) continue;
      for (const item of f.repeated ? (v as unknown[]) : [v]) {
        if (!f.repeated && !f.oneof && isDefault(f, item)) continue;
        if (f.message) {
          const body = f.message().encode(item as Obj);
          out.push(varint(BigInt((f.id << 3) | 2)), varint(BigInt(body.length)), body);
        } else if (f.type === 'string' || f.type === 'bytes') {
          const body = f.type === 'string' ? Buffer.from(String(item)) : Buffer.from(item as Uint8Array);
          out.push(varint(BigInt((f.id << 3) | 2)), varint(BigInt(body.length)), body);
        } else {
          const n = f.type === 'enum' && typeof item === 'string' ? (f.values?.[item] ?? 0) : f.type === 'bool' ? Number(Boolean(item)) : Number(item);
          out.push(varint(BigInt(f.id << 3)), varint(BigInt.asUintN(64, BigInt(Math.trunc(n)))));
        }
      }
    }
    return Buffer.concat(out);
  }

  decode(buf: Buffer): Obj {
    const obj: Obj = {};
    for (const f of this.fields) if (!f.oneof) obj[f.name] = f.repeated ? [] : defaultOf(f);
    const r = { buf, pos: 0 };
    while (r.pos < buf.length) {
      const key = Number(readVarint(r));
      const f = this.byId.get(key >>> 3);
      const wire = key & 7;
      let value: unknown;
      if (wire === 0) {
        const n = readVarint(r);
        if (!f) continue;
        value = f.type === 'bool' ? n !== 0n
          : f.type === 'enum' ? (Object.entries(f.values ?? {}).find(([, x]) => BigInt(x) === n)?.[0] ?? Number(n))
          : f.type === 'int32' ? Number(BigInt.asIntN(32, n))
          : f.type === 'uint32' ? Number(BigInt.asUintN(32, n))
          : f.type === 'int64' ? Number(BigInt.asIntN(64, n)) : Number(n);
      } else if (wire === 2) {
        const len = Number(readVarint(r));
        const body = buf.subarray(r.pos, r.pos + len);
        r.pos += len;
        if (!f) continue;
        value = f.message ? f.message().decode(body) : f.type === 'string' ? body.toString() : Buffer.from(body);
      } else {
        r.pos += wire === 1 ? 8 : wire === 5 ? 4 : Infinity;
        continue;
      }
      if (f.repeated) (obj[f.name] as unknown[]).push(value);
      else obj[f.name] = value;
      if (f.oneof) obj[f.oneof] = f.name;
    }
    return obj;
  }
}

function isDefault(f: FieldCodec, v: unknown): boolean {
  if (f.message) return false;
  if (f.type === 'string') return v === '';
  if (f.type === 'bytes') return (v as Uint8Array).length === 0;
  if (f.type === 'enum') return v === 0 || (typeof v === 'string' && f.values?.[v] === 0);
  return !v;
}

function defaultOf(f: FieldCodec): unknown {
  if (f.message) return null;
  if (f.type === 'string') return '';
  if (f.type === 'bytes') return Buffer.alloc(0);
  if (f.type === 'bool') return false;
  if (f.type === 'enum') return Object.entries(f.values ?? {}).find(([, x]) => x === 0)?.[0] ?? 0;
  return 0;
}

function varint(n: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let b = Number(n & 0x7fn);
    n >>= 7n;
    if (n) b |= 0x80;
    bytes.push(b);
  } while (n);
  return Buffer.from(bytes);
}

function readVarint(r: { buf: Buffer; pos: number }): bigint {
  let n = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const b = r.buf[r.pos++];
    if (b === undefined) throw new Error('proto: truncated message');
    n |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return n;
  }
}

const codecs = new Map<string, MessageCodec>();
/** The codec of a message type by its full name (ttrpc uses it too). */
export function codec(fullName: string): MessageCodec {
  let c = codecs.get(fullName);
  if (!c) {
    const path = fullName.split('.');
    c = new MessageCodec(lookup(fullName, []).def, path);
    codecs.set(fullName, c);
  }
  return c;
}

function callError(code: number, details: string): CallError {
  const name = Object.entries(Status).find(([, c]) => c === code)?.[0] ?? 'UNKNOWN';
  return Object.assign(new Error(`${code} ${name}: ${details}`), { code, details });
}

/** gRPC's codes for an HTTP status that came without a grpc-status. */
function httpStatusCode(status: number): number {
  if (status === 400) return Status.INTERNAL;
  if (status === 401) return Status.UNAUTHENTICATED;
  if (status === 403) return Status.PERMISSION_DENIED;
  if (status === 404) return Status.UNIMPLEMENTED;
  if ([429, 502, 503, 504].includes(status)) return Status.UNAVAILABLE;
  return Status.UNKNOWN;
}

/** gRPC's codes for a stream the server reset. */
function rstCode(code: number): number {
  if (code === 7) return Status.UNAVAILABLE; // REFUSED_STREAM
  if (code === CANCEL) return Status.CANCELLED;
  if (code === 11) return Status.RESOURCE_EXHAUSTED; // ENHANCE_YOUR_CALM
  if (code === 12) return Status.PERMISSION_DENIED; // INADEQUATE_SECURITY
  return Status.INTERNAL;
}

/** One call's HTTP/2 stream: messages out, messages and a status in. */
class Call extends EventEmitter {
  private pending: Buffer = Buffer.alloc(0);
  private status: { code: number; details: string } | undefined;
  private httpStatus = 200;

  constructor(private readonly stream: Stream, private readonly req: MessageCodec, res: MessageCodec) {
    super();
    stream.on('headers', (headers: Header[]) => {
      let code: number | undefined;
      let details = '';
      for (const [name, value] of headers) {
        if (name === ':status') this.httpStatus = Number(value);
        else if (name === 'grpc-status') code = Number(value);
        else if (name === 'grpc-message') details = decodeURIComponent(value);
      }
      if (code !== undefined) this.status = { code, details };
    });
    stream.on('data', (chunk: Buffer) => {
      this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
      while (this.pending.length >= 5) {
        const len = this.pending.readUInt32BE(1);
        if (this.pending.length < 5 + len) break;
        const msg = this.pending.subarray(5, 5 + len);
        this.pending = this.pending.subarray(5 + len);
        this.emit('data', res.decode(msg));
      }
    });
    // The call ends with the server's side (its trailers), whether or not we
    // half-closed ours, as in grpc-js; a stream that just closes failed.
    stream.on('close', (failure?: StreamFailure) => {
      const status = this.status ?? this.statusWithout(failure);
      if (status.code === Status.OK) this.emit('end');
      else this.emit('error', callError(status.code, status.details));
      this.emit('status', status);
    });
  }

  /** The status of a call that ended without grpc-status. */
  private statusWithout(failure: StreamFailure | undefined): { code: number; details: string } {
    if (failure?.reason === 'reset') return { code: rstCode(failure.rstCode), details: failure.message };
    if (failure?.reason === 'cancelled') return { code: Status.CANCELLED, details: failure.message };
    if (failure) return { code: Status.UNAVAILABLE, details: failure.message };
    if (this.httpStatus !== 200) return { code: httpStatusCode(this.httpStatus), details: `HTTP status ${this.httpStatus}` };
    return { code: Status.UNAVAILABLE, details: 'the connection closed without a status' };
  }

  write(obj: Obj): boolean {
    const body = this.req.encode(obj);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(body.length, 1);
    this.stream.write(Buffer.concat([head, body]));
    return true;
  }

  end(): void {
    this.stream.end();
  }

  cancel(): void {
    this.stream.reset(CANCEL);
  }
}

/**
 * A client of one service (full name, e.g. "runts.supervisor.v1.Containers")
 * on a unix socket, with grpc-js's call shapes: unary `m(req, cb)`,
 * server-streaming `m(req)`, client and bidi streaming `m()`; `close()`.
 */
export function lightClient<T>(service: string, address: string): T {
  const { def, path } = lookup(service, []);
  const scope = path.slice(0, -1);
  let conn: Connection | undefined;
  const client: Obj = {
    close: () => conn?.close(),
  };
  for (const [name, m] of Object.entries(def.methods ?? {})) {
    // A command makes one or two kinds of call: codecs are made for those only, at the first.
    let codecs: [MessageCodec, MessageCodec] | undefined;
    const start = (): Call => {
      const [req, res] = (codecs ??= [codec(lookup(m.requestType, scope).path.join('.')), codec(lookup(m.responseType, scope).path.join('.'))]);
      conn ??= new Connection(connectUnix(address));
      const stream = conn.request([
        [':method', 'POST'], [':scheme', 'http'], [':path', `/${path.join('.')}/${name}`], [':authority', 'localhost'],
        ['content-type', 'application/grpc'], ['te', 'trailers'],
      ]);
      return new Call(stream, req, res);
    };
    client[name] = m.requestStream
      ? () => start()
      : m.responseStream
        ? (obj: Obj) => {
            const call = start();
            call.write(obj);
            call.end();
            return call;
          }
        : (obj: Obj, cb: (err: CallError | null, res?: Obj) => void) => {
            const call = start();
            let last: Obj | undefined;
            let done = false;
            const finish = (err: CallError | null) => {
              if (done) return;
              done = true;
              cb(err, err ? undefined : last);
            };
            call.on('data', (o: Obj) => (last = o));
            call.on('end', () => finish(null));
            call.on('error', (e: CallError) => finish(e));
            call.write(obj);
            call.end();
            return call;
          };
  }
  return client as T;
}
