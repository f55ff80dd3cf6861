// runtsd's entry point: flags, then the daemon until SIGTERM/SIGINT (which
// stop the warm shims and leave containers and their shims running: the
// next runtsd reconnects to them).
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Daemon } from './daemon';

export const DEFAULT_ADDRESS = '/run/runts/runtsd.sock';
export const DEFAULT_STATE_DIR = '/var/lib/runts';

export interface DaemonFlags {
  address: string;
  stateDir: string;
  shim: string;
  warmShims: number;
}

export function parseDaemonArgs(argv: string[]): DaemonFlags {
  const { values } = parseArgs({
    args: argv,
    options: { address: { type: 'string' }, 'state-dir': { type: 'string' }, shim: { type: 'string' }, 'warm-shims': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  return {
    address: resolve(values.address ?? DEFAULT_ADDRESS),
    stateDir: resolve(values['state-dir'] ?? DEFAULT_STATE_DIR),
    // By default the runts-shim installed beside the runtsd that was started.
    shim: resolve(values.shim ?? join(dirname(process.argv[1] ?? __filename), 'runts-shim')),
    warmShims: warmShims(values['warm-shims'] ?? '1'),
  };
}

function warmShims(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 16) throw new Error(`--warm-shims: "${v}" is not a count from 0 to 16`);
  return Number(v);
}

export function cli(commit: string): void {
  const log = (msg: string) => process.stderr.write(`runtsd: ${msg}\n`);
  let flags: DaemonFlags;
  try {
    flags = parseDaemonArgs(process.argv.slice(2));
  } catch (e) {
    log((e as Error).message);
    process.exitCode = 2;
    return;
  }
  let daemon: Daemon;
  try {
    daemon = new Daemon({ address: flags.address, stateDir: flags.stateDir, shimBin: flags.shim, runtsBin: resolve(dirname(flags.shim), 'runts'), log, warmShims: flags.warmShims });
  } catch (e) {
    log((e as Error).message);
    process.exitCode = 1;
    return;
  }
  // A second signal does not wait for the warm shims to stop.
  let quitting = false;
  const quit = () => {
    if (quitting) process.exit(0);
    quitting = true;
    void daemon.shutdown().finally(() => process.exit(0));
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  daemon
    .claim()
    .then(() => daemon.restore())
    .then(() => daemon.listen())
    .then(() => daemon.prewarm())
    .then(() => log(`listening on ${flags.address} (state ${flags.stateDir}, commit ${commit})`))
    .catch((e: Error) => {
      log(e.message);
      daemon.close();
      process.exit(1);
    });
}
