// Many runts at once on one --root: distinct ids all work, one id has exactly
// one winner, and racing deletes leave nothing behind.
import t from 'tap';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Env, RUNTS, baseConfig, cgroupsOf, processesWith } from './lib/harness';

interface Out {
  code: number | null;
  stderr: string;
}

let n = 0;
function runts(env: Env, args: string[]): Promise<Out> {
  const err = join(env.dir, `cerr-${++n}`);
  const fd = openSync(err, 'w');
  return new Promise((resolve) => {
    // stdin/stdout to /dev/null: a created init keeps its stdio, and a pipe would never close.
    const p = spawn(RUNTS, ['--root', env.root, ...args], { stdio: ['ignore', 'ignore', fd], timeout: 60000 });
    p.on('exit', (code) => {
      closeSync(fd);
      const stderr = readFileSync(err, 'utf8');
      rmSync(err, { force: true });
      resolve({ code, stderr });
    });
  });
}

const MARKER = `RUNTS_CONCURRENCY_TEST=${process.pid}`;
/** A sleeping container that processesWith(MARKER) can find. */
function sleeper(): any {
  const cfg = baseConfig(['sleep', '60']);
  cfg.process.env.push(MARKER);
  return cfg;
}

t.test('50 parallel creates and deletes with distinct ids', async (t) => {
  const env = new Env(t);
  const bundle = env.bundle(sleeper());
  const ids = Array.from({ length: 50 }, () => env.id('p'));
  const created = await Promise.all(ids.map((id) => runts(env, ['create', '--bundle', bundle, id])));
  t.same(created.filter((r) => r.code !== 0).map((r) => r.stderr), [], 'every create succeeds');
  const list = JSON.parse((env.runts(['list', '--format', 'json'])).stdout) as { id: string; status: string }[];
  t.same(list.map((s) => s.id).sort(), [...ids].sort(), 'list shows all 50, none mixed up');
  t.ok(list.every((s) => s.status === 'created'));
  const deleted = await Promise.all(ids.map((id) => runts(env, ['delete', '--force', id])));
  t.same(deleted.filter((r) => r.code !== 0).map((r) => r.stderr), [], 'every delete succeeds');
  t.same(readdirSync(env.root), [], 'no state left');
  t.same(ids.flatMap(cgroupsOf), [], 'no cgroup left');
});

t.test('50 parallel creates of one id: exactly one winner', async (t) => {
  const env = new Env(t);
  const bundle = env.bundle(sleeper());
  const id = env.id('same');
  const all = await Promise.all(Array.from({ length: 50 }, () => runts(env, ['create', '--bundle', bundle, id])));
  const winners = all.filter((r) => r.code === 0);
  t.equal(winners.length, 1, 'one create wins');
  const losers = all.filter((r) => r.code !== 0);
  t.ok(losers.every((r) => /^runts: container with id "[^"]+" already exists\n$/.test(r.stderr)), 'the others say the id is taken, in one line');
  const state = env.state(id);
  t.equal(state.status, 'created', "the losers did not disturb the winner's state");
  t.ok(existsSync(`/proc/${state.pid}`), 'the winner\'s init is alive');
  t.ok(cgroupsOf(id).length > 0, "the winner's cgroups are in place");
  t.equal(env.runts(['start', id]).code, 0);
  t.equal(env.runts(['delete', '--force', id]).code, 0);
  t.same(cgroupsOf(id), [], 'no cgroup left');
});

t.test('racing deletes and creates of one id leave nothing behind', async (t) => {
  const env = new Env(t);
  const bundle = env.bundle(sleeper());
  for (let round = 0; round < 10; round++) {
    const id = env.id('race');
    await Promise.all([
      runts(env, ['create', '--bundle', bundle, id]),
      runts(env, ['delete', '--force', id]),
      runts(env, ['delete', '--force', id]),
    ]);
    const again = await Promise.all(Array.from({ length: 5 }, () => runts(env, ['delete', '--force', id])));
    t.ok(again.every((r) => r.code === 0 || /does not exist/.test(r.stderr)), `round ${round}: deletes succeed or find nothing`);
    t.notOk(existsSync(join(env.root, id)), `round ${round}: no state`);
    t.same(cgroupsOf(id), [], `round ${round}: no cgroup`);
  }
  t.same(processesWith(MARKER), [], 'no container process left');
});

t.test('parallel deletes of one running container', async (t) => {
  const env = new Env(t);
  const id = env.id('del');
  t.equal(env.runts(['run', '-d', '--bundle', env.bundle(sleeper()), id]).code, 0);
  const pid = env.state(id).pid;
  const all = await Promise.all(Array.from({ length: 10 }, () => runts(env, ['delete', '--force', id])));
  t.ok(all.some((r) => r.code === 0), 'one delete does it');
  t.same(all.filter((r) => r.code !== 0 && !/does not exist/.test(r.stderr)).map((r) => r.stderr), [], 'the others succeed or find nothing');
  t.notOk(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep'), 'the init is gone');
  t.same(cgroupsOf(id), [], 'no cgroup left');
});

t.test('a delete during a create waits for it, then removes what it made', async (t) => {
  const env = new Env(t);
  const cfg = sleeper();
  // The create sits in its hook for a second, its record saying "creating".
  cfg.hooks = { createRuntime: [{ path: '/bin/sleep', args: ['sleep', '1'] }] };
  const id = env.id('wait');
  const create = runts(env, ['create', '--bundle', env.bundle(cfg), id]);
  for (let i = 0; i < 500 && !existsSync(join(env.root, id, 'state.jsonl')); i++) await new Promise((r) => setTimeout(r, 5));
  const del = runts(env, ['delete', '--force', id]);
  const [c, d] = await Promise.all([create, del]);
  t.equal(c.code, 0, `the create was not cut short: ${c.stderr}`);
  t.equal(d.code, 0, d.stderr);
  t.notOk(existsSync(join(env.root, id)), 'no state');
  t.same(cgroupsOf(id), [], 'no cgroup');
  t.same(processesWith(MARKER), [], 'no container process');
});
