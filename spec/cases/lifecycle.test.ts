// runtime.md: state, the lifecycle, and the operations that MUST fail.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime, config, suite } from '../lib/runtime';

const test = suite(__filename);

test('state: the required fields (runtime.md "State")', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const cfg = config(['sleep', '60']);
  cfg.annotations = { 'org.opencontainers.spec.test': 'yes' };
  const bundle = rt.bundle(cfg);
  t.equal(rt.run(['create', '--bundle', bundle, id]).code, 0, 'runtime.md "Create": the operation succeeds');
  const s = rt.state(id);
  t.type(s.ociVersion, 'string', 'ociVersion');
  t.equal(s.id, id, 'id');
  t.equal(s.status, 'created', 'status after create is "created"');
  t.type(s.pid, 'number', 'pid: REQUIRED when created or running on Linux');
  t.ok(s.pid > 0);
  t.equal(s.bundle, bundle, 'bundle: the absolute path');
  t.same(s.annotations, cfg.annotations, 'annotations from config.json');
});

test('annotations appear in state while created, running and stopped (runtime.md "State")', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const cfg = config(['sleep', '0.5']);
  cfg.annotations = { 'org.example.key': 'value', 'org.example.empty': '', 'org.example.json': '{"a":[1,2]}' };
  t.equal(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0, 'runtime.md "Create": the operation succeeds');
  t.same(rt.state(id).annotations, cfg.annotations, 'state.annotations holds config.json\'s annotations when created');
  t.equal(rt.run(['start', id]).code, 0, 'runtime.md "Start": the operation succeeds');
  t.same(rt.state(id).annotations, cfg.annotations, 'state.annotations unchanged when running');
  t.equal(rt.waitStatus(id, 'stopped'), 'stopped');
  t.same(rt.state(id).annotations, cfg.annotations, 'state.annotations unchanged when stopped');
});

test('lifecycle: create → created, start → running, exit → stopped, delete', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const host = join(rt.dir, 'shared');
  mkdirSync(host);
  const cfg = config(['sh', '-c', 'touch /shared/ran; sleep 1']);
  cfg.mounts.push({ destination: '/shared', type: 'bind', source: host, options: ['rbind', 'rw'] });
  t.equal(rt.run(['create', '--bundle', rt.bundle(cfg), id]).code, 0, 'runtime.md "Create": the operation succeeds');
  t.equal(rt.state(id).status, 'created');
  spawnSleep(0.2);
  t.notOk(existsSync(join(host, 'ran')), 'the user process does not run before start (runtime.md step 6/7)');
  t.equal(rt.run(['start', id]).code, 0, 'runtime.md "Start": the operation succeeds');
  t.equal(rt.state(id).status, 'running', 'running after start (the process sleeps 1 s)');
  t.equal(rt.waitStatus(id, 'stopped'), 'stopped', 'stopped once the process exits');
  t.ok(existsSync(join(host, 'ran')), 'the process ran');
  t.equal(rt.run(['delete', id]).code, 0, 'runtime.md "Delete": the operation succeeds');
  t.not(rt.run(['state', id]).code, 0, 'state of a deleted container fails');
  t.same(rt.ids(), [], 'delete removed it');
});

test('operations that MUST fail', async (t) => {
  const rt = new Runtime(t);
  const bundle = rt.bundle(config(['sleep', '60']));
  const id = rt.id();
  t.equal(rt.run(['create', '--bundle', bundle, id]).code, 0, 'runtime.md "Create": the operation succeeds');
  t.not(rt.run(['create', '--bundle', bundle, id]).code, 0, 'create with an id that exists');
  t.equal(rt.state(id).status, 'created', 'and the existing container is untouched');
  t.equal(rt.run(['start', id]).code, 0, 'runtime.md "Start": the operation succeeds');
  t.not(rt.run(['start', id]).code, 0, 'start of a container that is not created');
  t.not(rt.run(['delete', id]).code, 0, 'delete of a container that is not stopped');
  t.equal(rt.run(['kill', id, 'KILL']).code, 0, 'kill of a running container');
  t.equal(rt.waitStatus(id, 'stopped'), 'stopped');
  t.not(rt.run(['kill', id, 'TERM']).code, 0, 'kill of a stopped container');
  t.not(rt.run(['start', 'no-such-container']).code, 0, 'start of an unknown id');
  t.equal(rt.run(['delete', id]).code, 0, 'runtime.md "Delete": the operation succeeds');
});

test('kill sends the given signal (runtime.md "Kill")', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const host = join(rt.dir, 'shared');
  mkdirSync(host);
  const cfg = config(['sh', '-c', 'trap "echo got-usr1 > /shared/sig; exit 0" USR1; touch /shared/ready; while true; do sleep 0.05; done']);
  cfg.mounts.push({ destination: '/shared', type: 'bind', source: host, options: ['rbind', 'rw'] });
  t.equal(rt.run(['run', '-d', '--bundle', rt.bundle(cfg), id]).code, 0, 'runtime.md "Run": the operation succeeds');
  for (let i = 0; i < 200 && !existsSync(join(host, 'ready')); i++) spawnSleep(0.01);
  t.equal(rt.run(['kill', id, 'USR1']).code, 0, 'runtime.md "Kill": the operation succeeds');
  t.equal(rt.waitStatus(id, 'stopped'), 'stopped');
  t.equal(readFileSync(join(host, 'sig'), 'utf8'), 'got-usr1\n');
});

test('--pid-file holds the init pid', async (t) => {
  const rt = new Runtime(t);
  const id = rt.id();
  const pidFile = join(rt.dir, 'init.pid');
  t.equal(rt.run(['create', '--bundle', rt.bundle(config(['sleep', '60'])), '--pid-file', pidFile, id]).code, 0, 'runtime.md "Create": the operation succeeds');
  t.equal(Number(readFileSync(pidFile, 'utf8').trim()), rt.state(id).pid, '--pid-file holds state.pid');
});

test('a foreground run returns the process exit code', async (t) => {
  const rt = new Runtime(t);
  t.equal(rt.run(['run', '--bundle', rt.bundle(config(['sh', '-c', 'exit 7'])), rt.id()]).code, 7, 'run exits with the process exit code (sh -c "exit 7")');
});

function spawnSleep(seconds: number): void {
  spawnSync('sleep', [String(seconds)]);
}
