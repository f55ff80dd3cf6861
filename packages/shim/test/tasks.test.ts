// Tasks without root: the runtime and the reaper are stand-ins that record
// what the shim asks of them. (test/shim.test.ts runs real containers.)
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { Runtime } from '@runts/runtime';
import type { Sys, WaitStatus } from '@runts/sys';
import { Outbox } from '../src/outbox';
import type { Reaper } from '../src/reaper';
import { Tasks } from '../src/service';

function setup(t: { teardown(f: () => void): void }, startError?: Error, reapOnTick = false) {
  const dir = mkdtempSync(join(tmpdir(), 'runts-tasks-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const calls: string[] = [];
  let onExit: ((st: WaitStatus) => void) | undefined;
  const rt = {
    spawnInit: (id: string) => (calls.push(`spawnInit ${id}`), { pid: 4242, pidfd: -1 }),
    oomWatch: () => {
      throw new Error('no memory controller');
    },
    state: () => ({ status: 'running' }),
    start: async (id: string) => {
      calls.push(`start ${id}`);
      if (startError) throw startError;
    },
    // As the real one: the init dies, and the reaper sees it.
    delete: async (id: string, opts: { force?: boolean }) => {
      calls.push(`delete ${id}${opts.force ? ' --force' : ''}`);
      if (!reapOnTick) onExit?.({ code: 137, signal: 9 });
    },
  } as unknown as Runtime;
  const tick = () => reapOnTick && onExit?.({ code: 137, signal: 9 });
  const reaper = { watch: (_pid: number, _fd: number, f: (st: WaitStatus) => void) => (onExit = f), tick } as unknown as Reaper;
  const outbox = new Outbox(dir);
  const tasks = new Tasks(rt, { close: () => {} } as unknown as Sys, reaper, outbox, join(dir, 'logs'));
  const topics = () => outbox.since(0).map((e) => e.topic);
  return { tasks, calls, topics };
}

const req = { id: 'c1', bundle: '/b', terminal: true, stdin: false, start: true };

t.test('create with start: started in the same call, TaskCreate then TaskStart', async (t) => {
  const { tasks, calls, topics } = setup(t);
  t.equal(await tasks.run(req), 4242);
  t.same(calls, ['spawnInit c1', 'start c1']);
  t.same(topics(), ['/tasks/create', '/tasks/start']);
  t.equal(tasks.state({ id: 'c1', execId: '' }).status, 'RUNNING');
  await tasks.delete({ id: 'c1', execId: '', force: true });
});

t.test('create with start whose start fails: the error, and no container left', async (t) => {
  const { tasks, calls, topics } = setup(t, new RuntsError('ERR_BAD_STATE', 'container "c1" init exited before start'));
  await t.rejects(tasks.run(req), /init exited before start/);
  t.same(calls, ['spawnInit c1', 'start c1', 'delete c1 --force']);
  t.same(tasks.ids(), [], 'deleted');
  t.same(topics(), ['/tasks/create', '/tasks/exit', '/tasks/delete']);
});

t.test('delete --force whose kill is reaped by the tick after it: no wait for an exit already seen', async (t) => {
  const { tasks, topics } = setup(t, undefined, true);
  await tasks.run(req);
  const res = await Promise.race([tasks.delete({ id: 'c1', execId: '', force: true }), new Promise((r) => setTimeout(r, 1000, 'still waiting'))]);
  t.match(res, { pid: 4242, exitStatus: 137 });
  t.same(topics(), ['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
});
