// runtsctl's entry point: parse, run one command against runtsd, print any
// error as one line (exit 1; a wrong command line exits 2).
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeAll } from '@runts/runtime/dist/cli/log';
import { privateDir } from '@runts/sys/dist/privdir';
import { parseCtlArgs, USAGE, UsageError } from './ctl/args';
import { connect, errorLine } from './ctl/client';
import { runCommand } from './ctl/commands';

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCtlArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    writeAll(2, `runtsctl: ${e.message} (see runtsctl --help)\n`);
    return 2;
  }
  if (parsed.command.name === 'help') {
    writeAll(1, USAGE);
    return 0;
  }
  // Not a socket another user could have put there: it would get our requests.
  const dir = dirname(parsed.address);
  if (existsSync(dir)) {
    try {
      privateDir(dir, '--address');
    } catch (e) {
      writeAll(2, `runtsctl: ${(e as Error).message}\n`);
      return 1;
    }
  }
  const client = connect(parsed.address);
  try {
    return await runCommand(client, parsed.command);
  } catch (e) {
    writeAll(2, `runtsctl: ${errorLine(e, parsed.address)}\n`);
    return 1;
  } finally {
    client.close();
  }
}

export function cli(commit: string): void {
  if (process.argv[2] === '--version') {
    writeAll(1, `runtsctl version 0.1.0\ncommit: ${commit}\n`);
    return;
  }
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      writeAll(2, `runtsctl: ${e.message}\n`);
      process.exit(1);
    },
  );
}
