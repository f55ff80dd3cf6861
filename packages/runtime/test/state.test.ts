// The runtime's state store on disk: no root, no container.
import t from 'tap';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore, type ContainerRecord } from '../src/state';

function store(t: { teardown(fn: () => void): void }): StateStore {
  const d = mkdtempSync(join(tmpdir(), 'runts-state-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return new StateStore(join(d, 'root'));
}

const rec = (id: string, over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  ociVersion: '1.2.1', id, bundle: '/b', rootfs: '/b/rootfs', pid: 0, startTime: '', created: '2026-01-01T00:00:00Z', owner: '',
  annotations: {}, creating: true, cgroupPaths: {}, cgroupCreated: [], sharedPidNs: false, poststart: [], poststop: [], ...over,
});

t.test("each save is appended; the last line is the container's state", async (t) => {
  const s = store(t);
  s.claim('c1');
  t.ok(s.isBare('c1'), 'claimed, nothing saved yet');
  t.same(s.ids(), []);
  s.save(rec('c1'));
  s.save(rec('c1', { cgroupCreated: ['/sys/fs/cgroup/pids/runts/c1'] }));
  s.save(rec('c1', { creating: false, pid: 42 }));
  t.equal(readFileSync(s.file('c1'), 'utf8').split('\n').length, 4, 'three lines');
  t.match(s.load('c1'), { creating: false, pid: 42, cgroupCreated: [] });
  t.notOk(s.isBare('c1'));
  t.same(s.ids(), ['c1']);
});

t.test('a save cut short by a crash leaves the state before it', async (t) => {
  const s = store(t);
  s.claim('c2');
  s.save(rec('c2', { cgroupCreated: ['/sys/fs/cgroup/pids/runts/c2'] }));
  appendFileSync(s.file('c2'), JSON.stringify(rec('c2', { creating: false, pid: 7 })).slice(0, 50));
  t.match(s.load('c2'), { creating: true, cgroupCreated: ['/sys/fs/cgroup/pids/runts/c2'] });
});

t.test('a state file with no whole record is one error naming it', async (t) => {
  const s = store(t);
  s.claim('c3');
  writeFileSync(s.file('c3'), '{"id":"c3",');
  t.throws(() => s.load('c3'), { code: 'ERR_IO', message: 'container "c3": state file is damaged' });
  t.throws(() => s.load('nope'), { code: 'ERR_NOT_FOUND', message: 'container does not exist' });
});
