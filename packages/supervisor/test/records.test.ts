// Records on disk, the events applied to them, shim paths: no root, no shim.
import t from 'tap';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { shim } from '@runts/proto';
import { applyEvent, eventContainer, isInitExit, RecordStore, toContainer } from '../src/records';
import { record } from './fixtures';
import { shimPaths } from '../src/shims';

function tmp(t: { teardown(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'runtsd-rec-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}


type Env = shim.Envelope__Output;
const ev = {
  create: (seq: number, id: string, pid: number): Env => ({ seq, timestampMs: 10 * seq, topic: '/tasks/create', event: 'create', create: { containerId: id, bundle: '/b', pid } }),
  start: (seq: number, id: string, pid: number): Env => ({ seq, timestampMs: 10 * seq, topic: '/tasks/start', event: 'start', start: { containerId: id, pid } }),
  exit: (seq: number, id: string, proc: string, code: number): Env => ({ seq, timestampMs: 10 * seq, topic: '/tasks/exit', event: 'exit', exit: { containerId: id, id: proc, pid: 7, exitStatus: code, exitedAtMs: 5000 + seq } }),
};

t.test('the store writes, reloads in creation order, skips a corrupt journal, removes', async (t) => {
  const d = tmp(t);
  const s = new RecordStore(d);
  s.write(record('b', { createdAtMs: 2000, status: 'running', pid: 42, lastSeq: 2 }));
  s.write(record('a', { createdAtMs: 1000 }));
  writeFileSync(join(s.dir, 'broken.jsonl'), '{"id":');
  const warnings: string[] = [];
  const again = new RecordStore(d).load((m) => warnings.push(m));
  t.same(again.map((r) => r.id), ['a', 'b']);
  t.match(again[1], { status: 'running', pid: 42, lastSeq: 2 });
  t.equal(warnings.length, 1);
  t.match(warnings[0], /broken\.jsonl/);
  s.remove('a');
  t.same(new RecordStore(d).load().map((r) => r.id), ['b']);
});

t.test('a record is appended, not renamed over: the last whole line is the record', async (t) => {
  const d = tmp(t);
  const s = new RecordStore(d);
  s.write(record('c', { status: 'created' }));
  s.write(record('c', { status: 'running', pid: 7 }));
  const file = join(s.dir, 'c.jsonl');
  t.equal(readFileSync(file, 'utf8').split('\n').length, 3, 'two lines');
  t.match(new RecordStore(d).load()[0], { status: 'running', pid: 7 });
  // A kill -9 in the middle of the third write: the second stands.
  const whole = JSON.stringify(record('c', { status: 'stopped', exitStatus: 1 }));
  appendFileSync(file, whole.slice(0, 40));
  const s2 = new RecordStore(d);
  t.match(s2.load()[0], { status: 'running', pid: 7 });
  // The cut line is dropped, so the next write is not glued onto it.
  s2.write(record('c', { status: 'stopped', exitStatus: 1 }));
  t.match(new RecordStore(d).load()[0], { status: 'stopped', exitStatus: 1 });
  t.same(readdirSync(s.dir), ['c.jsonl'], 'no temp file left');
});

t.test('a long journal is compacted to its last record', async (t) => {
  const d = tmp(t);
  const s = new RecordStore(d);
  for (let i = 1; i <= 200; i++) s.write(record('p', { lastSeq: i }));
  const lines = readFileSync(join(s.dir, 'p.jsonl'), 'utf8').split('\n').length - 1;
  t.ok(lines <= 64, `${lines} lines`);
  t.match(new RecordStore(d).load()[0], { lastSeq: 200 });
});

t.test('create, start, exit: the record follows, the exit code is kept', async (t) => {
  const r = record('c1');
  t.ok(applyEvent(r, ev.create(1, 'c1', 100)));
  t.match(r, { status: 'created', pid: 100 });
  t.ok(applyEvent(r, ev.start(2, 'c1', 100)));
  t.match(r, { status: 'running', pid: 100, startedAtMs: 20 });
  t.ok(applyEvent(r, ev.exit(3, 'c1', 'c1', 137)));
  t.match(r, { status: 'stopped', exitStatus: 137, exitedAtMs: 5003, lastSeq: 3 });
  // A late start (say from a second shim stream) never revives it.
  t.ok(applyEvent(r, ev.start(4, 'c1', 100)));
  t.match(r, { status: 'stopped', exitStatus: 137 });
  t.ok(applyEvent(r, ev.exit(5, 'c1', 'c1', 0)));
  t.equal(r.exitStatus, 137, 'the first exit is the exit');
});

t.test('replays at or below the last applied seq change nothing', async (t) => {
  const r = record('c1');
  const events = [ev.create(1, 'c1', 9), ev.start(2, 'c1', 9), ev.exit(3, 'c1', 'c1', 3)];
  for (const e of events) applyEvent(r, e);
  const before = JSON.stringify(r);
  for (const e of events) t.notOk(applyEvent(r, e), `seq ${e.seq} is a replay`);
  t.equal(JSON.stringify(r), before);
});

t.test("an exec's exit leaves the container running", async (t) => {
  const r = record('c1', { status: 'running', lastSeq: 2 });
  const x = ev.exit(3, 'c1', 'exec-1', 4);
  t.ok(applyEvent(r, x));
  t.notOk(isInitExit(r, x));
  t.match(r, { status: 'running', exitStatus: 0, lastSeq: 3 });
  t.ok(isInitExit(r, ev.exit(4, 'c1', 'c1', 0)));
});

t.test('paused, resumed and oom', async (t) => {
  const r = record('c1', { status: 'running' });
  applyEvent(r, { seq: 1, timestampMs: 1, topic: '/tasks/paused', event: 'paused', paused: { containerId: 'c1' } });
  t.equal(r.status, 'paused');
  applyEvent(r, { seq: 2, timestampMs: 2, topic: '/tasks/resumed', event: 'resumed', resumed: { containerId: 'c1' } });
  t.equal(r.status, 'running');
  applyEvent(r, { seq: 3, timestampMs: 3, topic: '/tasks/oom', event: 'oom', oom: { containerId: 'c1' } });
  t.equal(r.reason, 'out of memory');
});

t.test('eventContainer names the container of any event; toContainer keeps the fields', async (t) => {
  t.equal(eventContainer(ev.exit(1, 'c9', 'e', 0)), 'c9');
  t.equal(eventContainer({ seq: 1, timestampMs: 0, topic: '' }), undefined);
  const c = toContainer(record('c1', { status: 'unknown', reason: 'shim exited', group: 'pod', autoRemove: true }));
  t.match(c, { id: 'c1', status: 'unknown', reason: 'shim exited', group: 'pod', autoRemove: true, shimPid: 1 });
});

t.test('shim socket paths fit in sockaddr_un, or the state dir is refused', async (t) => {
  const p = shimPaths('/var/lib/runts', 'a-rather-long-container-id-'.repeat(5));
  t.ok(Buffer.byteLength(p.socket) < 108, p.socket);
  t.equal(p.socket, join(p.dir, 'task.sock'));
  t.not(shimPaths('/var/lib/runts', 'c1').dir, shimPaths('/var/lib/runts', 'c1').dir, 'a fresh dir each time');
  t.throws(() => shimPaths(`/${'x'.repeat(100)}`, 'c1'), /too long for a unix socket path/);
});
