// The light client's codec against protobufjs (what grpc-js servers use):
// the same bytes both ways, and the same objects out, defaults included.
import t from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpc, shimApi, supervisorApi } from '../src/index';
import { Status, lightClient } from '../src/light';
import type { supervisor } from '../src/index';

const svc = supervisorApi().Containers.service;

t.test('messages round-trip with protobufjs', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-light-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const address = join(dir, 's.sock');
  const list = {
    containers: [
      { id: 'a', bundle: '/b', status: 'running', pid: 42, exitStatus: 0, exitedAtMs: 0, createdAtMs: 1764050000123, terminal: true, group: 'g', shimPid: 7, reason: '', autoRemove: false },
      { id: 'b', status: 'stopped', exitStatus: 137, exitedAtMs: -5 },
    ],
  };
  const envelope = { seq: 3, timestampMs: 1764050000000, topic: '/tasks/exit', exit: { containerId: 'c', id: 'c', pid: 9, exitStatus: 255, exitedAtMs: 1 } };
  const server = new grpc.Server();
  const seen: unknown[] = [];
  server.addService(svc, {
    List: (_c: unknown, cb: (e: null, v: unknown) => void) => cb(null, list),
    Get: (c: { request: { id: string } }, cb: (e: unknown, v?: unknown) => void) => cb({ code: grpc.status.NOT_FOUND, details: `no such container: ${c.request.id}` }),
    Events: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      call.write({ containerId: 'c', envelope });
      call.end();
    },
    Attach: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      call.on('data', (m) => {
        seen.push(m);
        if (seen.length === 2) {
          call.write({ stdout: Buffer.from([0, 1, 255]), exited: true, exitStatus: 3 });
          call.end();
        }
      });
    },
  });
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  t.teardown(() => server.forceShutdown());
  const c = lightClient<supervisor.ContainersClient>('runts.supervisor.v1.Containers', address);
  t.teardown(() => c.close());

  const got = await new Promise<supervisor.ListResponse__Output>((res, rej) => c.List({}, (e, v) => (e ? rej(e) : res(v!))));
  t.same(got.containers[0], list.containers[0], 'every field, as sent');
  t.same(got.containers[1], { id: 'b', bundle: '', status: 'stopped', pid: 0, exitStatus: 137, exitedAtMs: -5, createdAtMs: 0, terminal: false, group: '', shimPid: 0, reason: '', autoRemove: false }, 'defaults filled; negative int64');

  const err = await new Promise<{ code: number; details: string }>((res) => c.Get({ id: 'x' }, (e) => res(e as never)));
  t.same([err.code, err.details], [Status.NOT_FOUND, 'no such container: x'], 'status and message from the trailers');

  const events: supervisor.Event__Output[] = [];
  await new Promise<void>((res, rej) => {
    const s = c.Events({});
    s.on('data', (e: supervisor.Event__Output) => events.push(e));
    s.on('end', res);
    s.on('error', rej);
  });
  t.equal(events[0]!.envelope!.event, 'exit', 'the oneof names its member');
  t.same(events[0]!.envelope!.exit, envelope.exit);
  t.equal(events[0]!.envelope!.start, undefined, 'other members absent');

  const out: unknown[] = [];
  await new Promise<void>((res, rej) => {
    const s = c.Attach();
    s.on('data', (o: unknown) => out.push(o));
    s.on('end', res);
    s.on('error', rej);
    s.write({ id: 'c', logs: true, follow: true, width: 80, height: 24 });
    s.write({ stdin: Buffer.from('hi\n') });
  });
  t.match(seen[0], { id: 'c', logs: true, follow: true, width: 80, height: 24 });
  t.same((seen[1] as { stdin: Buffer }).stdin, Buffer.from('hi\n'), 'bytes reach the server');
  t.same(out, [{ stdout: Buffer.from([0, 1, 255]), stderr: Buffer.alloc(0), exited: true, exitStatus: 3, created: null }], 'a call ends with the server\'s trailers');
  t.ok(shimApi().Task.service.Create, 'the shim service loads from the same descriptor');
});

t.test('no runtsd: UNAVAILABLE', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-light-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A socket path nobody listens on (the file exists, the server is gone).
  const address = join(dir, 'dead.sock');
  const srv = createServer().listen(address);
  await new Promise((r) => srv.on('listening', r));
  srv.close();
  const c = lightClient<supervisor.ContainersClient>('runts.supervisor.v1.Containers', address);
  const err = await new Promise<{ code: number; details: string }>((res) => c.List({}, (e) => res(e as never)));
  t.equal(err.code, Status.UNAVAILABLE);
  t.match(err.details, /No connection established/);
  c.close();
});
