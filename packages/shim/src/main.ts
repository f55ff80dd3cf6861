// runts-shim: the parent of the containers it serves, their stdio and exit
// statuses, and the Task service on a unix socket.
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Logger, parseOptions, versionText, writeAll, type Flags } from '@runts/cli';
import { grpc, shimApi, warmCodecs } from '@runts/proto';
import { Runtime } from '@runts/runtime';
import { LinuxSys, privateDir } from '@runts/sys';
import { Outbox } from './outbox';
import { Reaper } from './reaper';
import { taskHandlers } from './server';
import { Tasks } from './service';

// runtsd starts it with both; no default would be right for two shims.
const FLAGS: Flags = {
  address: { type: 'string', describe: 'the unix socket to serve the Task service on (required)' },
  dir: { type: 'string', describe: 'its private directory: outbox, logs, runtime state (required)' },
};

const log = new Logger(undefined, 'text', false, (s) => process.stderr.write(s), 'runts-shim');

export function cli(commit: string): void {
  let address: string, dir: string;
  try {
    const p = parseOptions(process.argv.slice(2), FLAGS, 'runts-shim');
    if (p.help !== undefined || p.version) {
      writeAll(1, p.help ?? versionText('runts-shim', commit));
      return;
    }
    address = p.global['address'] as string;
    dir = p.global['dir'] as string;
    if (!address || !dir) throw new Error('--address and --dir are required (see runts-shim --help)');
  } catch (e) {
    log.error((e as Error).message);
    process.exitCode = 2;
    return;
  }
  main(commit, address, dir).catch((e: unknown) => {
    log.error((e as Error).message);
    process.exit(1);
  });
}

async function main(commit: string, address: string, dir: string): Promise<void> {
  privateDir(dir, '--dir', { create: true });
  privateDir(dirname(address), '--address', { create: true });
  const sys = new LinuxSys();
  sys.setChildSubreaper();
  writeFileSync(join(dir, 'shim.pid'), String(process.pid));

  const outbox = new Outbox(dir);
  const reaper = new Reaper(sys);
  reaper.start();
  const rt = new Runtime({ root: join(dir, 'runtime'), sys, warn: (m) => log.warn(m) });
  const tasks = new Tasks(rt, sys, reaper, outbox, join(dir, 'logs'));
  const server = new grpc.Server();
  setInterval(() => tasks.pollOom(), 1000).unref();

  // Graceful: the Shutdown call that asked for this still gets its answer.
  const exit = () => {
    reaper.stop();
    outbox.close();
    rmSync(address, { force: true });
    server.tryShutdown(() => process.exit(0));
    // Clients may keep their connections; the answer is out by then.
    setTimeout(() => process.exit(0), 100);
  };
  const shutdown = async (now: boolean) => {
    if (now) await tasks.deleteAll();
    // As containerd's shims: a shim that still serves containers stays.
    if (tasks.idle()) setImmediate(exit);
  };
  const service = shimApi().Task.service;
  server.addService(service, taskHandlers(tasks, outbox, shutdown, commit));
  rmSync(address, { force: true });
  // Made 0600: no moment when another user could connect.
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((res, rej) => server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  } finally {
    process.umask(mask);
  }
  // Booted ahead of need (a warm shim): the first create should find its code compiled.
  setImmediate(() => {
    try {
      rt.warmUp();
      warmCodecs(service);
    } catch (e) {
      log.error(`warm-up: ${(e as Error).message}`);
    }
  });
}
