import t from 'tap';
import { nodeChildren, runHooks, runHooksWarn } from '../src/hooks';

const big = JSON.stringify({ annotations: { x: 'y'.repeat(1 << 20) } });

t.test('a hook that exits without reading its stdin still succeeds', async (t) => {
  for (let i = 0; i < 50; i++) await runHooks([{ path: '/bin/true' }], 'prestart', big);
  t.pass('no EPIPE surfaced in 50 runs');
  t.equal(nodeChildren.size, 0, 'none left marked as running');
});

t.test('failures name the hook by its JSON path', async (t) => {
  await t.rejects(runHooks([{ path: '/bin/true' }, { path: '/bin/false' }], 'createRuntime', big), { message: 'hooks.createRuntime[1]: hook /bin/false exited with status 1' });
  await t.rejects(runHooks([{ path: '/no/such/hook' }], 'poststart', '{}'), { message: /^hooks\.poststart\[0\]: hook \/no\/such\/hook could not run: ENOENT$/ });
  await t.rejects(runHooks([{ path: '/bin/sleep', args: ['sleep', '5'], timeout: 1 }], 'prestart', '{}'), { message: 'hooks.prestart[0]: hook /bin/sleep timed out after 1s' });
  await t.rejects(runHooks([{ path: '/bin/sh', args: ['sh', '-c', 'kill -9 $$'] }], 'prestart', '{}'), { message: 'hooks.prestart[0]: hook /bin/sh was killed by SIGKILL' });
});

t.test('args[0] is argv0; env is exactly the hook env; state on stdin', async (t) => {
  const warnings: string[] = [];
  await runHooksWarn([{ path: '/bin/sh', args: ['hook-name', '-c', 'test "$0" = hook-name && test "$A" = 1 && test -z "$HOME" && grep -q creating'], env: ['A=1'] }], 'poststop', '{"status":"creating"}', (m) => warnings.push(m));
  t.same(warnings, []);
  await runHooksWarn([{ path: '/bin/true' }, { path: '/bin/false' }], 'poststop', '{}', (m) => warnings.push(m));
  t.same(warnings, ['hooks.poststop[1]: hook /bin/false exited with status 1'], 'poststop failures are warnings with their own index');
});

t.test('the event loop runs while a hook does', async (t) => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 10);
  await runHooks([{ path: '/bin/sleep', args: ['sleep', '0.3'] }], 'createRuntime', '{}');
  clearInterval(timer);
  t.ok(ticks >= 10, `${ticks} timer ticks during a 300 ms hook`);
});

t.test('no hooks: nothing runs, and child_process is not needed', async (t) => {
  await t.resolves(runHooks(undefined, 'prestart', '{}'));
  await t.resolves(runHooks([], 'prestart', '{}'));
});
