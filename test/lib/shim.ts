// Starts a runts-shim for a test and talks to it over its Task service.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grpc, shimApi, type shim } from '@runts/proto';
import { Env, RUNTS, TOP, reapOrphans } from './harness';

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

const api = shimApi();

export class ShimProcess {
  readonly dir: string;
  readonly address: string;
  client: shim.TaskClient;
  pid = 0;

  constructor(t: Teardown) {
    this.dir = mkdtempSync(join(tmpdir(), 'runts-shim-'));
    this.address = join(this.dir, 'task.sock');
    this.client = new api.Task(`unix://${this.address}`, grpc.credentials.createInsecure());
    t.teardown(() => this.cleanup());
  }

  async start(): Promise<void> {
    const log = openSync(join(this.dir, 'shim.log'), 'a');
    const child = spawn(join(TOP, 'bin', 'runts-shim'), ['--address', this.address, '--dir', this.dir], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    child.unref();
    this.pid = child.pid ?? 0;
    // The socket file appears at bind, before listen: retry with a fresh client.
    for (let i = 0; ; i++) {
      if (existsSync(this.address) && (await this.call('Connect', { id: '' }).then(() => true, () => false))) return;
      if (i > 500) throw new Error(`runts-shim did not answer: ${readFileSync(join(this.dir, 'shim.log'), 'utf8')}`);
      this.client.close();
      this.client = new api.Task(`unix://${this.address}`, grpc.credentials.createInsecure());
      await sleep(20);
    }
  }

  /** One unary RPC, promisified. */
  call<K extends keyof shim.TaskClient>(method: K, req: Parameters<shim.TaskClient[K]>[0]): Promise<any> {
    const fn = (this.client[method] as unknown as (r: unknown, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void).bind(this.client);
    return new Promise((res, rej) => fn(req, (e, v) => (e ? rej(e) : res(v))));
  }

  /** Everything the outbox holds after `after`, waiting until `until` says enough. */
  async events(after = 0, until: (e: shim.Envelope__Output[]) => boolean = () => true, timeoutMs = 5000): Promise<shim.Envelope__Output[]> {
    const got: shim.Envelope__Output[] = [];
    const call = this.client.Subscribe({ after });
    return new Promise((res) => {
      const done = () => {
        clearTimeout(timer);
        call.cancel();
        res(got);
      };
      const timer = setTimeout(done, timeoutMs);
      call.on('data', (e: shim.Envelope__Output) => {
        got.push(e);
        if (until(got)) done();
      });
      call.on('error', () => undefined);
    });
  }

  /** A process's output: the log, then (follow) live output to its exit. */
  output(id: string, execId = '', follow = false): Promise<{ out: string; exitStatus?: number }> {
    const call = this.client.Attach();
    let out = '';
    let exitStatus: number | undefined;
    return new Promise((res, rej) => {
      call.on('data', (m: shim.AttachOutput__Output) => {
        out += m.stdout.toString() + m.stderr.toString();
        if (m.exited) exitStatus = m.exitStatus;
      });
      call.on('end', () => res(exitStatus === undefined ? { out } : { out, exitStatus }));
      call.on('error', rej);
      call.write({ id, execId, logs: true, follow });
    });
  }

  alive(): boolean {
    return this.pid > 0 && existsSync(`/proc/${this.pid}`) && !readFileSync(`/proc/${this.pid}/stat`, 'utf8').includes(') Z ');
  }

  async cleanup(): Promise<void> {
    if (this.alive()) {
      await Promise.race([this.call('Shutdown', { now: true }).catch(() => undefined), sleep(5000)]);
      for (let i = 0; i < 100 && this.alive(); i++) await sleep(20);
      if (this.alive()) process.kill(this.pid, 'SIGKILL');
    }
    this.client.close();
    // Whatever a dead shim left: its runtime state says what to remove.
    const root = join(this.dir, 'runtime');
    if (existsSync(root)) for (const id of readdirSync(root)) spawnSync(RUNTS, ['--root', root, 'delete', '--force', id], { timeout: 10000 });
    reapOrphans();
    if (process.env['KEEP_SHIM']) spawnSync('cp', [join(this.dir, 'shim.log'), `${process.env['KEEP_SHIM']}/${this.pid}.log`]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A test's bundles (Env) and a started shim, both cleaned up at teardown. */
export async function withShim(t: Teardown): Promise<{ env: Env; s: ShimProcess }> {
  const env = new Env(t);
  const s = new ShimProcess(t);
  await s.start();
  return { env, s };
}

export const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
