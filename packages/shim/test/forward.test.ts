// Events to containerd: in outbox order over ttrpc Events/Forward (bare
// type_url, namespace, timestamp), acknowledged once containerd has them;
// the publish binary when the socket is not there.
import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codec } from '@runts/proto/light';
import { TtrpcServer } from '@runts/proto/ttrpc';
import { ContainerdTasks, Forwarder, type Flags } from '../src/containerd';
import { Outbox } from '../src/outbox';

const flags = (over: Partial<Flags> = {}): Flags => ({ namespace: 'ns1', address: '/c.sock', publishBinary: '', id: 'a', bundle: '', socket: '', debug: false, action: '', ...over });
const translate = (e: Parameters<ContainerdTasks['event']>[0]) => new ContainerdTasks(undefined as never, undefined as never, 'test').event(e);

function tmp(t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'runts-fwd-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('over ttrpc: in order, bare type_url, acknowledged', async (t) => {
  const dir = tmp(t);
  const got: { namespace: string; topic: string; typeUrl: string; body: Record<string, unknown>; seconds: number }[] = [];
  const server = new TtrpcServer(() => ({ code: 13 }));
  let failFirst = true;
  server.addService('containerd.services.events.ttrpc.v1.Events', {
    Forward: async (r: { envelope: { namespace: string; topic: string; timestamp: { seconds: number }; event: { type_url: string; value: Buffer } } }) => {
      // One failure: the event is sent again, and nothing overtakes it.
      if (failFirst) {
        failFirst = false;
        throw new Error('not yet');
      }
      const ev = r.envelope.event;
      got.push({ namespace: r.envelope.namespace, topic: r.envelope.topic, typeUrl: ev.type_url, body: codec(ev.type_url).decode(ev.value), seconds: r.envelope.timestamp.seconds });
      return {};
    },
  });
  const sock = join(dir, 'ttrpc.sock');
  await server.listen(sock);
  t.teardown(() => server.close());
  process.env['TTRPC_ADDRESS'] = sock;
  t.teardown(() => delete process.env['TTRPC_ADDRESS']);
  const outbox = new Outbox(dir);
  t.teardown(() => outbox.close());
  outbox.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 7 } });
  const fwd = new Forwarder(outbox, flags(), translate);
  fwd.start();
  outbox.publish({ topic: '/tasks/exit', exit: { containerId: 'c', id: 'c', pid: 7, exitStatus: 3, exitedAtMs: 1_700_000_000_500 } });
  await fwd.drained(5000);
  t.same(got.map((g) => g.topic), ['/tasks/start', '/tasks/exit']);
  t.same(got.map((g) => g.typeUrl), ['containerd.events.TaskStart', 'containerd.events.TaskExit']);
  t.equal(got[0]!.namespace, 'ns1');
  t.ok(got[0]!.seconds > 1_700_000_000, 'a timestamp');
  t.match(got[1]!.body, { containerId: 'c', id: 'c', pid: 7, exitStatus: 3, exitedAt: { seconds: 1_700_000_000, nanos: 500_000_000 } });
  t.same(outbox.since(0), [], 'all acknowledged');
});

t.test('without the socket: the publish binary, topic and namespace as arguments, the Any on stdin', async (t) => {
  const dir = tmp(t);
  const bin = join(dir, 'publish');
  writeFileSync(bin, `#!/bin/sh\necho "$@" >> ${dir}/args\ncat > ${dir}/any.$$\n`);
  chmodSync(bin, 0o755);
  process.env['TTRPC_ADDRESS'] = join(dir, 'nothing-here.sock');
  t.teardown(() => delete process.env['TTRPC_ADDRESS']);
  const outbox = new Outbox(dir);
  t.teardown(() => outbox.close());
  const fwd = new Forwarder(outbox, flags({ publishBinary: bin }), translate);
  fwd.start();
  outbox.publish({ topic: '/tasks/oom', oom: { containerId: 'c' } });
  await fwd.drained(5000);
  t.equal(readFileSync(join(dir, 'args'), 'utf8'), '--address /c.sock publish --topic /tasks/oom --namespace ns1\n');
  const anyFile = readdirSync(dir).find((f) => f.startsWith('any.'))!;
  const any = codec('google.protobuf.Any').decode(readFileSync(join(dir, anyFile))) as { type_url: string; value: Buffer };
  t.equal(any.type_url, 'containerd.events.TaskOOM');
  t.match(codec('containerd.events.TaskOOM').decode(any.value), { containerId: 'c' });
  t.same(outbox.since(0), [], 'acknowledged');
});
