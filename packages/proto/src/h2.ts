// An HTTP/2 client connection (RFC 9113) on one socket, as much as gRPC over a
// unix socket needs: streams, flow control both ways, SETTINGS, PING,
// RST_STREAM and GOAWAY; no TLS, priorities or push. node:http2 would do, but
// loading it (and the TLS it pulls in) would be most of runtsctl's start.
import { EventEmitter } from 'node:events';
import { Decoder, HpackError, encode, type Header } from './hpack';
import type { ByteStream } from './pipe';

const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PUSH_PROMISE = 5;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;

const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;

export const NO_ERROR = 0;
export const PROTOCOL_ERROR = 1;
export const CANCEL = 8;
const COMPRESSION_ERROR = 9;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** Our receive window, per stream and for the connection: gRPC's largest default message. */
const WINDOW = 4 << 20;

/** Why a stream ended without its peer ending it. */
export type StreamFailure =
  | { reason: 'cancelled'; message: string }
  | { reason: 'reset'; rstCode: number; message: string }
  | { reason: 'connection'; message: string };

class ProtocolError extends Error {}

function frame(type: number, flags: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(id, 5);
  return payload.length ? Buffer.concat([head, payload]) : head;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * One request: 'headers' (Header[]) for the response headers and trailers,
 * 'data' (Buffer), then 'close' once, with a StreamFailure unless the peer
 * ended its side.
 */
export class Stream extends EventEmitter {
  sendWindow: number;
  unacked = 0;
  queue: Buffer[] = [];
  ending = false;
  ended = false;
  closed = false;

  constructor(readonly id: number, private readonly conn: Connection, window: number) {
    super();
    this.sendWindow = window;
  }

  write(data: Buffer): void {
    if (this.ending || this.closed) return;
    this.queue.push(data);
    this.conn.flush(this);
  }

  /** Half-closes our side once what is queued has gone. */
  end(): void {
    if (this.ending || this.closed) return;
    this.ending = true;
    this.conn.flush(this);
  }

  reset(code = CANCEL): void {
    if (this.closed) return;
    this.conn.send(frame(RST_STREAM, 0, this.id, u32(code)));
    this.close({ reason: 'cancelled', message: 'Cancelled on client' });
  }

  close(failure?: StreamFailure): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.conn.forget(this);
    this.emit('close', failure);
  }
}

export class Connection {
  private readonly streams = new Map<number, Stream>();
  private readonly decoder = new Decoder();
  private nextId = 1;
  private inbox: Buffer = Buffer.alloc(0);
  private block: { id: number; parts: Buffer[]; endStream: boolean } | undefined;
  private sendWindow = 65535;
  private peerWindow = 65535;
  private peerMaxFrame = 16384;
  private unacked = 0;
  private connected = false;
  private closing = false;
  /** Frames of this turn of the event loop, sent as one write at its end. */
  private out: Buffer[] | undefined;
  /** Why the connection is unusable, once it is. */
  private failure: string | undefined;

  constructor(private readonly socket: ByteStream) {
    socket.on('connect', () => (this.connected = true));
    socket.on('data', (d: Buffer) => this.receive(d));
    socket.on('error', (e: NodeJS.ErrnoException) =>
      this.fail(this.connected ? `Connection dropped: ${e.code ?? e.message}` : `No connection established: ${e.code ?? e.message}`));
    socket.on('close', () => this.fail(this.connected ? 'Connection dropped' : 'No connection established'));
    // Our settings: no push, a larger window; then the connection window to match.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(2, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(4, 6);
    settings.writeUInt32BE(WINDOW, 8);
    this.send(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, u32(WINDOW - 65535))]));
  }

  request(headers: readonly Header[]): Stream {
    const stream = new Stream(this.nextId, this, this.peerWindow);
    this.nextId += 2;
    if (this.failure !== undefined || this.closing) {
      const message = this.failure ?? 'the connection is closing';
      process.nextTick(() => stream.close({ reason: 'connection', message }));
      return stream;
    }
    this.streams.set(stream.id, stream);
    const block = encode(headers);
    for (let at = 0, first = true; first || at < block.length; first = false) {
      const part = block.subarray(at, at + this.peerMaxFrame);
      at += part.length;
      this.send(frame(first ? HEADERS : CONTINUATION, at >= block.length ? END_HEADERS : 0, stream.id, part));
    }
    return stream;
  }

  /** Closes the socket once the open streams end. */
  close(): void {
    this.closing = true;
    if (!this.streams.size) this.end();
  }

  /** Sends what the windows allow of the stream's queue, and its end once the queue is empty. */
  flush(stream: Stream): void {
    if (stream.closed) return;
    while (stream.queue.length && this.sendWindow > 0 && stream.sendWindow > 0) {
      const head = stream.queue[0]!;
      const n = Math.min(head.length, this.sendWindow, stream.sendWindow, this.peerMaxFrame);
      const last = n === head.length && stream.queue.length === 1 && stream.ending;
      this.send(frame(DATA, last ? END_STREAM : 0, stream.id, head.subarray(0, n)));
      if (last) stream.ended = true;
      this.sendWindow -= n;
      stream.sendWindow -= n;
      if (n === head.length) stream.queue.shift();
      else stream.queue[0] = head.subarray(n);
    }
    if (stream.ending && !stream.ended && !stream.queue.length) {
      stream.ended = true;
      this.send(frame(DATA, END_STREAM, stream.id));
    }
  }

  /** Writes a frame; what one turn of the event loop writes goes out in one write. */
  send(data: Buffer): void {
    if (this.failure !== undefined) return;
    if (!this.out) {
      this.out = [];
      process.nextTick(() => this.flushOut());
    }
    this.out.push(data);
  }

  forget(stream: Stream): void {
    this.streams.delete(stream.id);
    if (this.closing && !this.streams.size) this.end();
  }

  private flushOut(): void {
    const out = this.out;
    this.out = undefined;
    if (out?.length && this.failure === undefined) this.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** Our side is done: what is queued goes first. */
  private end(): void {
    this.flushOut();
    this.socket.end();
  }

  private fail(message: string): void {
    if (this.failure !== undefined) return;
    this.failure = message;
    this.socket.destroy();
    for (const s of [...this.streams.values()]) s.close({ reason: 'connection', message });
  }

  private receive(data: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, data]) : data;
    try {
      while (this.inbox.length >= 9) {
        const len = this.inbox.readUIntBE(0, 3);
        if (this.inbox.length < 9 + len) break;
        const [type, flags, id] = [this.inbox[3]!, this.inbox[4]!, this.inbox.readUInt32BE(5) & 0x7fffffff];
        const payload = this.inbox.subarray(9, 9 + len);
        this.inbox = this.inbox.subarray(9 + len);
        this.frame(type, flags, id, payload);
        if (this.failure !== undefined) return;
      }
    } catch (e) {
      if (!(e instanceof ProtocolError || e instanceof HpackError)) throw e;
      this.send(frame(GOAWAY, 0, 0, Buffer.concat([u32(0), u32(e instanceof HpackError ? COMPRESSION_ERROR : PROTOCOL_ERROR)])));
      this.fail(`HTTP/2: ${e.message}`);
    }
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.block && (type !== CONTINUATION || id !== this.block.id)) throw new ProtocolError('a header block was interrupted');
    switch (type) {
      case DATA: {
        if (!id) throw new ProtocolError('DATA on stream 0');
        const stream = this.streams.get(id);
        this.consumed(payload.length, stream);
        if (stream) {
          const body = unpad(flags, payload);
          if (body.length) stream.emit('data', body);
          if (flags & END_STREAM) this.remoteEnd(stream);
        }
        return;
      }
      case HEADERS: {
        let body = unpad(flags, payload);
        if (flags & PRIORITY) body = body.subarray(5);
        this.block = { id, parts: [body], endStream: Boolean(flags & END_STREAM) };
        if (flags & END_HEADERS) this.headers();
        return;
      }
      case CONTINUATION:
        if (!this.block) throw new ProtocolError('CONTINUATION without HEADERS');
        this.block.parts.push(payload);
        if (flags & END_HEADERS) this.headers();
        return;
      case RST_STREAM: {
        need(payload, 4, 'RST_STREAM');
        const code = payload.readUInt32BE(0);
        this.streams.get(id)?.close({ reason: 'reset', rstCode: code, message: `Received RST_STREAM with code ${code}` });
        return;
      }
      case SETTINGS:
        if (flags & ACK) return;
        for (let at = 0; at + 6 <= payload.length; at += 6) this.setting(payload.readUInt16BE(at), payload.readUInt32BE(at + 2));
        this.send(frame(SETTINGS, ACK, 0));
        for (const s of this.streams.values()) this.flush(s);
        return;
      case PUSH_PROMISE:
        throw new ProtocolError('PUSH_PROMISE, though push is off');
      case PING:
        need(payload, 8, 'PING');
        if (!(flags & ACK)) this.send(frame(PING, ACK, 0, payload));
        return;
      case GOAWAY: {
        // Streams after the last one the server took will never be answered.
        need(payload, 8, 'GOAWAY');
        const last = payload.readUInt32BE(0) & 0x7fffffff;
        const code = payload.readUInt32BE(4);
        this.closing = true;
        for (const s of [...this.streams.values()]) {
          if (s.id > last) s.close({ reason: 'connection', message: `the server went away (GOAWAY code ${code})` });
        }
        return;
      }
      case WINDOW_UPDATE: {
        need(payload, 4, 'WINDOW_UPDATE');
        const n = payload.readUInt32BE(0) & 0x7fffffff;
        if (!id) {
          this.sendWindow += n;
          for (const s of this.streams.values()) this.flush(s);
        } else {
          const s = this.streams.get(id);
          if (s) {
            s.sendWindow += n;
            this.flush(s);
          }
        }
        return;
      }
      default:
    }
  }

  private setting(key: number, value: number): void {
    if (key === 4) {
      for (const s of this.streams.values()) s.sendWindow += value - this.peerWindow;
      this.peerWindow = value;
    } else if (key === 5) {
      this.peerMaxFrame = value;
    }
  }

  private headers(): void {
    const { id, parts, endStream } = this.block!;
    this.block = undefined;
    // Decoded even for a stream we dropped: the table must stay in step.
    const headers = this.decoder.decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    const stream = this.streams.get(id);
    if (!stream) return;
    stream.emit('headers', headers);
    if (endStream) this.remoteEnd(stream);
  }

  /** The peer ended its side; ours goes too (a gRPC server answers in full). */
  private remoteEnd(stream: Stream): void {
    if (!stream.ended) this.send(frame(RST_STREAM, 0, stream.id, u32(NO_ERROR)));
    stream.close();
  }

  /** Gives back window for received data once half of it is used. */
  private consumed(n: number, stream: Stream | undefined): void {
    this.unacked += n;
    if (this.unacked >= WINDOW / 2) {
      this.send(frame(WINDOW_UPDATE, 0, 0, u32(this.unacked)));
      this.unacked = 0;
    }
    if (stream && (stream.unacked += n) >= WINDOW / 2) {
      this.send(frame(WINDOW_UPDATE, 0, stream.id, u32(stream.unacked)));
      stream.unacked = 0;
    }
  }
}

function need(payload: Buffer, n: number, type: string): void {
  if (payload.length < n) throw new ProtocolError(`a ${type} frame of ${payload.length} bytes`);
}

function unpad(flags: number, payload: Buffer): Buffer {
  if (!(flags & PADDED)) return payload;
  const pad = payload[0] ?? 0;
  if (pad >= payload.length) throw new ProtocolError('padding longer than its frame');
  return payload.subarray(1, payload.length - pad);
}
