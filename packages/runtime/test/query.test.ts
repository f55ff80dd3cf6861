// state and list from the state dir and /proc alone: no root, no container.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createQueries } from '../src/query';
import { ownStartTime } from '../src/proc';
import { StateStore, type ContainerRecord } from '../src/state';

const rec = (id: string, over: Partial<ContainerRecord> = {}): ContainerRecord => ({
  ociVersion: '1.2.1', id, bundle: '/b', rootfs: '/b/rootfs', pid: 0, startTime: '', created: '2026-01-01T00:00:00Z', owner: '',
  annotations: {}, creating: false, cgroupPaths: {}, cgroupCreated: [], sharedPidNs: false, poststart: [], poststop: [], ...over,
});

t.test('status from the record, the process and the exec fifo; list skips what it cannot read', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'runts-query-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  const store = new StateStore(d);
  const me = { pid: process.pid, startTime: ownStartTime() };
  const save = (r: ContainerRecord) => (store.claim(r.id), store.save(r));
  save(rec('created', me));
  writeFileSync(store.fifo('created'), '');
  save(rec('running', { ...me, annotations: { a: 'b' } }));
  save(rec('reused-pid', { pid: process.pid, startTime: '1' }));
  save(rec('creating', { ...me, creating: true }));
  save(rec('half-made', { creating: true }));
  store.claim('bare');

  const q = createQueries(store);
  t.match(q.state('created'), { ociVersion: '1.2.1', id: 'created', status: 'created', pid: process.pid, bundle: '/b', rootfs: '/b/rootfs' });
  // No cgroup paths: no freezer to ask, so not paused.
  t.match(q.state('running'), { status: 'running', annotations: { a: 'b' } });
  t.same(q.state('reused-pid'), { ociVersion: '1.2.1', id: 'reused-pid', status: 'stopped', bundle: '/b', rootfs: '/b/rootfs', created: '2026-01-01T00:00:00Z', owner: '' }, 'a pid now another process: stopped, no pid');
  t.equal(q.state('creating').status, 'creating');
  t.equal(q.state('half-made').status, 'stopped');
  t.throws(() => q.state('nope'), { code: 'ERR_NOT_FOUND' });
  t.same(q.list().map((s) => `${s.id} ${s.status}`).sort(), ['created created', 'creating creating', 'half-made stopped', 'reused-pid stopped', 'running running']);
});
