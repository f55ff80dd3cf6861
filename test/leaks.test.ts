// Create/start/kill/delete cycles (and exec ones): afterwards no container
// process, zombie, mount, cgroup or state dir; no host fd reaches a container.
// `make soak` runs it with LEAK_CYCLES=1000.
import t from 'tap';
import { execSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Env, baseConfig, cgroupsOf, ownMounts, processesWith, reapOrphans } from './lib/harness';

const CYCLES = Number(process.env['LEAK_CYCLES'] ?? 100);
const EXEC_CYCLES = Math.max(1, Math.round(CYCLES / 5));
t.setTimeout(60 * 60 * 1000);

const zombiesOfOurs = () =>
  execSync('ps -eo stat=,ppid=')
    .toString()
    .split('\n')
    .filter((l) => l.trim().startsWith('Z') && Number(l.trim().split(/\s+/)[1]) === process.pid);

function waitStopped(env: Env, id: string): string {
  let status = '';
  for (let i = 0; i < 500; i++) {
    status = env.state(id).status;
    if (status === 'stopped') break;
    execSync('sleep 0.01');
  }
  return status;
}

t.test(`${CYCLES} create/start/kill/delete cycles and ${EXEC_CYCLES} with exec leave nothing behind`, async (t) => {
  const env = new Env(t);
  const marker = `RUNTS_LEAK_TEST=${process.pid}`;
  const cfg = baseConfig(['sleep', '600']);
  cfg.process.env.push(marker);
  const bundle = env.bundle(cfg);
  reapOrphans();
  const mountsBefore = ownMounts(env);
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => ok || failures.push(what);

  for (let i = 0; i < CYCLES; i++) {
    const id = env.id('leak');
    const c = env.runts(['create', '--bundle', bundle, id]);
    check(c.code === 0, `cycle ${i}: create: ${c.stderr}`);
    check(env.runts(['start', id]).code === 0, `cycle ${i}: start`);
    if (i < EXEC_CYCLES) {
      // Only the exec'd process's own fds: 0-2, and the one ls opens to list them.
      const e = env.runts(['exec', id, 'ls', '/proc/self/fd']);
      check(e.code === 0 && e.stdout.split('\n').filter(Boolean).sort().join(' ') === '0 1 2 3', `cycle ${i}: exec fds: ${e.stdout} ${e.stderr}`);
    }
    check(env.runts(['kill', id, 'KILL']).code === 0, `cycle ${i}: kill`);
    check(waitStopped(env, id) === 'stopped', `cycle ${i}: stopped`);
    const d = env.runts(['delete', id]);
    check(d.code === 0, `cycle ${i}: delete: ${d.stderr}`);
    check(!existsSync(join(env.root, id)), `cycle ${i}: state dir left`);
    const cg = cgroupsOf(id);
    check(cg.length === 0, `cycle ${i}: cgroup left in ${cg.join(',')}`);
    if (failures.length > 10) break;
  }

  t.same(failures, [], 'every cycle clean');
  t.same(processesWith(marker), [], 'no container process left');
  const orphans = reapOrphans();
  t.ok(orphans <= CYCLES, `only the ${CYCLES} inits were left to reap (${orphans}): no hook, exec or stage process besides`);
  t.same(zombiesOfOurs(), [], 'no zombie left');
  t.same(ownMounts(env), mountsBefore, 'no mount left under the test\'s dirs and rootfs');
  t.same(readdirSync(env.root), [], 'no state dir left');
});
