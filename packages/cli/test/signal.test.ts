import t from 'tap';
import { isRuntsError } from '@runts/errors';
import { parseSignal } from '../src/signal';

t.test('signals by name, SIG name or number', async (t) => {
  t.equal(parseSignal('TERM'), 15);
  t.equal(parseSignal('sigkill'), 9);
  t.equal(parseSignal('SIGUSR1'), 10);
  t.equal(parseSignal('hup'), 1);
  t.equal(parseSignal('2'), 2);
  t.equal(parseSignal('64'), 64);
});

t.test('unknown names and numbers out of range are usage errors', async (t) => {
  for (const s of ['NOPE', 'SIGNOPE', '0', '65', '-9', '']) {
    try {
      parseSignal(s);
      t.fail(`${s} accepted`);
    } catch (e) {
      t.ok(isRuntsError(e) && e.code === 'ERR_USAGE', s);
      t.equal((e as Error).message, `unknown signal "${s}"`);
    }
  }
});
