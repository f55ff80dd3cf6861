// runtsd's entry point: flags, then the daemon until SIGTERM/SIGINT (which
// stop the warm shims and leave containers and their shims running: the
// next runtsd reconnects to them).
import { dirname, resolve } from 'node:path';
import { Logger, VERSION, versionText, writeAll } from '@runts/cli';
import { Daemon } from './daemon';
import { daemonFlags, parseDaemonCommandLine, type DaemonFlags } from './daemon-args';

export function cli(commit: string): void {
  // Through the stream, not writeAll: a resident must not block on a stderr nobody reads.
  const logger = new Logger(undefined, 'text', false, (s) => process.stderr.write(s), 'runtsd');
  const log = (msg: string) => logger.info(msg);
  let flags: DaemonFlags;
  try {
    const p = parseDaemonCommandLine(process.argv.slice(2));
    if (p.help !== undefined || p.version) {
      writeAll(1, p.help ?? versionText('runtsd', commit));
      return;
    }
    flags = daemonFlags(p.global);
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
  const quit = (signal: NodeJS.Signals) => {
    if (quitting) process.exit(0);
    quitting = true;
    log(`${signal}: stopping the warm shims; containers and their shims keep running`);
    void daemon.shutdown().finally(() => {
      log(`stopped (pid ${process.pid})`);
      process.exit(0);
    });
  };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  log(`starting: version ${VERSION}, commit ${commit}, pid ${process.pid}, address ${flags.address}, state dir ${flags.stateDir}`);
  daemon
    .claim()
    .then(() => daemon.restore())
    .then(() => daemon.listen())
    .then(() => daemon.prewarm())
    .then(() => log(`listening on ${flags.address}`))
    .catch((e: Error) => {
      log(e.message);
      daemon.close();
      log('stopped');
      process.exit(1);
    });
}
