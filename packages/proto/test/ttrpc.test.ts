// ttrpc against its wire: frames cut anywhere, odd stream ids, the 4 MiB cap,
// concurrent calls answered out of order, status codes, metadata.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codec, Status } from '../src/light';
import { FrameReader, MAX_MESSAGE, TYPE_REQUEST, TYPE_RESPONSE, TtrpcClient, TtrpcError, TtrpcServer, encodeFrame, type Frame } from '../src/ttrpc';
import { StatusError, toStatus } from '../src/status';

const TASK = 'containerd.task.v2.Task';

async function served(t: { teardown: (fn: () => void) => void }, handlers: Parameters<TtrpcServer['addService']>[1]): Promise<{ path: string; server: TtrpcServer }> {
  const dir = mkdtempSync(join(tmpdir(), 'runts-ttrpc-'));
  const server = new TtrpcServer(toStatus);
  server.addService(TASK, handlers);
  const path = join(dir, 's.sock');
  await server.listen(path);
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path, server };
}

/** A raw connection: frames written as given, frames read back. */
async function raw(path: string): Promise<{ s: Socket; write: (b: Buffer) => void; next: () => Promise<Frame> }> {
  const s = connect(path);
  await new Promise((res) => s.once('connect', res));
  const reader = new FrameReader();
  const got: Frame[] = [];
  const waiting: ((f: Frame) => void)[] = [];
  s.on('data', (c: Buffer) => {
    for (const f of reader.push(c)) {
      const w = waiting.shift();
      if (w) w(f);
      else got.push(f);
    }
  });
  return {
    s,
    write: (b) => s.write(b),
    next: () => (got.length ? Promise.resolve(got.shift()!) : new Promise((res) => waiting.push(res))),
  };
}

const request = (service: string, method: string, payload: Buffer, extra: object = {}) => codec('ttrpc.Request').encode({ service, method, payload, ...extra });
const response = (f: Frame) => codec('ttrpc.Response').decode(f.payload) as { status: { code: number; message: string } | null; payload: Buffer };

t.test('the header: big-endian length and stream id, type, flags', async (t) => {
  const f = encodeFrame(0x01020304, TYPE_RESPONSE, Buffer.from('ab'));
  t.same([...f], [0, 0, 0, 2, 1, 2, 3, 4, 2, 0, 0x61, 0x62]);
});

t.test('frames survive any cut of the byte stream', async (t) => {
  const frames = [encodeFrame(1, 1, Buffer.alloc(0)), encodeFrame(3, 1, Buffer.from('hello')), encodeFrame(5, 2, Buffer.alloc(70_000, 7)), encodeFrame(7, 1, Buffer.from('x'))];
  const all = Buffer.concat(frames);
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  for (let run = 0; run < 200; run++) {
    const r = new FrameReader();
    const out: Frame[] = [];
    for (let off = 0; off < all.length; ) {
      const n = 1 + rand(run % 2 ? 20 : 40_000);
      out.push(...r.push(all.subarray(off, off + n)));
      off += n;
    }
    if (out.length !== 4 || out[2]!.payload.length !== 70_000 || out[1]!.payload.toString() !== 'hello' || out.map((f) => f.streamId).join() !== '1,3,5,7') {
      t.fail(`run ${run}: frames ${out.map((f) => `${f.streamId}:${f.payload.length}`).join(' ')}`);
      return;
    }
  }
  t.pass('200 random cuttings, the same 4 frames');
});

t.test('an oversized frame is skipped and reported; the next one still reads', async (t) => {
  const r = new FrameReader();
  const big = encodeFrame(9, 1, Buffer.alloc(MAX_MESSAGE + 1));
  const out = [...r.push(big.subarray(0, 100_000)), ...r.push(big.subarray(100_000)), ...r.push(encodeFrame(11, 1, Buffer.from('ok')))];
  t.equal(out.length, 2);
  t.equal(out[0]!.oversized, MAX_MESSAGE + 1);
  t.equal(out[0]!.streamId, 9);
  t.equal(out[1]!.payload.toString(), 'ok');
});

t.test('a call: request and response objects, metadata, status codes', async (t) => {
  let meta: string[] | undefined;
  const { path } = await served(t, {
    State: (r: { id: string; execId: string }, ctx) => {
      meta = ctx.metadata.get('containerd-namespace-ttrpc');
      if (r.id === 'missing') throw new StatusError(Status.NOT_FOUND, 'container "missing" does not exist');
      return { id: r.id, execId: r.execId, pid: 42, status: 'RUNNING', exitedAt: { seconds: 1700000000, nanos: 5 } };
    },
  });
  const c = await TtrpcClient.connect(path);
  t.teardown(() => c.close());
  const st = await c.call<{ id: string; pid: number; status: string; exitedAt: { seconds: number; nanos: number } }>(TASK, 'State', { id: 'a', execId: 'e' }, { metadata: { 'containerd-namespace-ttrpc': 'ns1' } });
  t.match(st, { id: 'a', pid: 42, status: 'RUNNING', exitedAt: { seconds: 1700000000, nanos: 5 } });
  t.same(meta, ['ns1']);
  const err = await c.call(TASK, 'State', { id: 'missing' }).catch((e: unknown) => e);
  t.ok(err instanceof TtrpcError);
  t.match(err, { code: Status.NOT_FOUND, message: 'container "missing" does not exist' });
  t.match(await c.call(TASK, 'Pause', { id: 'a' }).catch((e: unknown) => e), { code: Status.UNIMPLEMENTED }, 'a method without a handler');
});

t.test('concurrent calls on one connection are answered as they finish', async (t) => {
  const { path } = await served(t, {
    Wait: async (r: { id: string }) => {
      await new Promise((res) => setTimeout(res, r.id === 'slow' ? 200 : 1));
      return { exitStatus: r.id === 'slow' ? 1 : 2 };
    },
  });
  const c = await TtrpcClient.connect(path);
  t.teardown(() => c.close());
  const order: string[] = [];
  const slow = c.call<{ exitStatus: number }>(TASK, 'Wait', { id: 'slow' }).then((r) => (order.push('slow'), r));
  const fast = c.call<{ exitStatus: number }>(TASK, 'Wait', { id: 'fast' }).then((r) => (order.push('fast'), r));
  t.same([(await slow).exitStatus, (await fast).exitStatus], [1, 2]);
  t.same(order, ['fast', 'slow'], 'the later call answered first');
});

t.test('raw frames: even stream ids, unknown methods, oversized and garbage payloads', async (t) => {
  const { path } = await served(t, { Connect: () => ({ shimPid: 7 }) });
  const c = await raw(path);
  t.teardown(() => c.s.destroy());
  c.write(encodeFrame(2, TYPE_REQUEST, request(TASK, 'Connect', Buffer.alloc(0))));
  let f = await c.next();
  t.equal(f.streamId, 2);
  t.match(response(f).status, { code: Status.INVALID_ARGUMENT, message: /odd/ }, 'an even stream id is rejected');
  c.write(encodeFrame(3, TYPE_REQUEST, request('no.Such', 'Thing', Buffer.alloc(0))));
  t.match(response(await c.next()).status, { code: Status.UNIMPLEMENTED });
  const big = encodeFrame(5, TYPE_REQUEST, Buffer.alloc(MAX_MESSAGE + 10));
  c.write(big);
  f = await c.next();
  t.equal(f.streamId, 5);
  t.match(response(f).status, { code: Status.RESOURCE_EXHAUSTED }, 'over 4 MiB');
  c.write(encodeFrame(7, TYPE_REQUEST, Buffer.from([0x0a, 0xff])));
  t.match(response(await c.next()).status, { code: Status.INVALID_ARGUMENT }, 'a request that does not decode');
  // Cut into single bytes: the connection still works after all of the above.
  const ok = encodeFrame(9, TYPE_REQUEST, request(TASK, 'Connect', Buffer.alloc(0)));
  for (const b of ok) c.write(Buffer.from([b]));
  f = await c.next();
  t.equal(f.streamId, 9);
  t.equal(response(f).status?.code ?? 0, 0);
  t.match(codec('containerd.task.v2.ConnectResponse').decode(response(f).payload), { shimPid: 7 });
});

t.test('a timeout answers DEADLINE_EXCEEDED', async (t) => {
  const { path } = await served(t, { Wait: () => new Promise(() => undefined) });
  const c = await TtrpcClient.connect(path);
  t.teardown(() => c.close());
  t.match(await c.call(TASK, 'Wait', { id: 'a' }, { timeoutMs: 50 }).catch((e: unknown) => e), { code: Status.DEADLINE_EXCEEDED });
});

t.test('a closed connection fails the calls in flight', async (t) => {
  const { path, server } = await served(t, { Wait: () => new Promise(() => undefined) });
  const c = await TtrpcClient.connect(path);
  const p = c.call(TASK, 'Wait', { id: 'a' }).catch((e: unknown) => e);
  await new Promise((res) => setTimeout(res, 20));
  server.close();
  t.match(await p, { message: /closed/ });
});

t.test('holdUntil: a request waits for the services that come after the listen', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-ttrpc-'));
  const server = new TtrpcServer(toStatus);
  let ready!: () => void;
  server.holdUntil(new Promise((res) => (ready = res)));
  const path = join(dir, 's.sock');
  await server.listen(path);
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const c = await TtrpcClient.connect(path);
  t.teardown(() => c.close());
  const call = c.call<{ shimPid: number }>(TASK, 'Connect', { id: 'a' });
  await new Promise((res) => setTimeout(res, 50));
  server.addService(TASK, { Connect: () => ({ shimPid: 9 }) });
  ready();
  t.equal((await call).shimPid, 9, 'answered by the service added later, not Unimplemented');
});
