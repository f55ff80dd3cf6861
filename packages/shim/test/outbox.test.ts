// The outbox without root: events survive a restart until acknowledged.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Outbox } from '../src/outbox';

t.test('seq, replay, ack and reload', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = new Outbox(dir);
  const live: number[] = [];
  const stop = a.listen((e) => live.push(e.seq));
  a.publish({ topic: '/tasks/create', create: { containerId: 'c', bundle: '/b', pid: 1 } });
  a.publish({ topic: '/tasks/start', start: { containerId: 'c', pid: 1 } });
  stop();
  a.publish({ topic: '/tasks/exit', exit: { containerId: 'c', id: 'c', pid: 1, exitStatus: 3, exitedAtMs: 5 } });
  t.same(live, [1, 2], 'listeners hear live events until they stop');
  t.same(a.since(1).map((e) => e.topic), ['/tasks/start', '/tasks/exit']);
  a.ack(1);
  a.close();

  // A new shim process on the same dir (or runtsd reading it) sees what was not acknowledged.
  const b = new Outbox(dir);
  t.same(b.since(0).map((e) => e.seq), [2, 3], 'unacknowledged events reloaded');
  t.equal(b.since(0)[1]!.exit!.exitStatus, 3);
  t.equal(b.publish({ topic: '/tasks/delete', delete: { containerId: 'c', pid: 1, exitStatus: 3, exitedAtMs: 5 } }).seq, 4, 'seq goes on');
  b.ack(99);
  t.same(b.since(0), [], 'ack past the end drops all');
  t.equal(readFileSync(join(dir, 'acked'), 'utf8'), '4', 'acked is capped at the last seq');
  t.equal(readFileSync(join(dir, 'outbox.jsonl'), 'utf8'), '');
  b.close();
});
