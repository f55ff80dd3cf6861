// runtsd's command line, as a table that also makes its --help, man page and
// completion. Pure, so it is tested without a daemon.
import { dirname, join, resolve } from 'node:path';
import { RuntsError } from '@runts/errors';
import { parseOptions, type Flags, type Parsed, type Program } from '@runts/cli';

export const DEFAULT_ADDRESS = '/run/runts/runtsd.sock';
export const DEFAULT_STATE_DIR = '/var/lib/runts';

export interface DaemonFlags {
  address: string;
  stateDir: string;
  shim: string;
  warmShims: number;
}

const FLAGS: Flags = {
  address: { type: 'string', default: DEFAULT_ADDRESS, describe: 'the socket runtsctl connects to' },
  'state-dir': { type: 'string', default: DEFAULT_STATE_DIR, describe: 'container records and shim directories' },
  shim: { type: 'string', describe: 'the runts-shim to start (default: the one beside runtsd)' },
  'warm-shims': { type: 'string', default: '1', describe: 'shims kept booted for new containers, 0 to 16' },
};

export const RUNTSD: Program = {
  name: 'runtsd',
  section: 8,
  summary: 'the runts supervisor: container records, shims and events',
  description: [
    'runtsd serves runtsctl on a unix socket. It keeps a record of every container under the state directory, starts a runts-shim to be the parent of each container (or group of containers), and relays their events and output.',
    'On SIGTERM or SIGINT runtsd stops serving and exits; the shims and their containers keep running, and the next runtsd started on the same state directory reconnects to them.',
  ],
  global: FLAGS,
  commands: [],
};

/** The options, or the help or version asked for. */
export function parseDaemonCommandLine(argv: string[]): Parsed {
  return parseOptions(argv, FLAGS, 'runtsd');
}

export function daemonFlags(v: Record<string, unknown>): DaemonFlags {
  return {
    address: resolve(v['address'] as string),
    stateDir: resolve(v['state-dir'] as string),
    // By default the runts-shim installed beside the runtsd that was started.
    shim: resolve((v['shim'] as string | undefined) ?? join(dirname(process.argv[1] ?? __filename), 'runts-shim')),
    warmShims: warmShims(v['warm-shims'] as string),
  };
}

export function parseDaemonArgs(argv: string[]): DaemonFlags {
  return daemonFlags(parseDaemonCommandLine(argv).global);
}

function warmShims(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) > 16) throw new RuntsError('ERR_USAGE', `--warm-shims: "${v}" is not a count from 0 to 16`);
  return Number(v);
}
