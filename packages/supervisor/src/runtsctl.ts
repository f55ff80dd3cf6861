// runtsctl's entry point: parse, run one command against runtsd, print any
// error as one line (exit 1; a wrong command line exits 2).
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Logger, versionText, writeAll } from '@runts/cli';
import { privateDir } from '@runts/sys/privdir';
import { parseCtlArgs, UsageError } from './ctl/args';
import { connect, errorLine } from './ctl/client';
import { runCommand } from './ctl/commands';

const log = new Logger(undefined, 'text', false, (s) => writeAll(2, s), 'runtsctl');

export async function main(argv: string[], commit = 'unknown'): Promise<number> {
  let parsed;
  try {
    parsed = parseCtlArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    log.error(`${e.message} (see runtsctl --help)`);
    return 2;
  }
  if (parsed.command.name === 'help') {
    writeAll(1, parsed.command.text);
    return 0;
  }
  if (parsed.command.name === 'version') {
    writeAll(1, versionText('runtsctl', commit));
    return 0;
  }
  // Not a socket another user could have put there: it would get our requests.
  const dir = dirname(parsed.address);
  if (existsSync(dir)) {
    try {
      privateDir(dir, '--address');
    } catch (e) {
      log.error((e as Error).message);
      return 1;
    }
  }
  const client = connect(parsed.address);
  try {
    return await runCommand(client, parsed.command);
  } catch (e) {
    log.error(errorLine(e, parsed.address));
    return 1;
  } finally {
    client.close();
  }
}

export function cli(commit: string): void {
  main(process.argv.slice(2), commit).then(
    (code) => process.exit(code),
    (e: Error) => {
      log.error(e.message);
      process.exit(1);
    },
  );
}
