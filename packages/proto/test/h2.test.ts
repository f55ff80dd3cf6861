// Our HTTP/2 client against node's HTTP/2 server (nghttp2, what grpc-js
// serves with): headers both ways through its HPACK, flow control past the
// default windows, PING, resets and a server that goes away.
import t from 'tap';
import { createServer, constants, type Http2Server, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection, type Stream, type StreamFailure } from '../src/h2';
import type { Header } from '../src/hpack';
import { HUFFMAN } from '../src/gen/huffman';

type Handler = (s: ServerHttp2Stream, h: IncomingHttpHeaders) => void;

async function serve(t: { teardown(fn: () => void): void }, handler: Handler): Promise<{ server: Http2Server; conn: Connection }> {
  const dir = mkdtempSync(join(tmpdir(), 'runts-h2-'));
  const server = createServer();
  server.on('stream', (s: ServerHttp2Stream, h: IncomingHttpHeaders) => {
    s.on('error', () => undefined); // resets, ours and its own
    handler(s, h);
  });
  await new Promise<void>((r) => server.listen(join(dir, 's.sock'), r));
  const conn = new Connection(connect(join(dir, 's.sock')));
  t.teardown(() => {
    conn.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, conn };
}

const GET: Header[] = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'localhost']];

/** Everything a stream delivers, up to its close. */
function collect(s: Stream): Promise<{ headers: Header[][]; body: Buffer; failure: StreamFailure | undefined }> {
  const headers: Header[][] = [];
  const body: Buffer[] = [];
  s.on('headers', (h: Header[]) => headers.push(h));
  s.on('data', (d: Buffer) => body.push(d));
  return new Promise((r) => s.on('close', (failure?: StreamFailure) => r({ headers, body: Buffer.concat(body), failure })));
}

t.test('every byte node can put in a header decodes, across a changing dynamic table', async (t) => {
  const bytes = HUFFMAN.map(([b]) => b);
  let n = 0;
  const value = (i: number) => Array.from({ length: 300 }, (_, k) => String.fromCharCode(bytes[(i * 7 + k) % bytes.length]!)).join('');
  const { conn } = await serve(t, (s) => {
    const i = n++;
    // Repeated names and values get indexed; 300-byte values soon evict them.
    s.respond({ ':status': 200, 'x-same': 'constant', 'x-value': value(i), [`x-name-${i % 3}`]: value(i + 1) }, { endStream: true });
  });
  for (let i = 0; i < 40; i++) {
    const { headers } = await collect(conn.request(GET));
    const h = new Map(headers[0]);
    t.equal(h.get(':status'), '200');
    t.equal(h.get('x-same'), 'constant');
    t.equal(h.get('x-value'), value(i));
    t.equal(h.get(`x-name-${i % 3}`), value(i + 1));
  }
});

t.test('flow control: megabytes both ways, past every default window', async (t) => {
  const big = Buffer.alloc(9 << 20, 'x');
  big.write('end', big.length - 3);
  const { conn } = await serve(t, (s) => {
    const got: Buffer[] = [];
    s.on('data', (d: Buffer) => got.push(d));
    s.on('end', () => {
      s.respond({ ':status': 200 });
      const all = Buffer.concat(got);
      s.write(all);
      s.end(all);
    });
  });
  const s = conn.request([...GET.slice(1), [':method', 'POST']]);
  const done = collect(s);
  s.write(big);
  s.end();
  const { body, failure } = await done;
  t.equal(failure, undefined);
  t.equal(body.length, 2 * big.length, 'all of it came back, twice');
  t.ok(body.subarray(0, big.length).equals(big) && body.subarray(big.length).equals(big));
});

t.test('a PING from the server is answered', async (t) => {
  let ping: Promise<number> | undefined;
  const { conn } = await serve(t, (s) => {
    ping = new Promise((r, j) => s.session!.ping((e, ms) => (e ? j(e) : r(ms))));
    void ping.finally(() => s.respond({ ':status': 200 }, { endStream: true }));
  });
  await collect(conn.request(GET));
  t.ok((await ping!) >= 0);
});

t.test('a reset stream closes with its code; the connection serves on', async (t) => {
  const { conn } = await serve(t, (s, h) => {
    if (h[':path'] === '/calm') s.close(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    else s.respond({ ':status': 200 }, { endStream: true });
  });
  const { failure } = await collect(conn.request([...GET.slice(0, 2), [':path', '/calm'], GET[3]!]));
  t.match(failure, { reason: 'reset', rstCode: constants.NGHTTP2_ENHANCE_YOUR_CALM });
  const ok = await collect(conn.request(GET));
  t.equal(ok.failure, undefined);
});

t.test('cancel: the server sees the reset', async (t) => {
  let resolveReset: (code: number) => void;
  const reset = new Promise<number>((r) => (resolveReset = r));
  const { conn } = await serve(t, (s) => {
    s.respond({ ':status': 200 });
    s.write('partial');
    s.on('close', () => resolveReset(s.rstCode));
  });
  const s = conn.request(GET);
  const done = collect(s);
  s.once('data', () => s.reset());
  t.match((await done).failure, { reason: 'cancelled' });
  t.equal(await reset, constants.NGHTTP2_CANCEL);
});

t.test('a server that goes away fails its open streams, and later requests', async (t) => {
  const { server, conn } = await serve(t, (s) => {
    s.respond({ ':status': 200 });
    s.write('hanging');
    s.session!.destroy();
    server.close();
  });
  const { failure } = await collect(conn.request(GET));
  t.match(failure, { reason: 'connection', message: /Connection dropped|went away/ });
  t.match((await collect(conn.request(GET))).failure, { reason: 'connection' });
});
