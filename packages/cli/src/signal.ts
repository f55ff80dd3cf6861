import { RuntsError } from '@runts/errors';

/** `KILL`, `SIGKILL`, `kill`, `9` → 9. */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > 0 && n < 65) return n;
  } else {
    const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
    // Loaded only for a signal by name: node:os costs every start otherwise.
    const n = ((require('node:os') as typeof import('node:os')).constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw new RuntsError('ERR_USAGE', `unknown signal "${s}"`);
}
