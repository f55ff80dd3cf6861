// containerd-shim-runts-v1: runts-shim as containerd's runtime v2 shim. The
// same Tasks as runtsd's shim, behind ttrpc and containerd's task API:
//   -namespace N -address A -publish-binary P -id ID start    (cwd: the bundle)
//   -namespace N -address A -publish-binary P -id ID -bundle B delete
// with no action, the resident shim that start spawns, and
//   -address A warm
// the warm shim that serves start and delete for the front (warm.ts).
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { VERSION } from '@runts/cli';
import { isRuntsError, RuntsError } from '@runts/errors';
import { StatusError, toStatus } from '@runts/proto/status';
import { codec, Status } from '@runts/proto/light';
import { TtrpcClient, TtrpcServer, type CallContext, type TtrpcHandler } from '@runts/proto/ttrpc';
import type { taskv2 } from '@runts/proto';
import { nodeChildren, Runtime } from '@runts/runtime';
import { LinuxSys, type Sys } from '@runts/sys';
import { processInfos } from './details';
import type { Sink, StdioPaths } from './io';
import { metricsAny } from './metrics';
import { Outbox, type Envelope } from './outbox';
import { Reaper } from './reaper';
import { Tasks } from './service';
import { serveWarm, SHIM_ROOT, warmSocket, type Answer, type Call } from './warm';

export const SHIM_NAME = 'containerd-shim-runts-v1';
const TASK = 'containerd.task.v2.Task';
const EVENTS = 'containerd.services.events.ttrpc.v1.Events';
/** containerd's own state dir: where its shims' sockets live whatever its config says. */
const SOCKET_DIR = '/run/containerd/s';
/** The runtime's state, one root per namespace (as runc.v2's /run/containerd/runc/<ns>). */
const RUNTIME_ROOT = '/run/containerd/runts';
const GROUP_ANNOTATION = 'io.kubernetes.cri.sandbox-id';
/** The ttrpc metadata key containerd sends the namespace as. */
const NAMESPACE_KEY = 'containerd-namespace-ttrpc';
const MNT_DETACH = 2;
/** The nice value a warm shim starts at, until it is ready. */
const WARMING_NICE = 10;
const SUCCESSOR_WAIT_MS = 5000;
const SUCCESSOR_DELAY_MS = 250;

export interface Flags {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  socket: string;
  debug: boolean;
  action: string;
}

const USAGE = `usage: ${SHIM_NAME} [flags] start|delete
containerd's runtime v2 shim for runts (runtime io.containerd.runts.v1); containerd runs it.
  -namespace N        containerd's namespace
  -address A          containerd's socket
  -publish-binary P   containerd, to publish events when TTRPC_ADDRESS is not set
  -id ID              the task
  -bundle B           the bundle (delete; start takes its cwd)
  -debug              log each task call and its duration to the bundle's log
  -v, -version        print the version
  -h, -help           show this help
start prints the address of the shim that serves the task's group; delete
cleans up after a shim that is gone and prints a DeleteResponse. With no
action it is that shim; \`-address A warm\` is the warm shim the front hands
start and delete to.
`;

/** Go's flag syntax, as containerd passes it: -name value, -name=value, -debug. */
function parseFlags(argv: string[]): Flags {
  const f: Flags = { namespace: '', address: '', publishBinary: '', id: '', bundle: '', socket: '', debug: false, action: '' };
  const names: Record<string, keyof Flags> = { namespace: 'namespace', address: 'address', 'publish-binary': 'publishBinary', id: 'id', bundle: 'bundle', socket: 'socket' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-')) {
      f.action = a;
      continue;
    }
    const [name, inline] = a.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    if (name === 'debug') {
      f.debug = true;
      continue;
    }
    if (name === 'v' || name === 'version' || name === 'h' || name === 'help') {
      f.action = name[0] === 'v' ? 'version' : 'help';
      continue;
    }
    const key = names[name];
    if (!key) throw new Error(`unknown flag -${name}`);
    const v = inline ?? argv[++i];
    if (v === undefined) throw new Error(`flag -${name} needs a value`);
    (f as unknown as Record<string, string>)[key] = v;
  }
  return f;
}

export function cli(commit: string): void {
  main(commit).catch((e: unknown) => {
    process.stderr.write(`${SHIM_NAME}: ${(e as Error).message}\n`);
    process.exit(1);
  });
}

async function main(commit: string): Promise<void> {
  const f = parseFlags(process.argv.slice(2));
  if (f.action === 'version') return void writeSync(1, `${SHIM_NAME}:\n  Version:  ${VERSION}\n  Revision: ${commit}\n  Node version: ${process.version}\n`);
  if (f.action === 'help') return void writeSync(1, USAGE);
  if (f.action === 'warm') return warm(f, commit);
  if (!f.namespace && f.action !== 'delete') throw new Error('-namespace is required');
  if (!f.id) throw new Error('-id is required');
  if (f.action === 'start') {
    writeSync(1, await startTask(f, process.cwd()));
    spawnWarm(f);
    return;
  }
  if (f.action === 'delete') {
    writeSync(1, await remove(f, process.cwd(), (m) => process.stderr.write(`${SHIM_NAME}: ${m}\n`)));
    return;
  }
  if (f.action === '') return serve(f, commit);
  throw new Error(`unknown action ${f.action}: expected start or delete`);
}

/** containerd's shim socket: a hash of its address, namespace and group (the id, or the pod's sandbox). */
function socketOf(f: Flags, bundle: string): string {
  let group = f.id;
  try {
    const spec = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { annotations?: Record<string, string> };
    group = spec.annotations?.[GROUP_ANNOTATION] || f.id;
  } catch {
    // No readable config.json: a shim of its own.
  }
  return join(SOCKET_DIR, createHash('sha256').update(join(f.address, f.namespace, group)).digest('hex'));
}

const answers = (path: string) => new Promise<boolean>((res) => {
  const s = connect(path);
  s.once('connect', () => (s.destroy(), res(true)));
  s.once('error', () => res(false));
});

/** `start`: the address of the shim that serves the task's group, after
 * making one (by `adopt`, or a new process) if none answers. */
async function startTask(f: Flags, bundle: string, adopt?: (sock: string) => Promise<void>): Promise<string> {
  const sock = socketOf(f, bundle);
  const address = `unix://${sock}`;
  // A group's shim may be serving already, or be starting for another container
  // right now: the resident that loses the bind hands over to the winner.
  if (!(await answers(sock))) await (adopt ? adopt(sock) : spawnResident(f, bundle, sock));
  writeFileSync(join(bundle, 'address'), address, { mode: 0o600 });
  // containerd 1.6 reads a plain address, not the JSON bootstrap form.
  return address;
}

/** A warm shim for f's containerd, unless one answers already (or with
 * force): detached, not waited for, and niced while it starts so that it
 * does not slow the task at hand. */
function spawnWarm(f: Flags, force = false): void {
  if (!f.address) return;
  void (force ? Promise.resolve(false) : answers(warmSocket(f.address))).then((up) => {
    if (up) return;
    const child = spawn(process.argv[1]!, ['-address', f.address, 'warm'], { detached: true, stdio: 'ignore' });
    child.on('error', () => undefined);
    if (child.pid) try { setPriority(child.pid, WARMING_NICE); } catch { /* gone already */ }
    child.unref();
  });
}

/** The warm shim: answers the front's start and delete calls in process. At
 * the first start that needs a new shim it becomes that shim, and spawns its
 * successor; until the successor has the warm socket it answers the front
 * still, making further new shims the slow way. Once its tasks are gone it
 * waits for the successor (at most SUCCESSOR_WAIT_MS) before it exits: the
 * `delete` containerd runs next must find a warm shim. */
async function warm(f: Flags, commit: string): Promise<void> {
  process.stderr.on('error', () => undefined);
  const sys = new LinuxSys();
  // Warm before taking the name: what the first task would otherwise wait for is
  // loading the native library (a pipe is its cheapest use) and compiling the
  // create path (a dry run, no side effect).
  for (const fd of sys.pipe()) sys.close(fd);
  try {
    new Runtime({ root: RUNTIME_ROOT, sys }).warmUp();
  } catch {
    // Only time is lost.
  }
  let adopted = false;
  let stopWarm = async (): Promise<void> => undefined;
  let succeeded!: () => void;
  const successor = new Promise<void>((res) => (succeeded = res));
  const handOver = async () => {
    const timer = setTimeout(succeeded, SUCCESSOR_WAIT_MS);
    await successor;
    clearTimeout(timer);
    await stopWarm();
  };
  stopWarm = await serveWarm(f.address, async (call: Call): Promise<Answer> => {
    const cf = parseFlags(call.args);
    const t0 = performance.now();
    const errors: string[] = [];
    if (cf.action === 'delete') {
      const out = await remove(cf, cf.bundle || call.cwd, (m) => errors.push(`${SHIM_NAME}: ${m}\n`));
      return { code: 0, stdout: out, stderr: errors.join('') };
    }
    if (cf.action !== 'start' || !cf.namespace || !cf.id) return { code: 1, stdout: '', stderr: `${SHIM_NAME}: the warm shim serves start and delete only\n` };
    const adopt = adopted ? undefined : async (sock: string) => {
      adopted = true;
      becomeTask(sys, call);
      // Its successor boots a while after the task started, or once the task is
      // gone, whichever comes first: booting takes CPU that a pod's next
      // containers need now, and this shim answers the front meanwhile.
      let spawned = false;
      const bootSuccessor = () => {
        if (!spawned) spawnWarm(cf, true);
        spawned = true;
      };
      const hooks = {
        started: () => void setTimeout(bootSuccessor, SUCCESSOR_DELAY_MS).unref(),
        beforeExit: async () => {
          bootSuccessor();
          await handOver();
        },
      };
      // Another shim of the group won the socket: warm again.
      if (!(await resident(cf, sock, commit, sys, hooks))) adopted = false;
    };
    const address = await startTask(cf, call.cwd, adopt);
    if (cf.debug) debug('start', { id: cf.id, adopted: String(adopted), ms: Math.round((performance.now() - t0) * 10) / 10 });
    return { code: 0, stdout: address, stderr: '' };
  }, () => {
    if (!adopted) process.exit(0);
    succeeded();
  });
  // Serving: from now on it runs as any shim would.
  setPriority(0);
}

/** What a process spawned by containerd for this task would have: its
 * environment (TTRPC_ADDRESS), the bundle as cwd, the bundle's log fifo as stderr. */
function becomeTask(sys: Sys, call: Call): void {
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, call.env);
  process.chdir(call.cwd);
  const log = openLog(call.cwd);
  if (log === undefined) return;
  sys.dup2(log, 2);
  closeSync(log);
}

/** The bundle's log fifo, for writing; containerd opens it first: without it the shim logs nowhere. */
function openLog(bundle: string): number | undefined {
  try {
    return openSync(join(bundle, 'log'), constants.O_WRONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
}

/** The resident shim: detached, without our stdout and stderr (containerd waits
 * for those to close); its log goes to the bundle's log fifo. It says it serves on fd 3. */
async function spawnResident(f: Flags, bundle: string, sock: string): Promise<void> {
  const log = openLog(bundle) ?? 'ignore';
  const args = ['-namespace', f.namespace, '-address', f.address, '-publish-binary', f.publishBinary, '-id', f.id, '-socket', sock, ...(f.debug ? ['-debug'] : [])];
  // By the name we were called by: a script with its node flags, or the single executable.
  const child = spawn(process.argv[1]!, args, { cwd: bundle, detached: true, stdio: ['ignore', 'ignore', log, 'pipe'] });
  if (typeof log === 'number') closeSync(log);
  const ready = child.stdio[3]!;
  let said = '';
  ready.on('data', (b: Buffer) => (said += b.toString()));
  await new Promise<void>((res, rej) => {
    ready.on('close', () => (said.startsWith('ready') ? res() : rej(new Error(`the shim did not start: ${said.trim() || 'it exited'}`))));
  });
  child.unref();
}

async function serve(f: Flags, commit: string): Promise<void> {
  const say = (m: string) => {
    try {
      writeSync(3, m);
      closeSync(3);
    } catch {
      // Not started by start (a test, or by hand).
    }
  };
  try {
    const bound = await resident(f, f.socket || socketOf(f, process.cwd()), commit, new LinuxSys());
    say('ready\n');
    if (!bound) process.exit(0);
  } catch (e) {
    say(`${(e as Error).message}\n`);
    throw e;
  }
}

/** Serves the task API on sock as its group's shim; false if another shim of the group has it. */
interface ResidentHooks {
  /** After the first task started (or at idle, if none did). */
  started?: () => void;
  /** Before the process exits, its tasks gone. */
  beforeExit?: () => Promise<void>;
}

async function resident(f: Flags, sock: string, commit: string, sys: Sys, hooks: ResidentHooks = {}): Promise<boolean> {
  // Our stderr is the bundle's log fifo: with containerd gone it has no reader,
  // and an EPIPE there must not take the shim (and its containers' exits) down.
  process.stderr.on('error', () => undefined);
  const server = new TtrpcServer(toStatus);
  let up!: () => void;
  server.holdUntil(new Promise((res) => (up = res)));
  mkdirSync(SOCKET_DIR, { recursive: true, mode: 0o711 });
  // Bound before anything of the group's is touched: one shim per group.
  if (!(await bind(server, sock))) return false;
  // containerd (root) is its only client.
  chmodSync(sock, 0o600);
  sys.setChildSubreaper();
  const dir = join(SHIM_ROOT, sock.slice(sock.lastIndexOf('/') + 1));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'shim.pid'), String(process.pid));
  const outbox = new Outbox(dir);
  const reaper = new Reaper(sys);
  reaper.start();
  const rt = new Runtime({ root: join(RUNTIME_ROOT, f.namespace), sys, warn: (m) => process.stderr.write(`${SHIM_NAME}: warning: ${m}\n`) });
  const tasks = new Tasks(rt, sys, reaper, outbox, join(dir, 'logs'));
  const shim = new ContainerdTasks(tasks, sys, commit, f.namespace);
  const forwarder = new Forwarder(outbox, f, (e) => shim.event(e));
  setInterval(() => tasks.pollOom(), 1000).unref();
  shim.onIdle = async () => {
    server.close();
    rmSync(sock, { force: true });
    await forwarder.drained(2000);
    reaper.stop();
    outbox.close();
    rmSync(dir, { recursive: true, force: true });
    shim.onStart();
    await hooks.beforeExit?.();
    process.exit(0);
  };
  let started = false;
  shim.onStart = () => {
    if (!started) hooks.started?.();
    started = true;
  };
  server.addService(TASK, f.debug ? logged(shim.handlers()) : shim.handlers());
  up();
  forwarder.start();
  return true;
}

/** A debug line on the shim's log, which containerd copies into its own. */
function debug(msg: string, fields: Record<string, string | number>): void {
  const kv = Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'number' ? v : JSON.stringify(v)}`).join('');
  process.stderr.write(`time="${new Date().toISOString()}" level=debug msg=${JSON.stringify(msg)}${kv}\n`);
}

/** With -debug (containerd at debug level): each call, its task and how long it took. */
function logged(handlers: Record<string, TtrpcHandler>): Record<string, TtrpcHandler> {
  return Object.fromEntries(Object.entries(handlers).map(([method, h]) => [method, async (r: { id?: string; execId?: string }, ctx: CallContext) => {
    const t0 = performance.now();
    let error = '';
    try {
      return await h(r, ctx);
    } catch (e) {
      error = (e as Error).message;
      throw e;
    } finally {
      debug(`task ${method}`, { id: r.id ?? '', ...(r.execId ? { exec: r.execId } : {}), ms: Math.round((performance.now() - t0) * 10) / 10, ...(error ? { error } : {}) });
    }
  }]));
}

/** Listens on sock; false if another shim of the group serves it already.
 * A socket nobody answers on is a dead shim's, and is replaced. */
async function bind(server: TtrpcServer, sock: string): Promise<boolean> {
  try {
    await server.listen(sock);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
  }
  if (await answers(sock)) return false;
  rmSync(sock, { force: true });
  await server.listen(sock);
  return true;
}

const ts = (ms: number) => (ms ? { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 } : null);

/** What containerd asked for at Create, for State, events and Delete. */
interface TaskRecord {
  bundle: string;
  rootfs: string | undefined;
  stdio: StdioPaths;
  terminal: boolean;
  mounts: taskv2.CreateTaskRequest__Output['rootfs'];
}

/** containerd's task API over Tasks: request and response shapes, rootfs
 * mounts, stdio paths. Everything else is the one Tasks implementation. */
export class ContainerdTasks {
  private readonly records = new Map<string, TaskRecord>();
  private readonly execStdio = new Map<string, StdioPaths>();
  onIdle: () => Promise<void> = async () => undefined;
  onStart: () => void = () => undefined;

  constructor(private readonly tasks: Tasks, private readonly sys: Sys, private readonly version: string, private readonly namespace = '') {}

  handlers(): Record<string, TtrpcHandler> {
    const t = this.tasks;
    return {
      Create: (r: taskv2.CreateTaskRequest__Output, ctx: CallContext) => this.create(r, ctx.metadata.get(NAMESPACE_KEY)?.[0] ?? this.namespace),
      Start: async (r: taskv2.StartRequest__Output) => {
        const pid = await t.start({ id: r.id, execId: r.execId });
        setImmediate(() => this.onStart());
        return { pid };
      },
      State: (r: taskv2.StateRequest__Output) => this.state(r),
      Delete: (r: taskv2.DeleteRequest__Output) => this.delete(r),
      Pids: (r: taskv2.PidsRequest__Output) => ({ processes: processInfos(t.pids(r)) }),
      Pause: (r: taskv2.PauseRequest__Output) => t.pause(r.id),
      Resume: (r: taskv2.ResumeRequest__Output) => t.resume(r.id),
      Checkpoint: () => {
        throw new StatusError(Status.UNIMPLEMENTED, 'checkpoint is not supported: runts-shim does not run CRIU');
      },
      Kill: (r: taskv2.KillRequest__Output) => this.kill(r),
      Exec: (r: taskv2.ExecProcessRequest__Output) => this.exec(r),
      ResizePty: (r: taskv2.ResizePtyRequest__Output) => t.resize(r),
      CloseIO: (r: taskv2.CloseIORequest__Output) => (r.stdin ? t.closeIO(r) : undefined),
      Update: (r: taskv2.UpdateTaskRequest__Output) => t.update({ id: r.id, resourcesJson: r.resources?.value.toString() || '{}' }),
      Wait: async (r: taskv2.WaitRequest__Output) => {
        const w = await t.wait(r);
        return { exitStatus: w.exitStatus, exitedAt: ts(Number(w.exitedAtMs)) };
      },
      Stats: async (r: taskv2.StatsRequest__Output) => ({ stats: metricsAny(await t.stats(r.id)) }),
      Connect: (r: taskv2.ConnectRequest__Output) => ({ shimPid: process.pid, taskPid: this.records.has(r.id) ? Number(t.state({ id: r.id, execId: '' }).pid) : 0, version: this.version }),
      Shutdown: () => {
        // As runc.v2: a shim that still serves containers stays.
        if (t.idle()) setImmediate(() => void this.onIdle());
        return {};
      },
    };
  }

  private async create(r: taskv2.CreateTaskRequest__Output, namespace: string): Promise<{ pid: number }> {
    if (r.checkpoint) throw new StatusError(Status.UNIMPLEMENTED, 'restoring a checkpoint is not supported: runts-shim does not run CRIU');
    const stdio = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr };
    // A binary:// logger reads both outputs; it is started, and ready, first.
    const logger = r.stdout.startsWith('binary://') ? await startLogger(r.stdout, r.id, namespace) : undefined;
    const rootfs = r.rootfs.length ? join(r.bundle, 'rootfs') : undefined;
    try {
      if (rootfs) mountRootfs(this.sys, r.rootfs, rootfs);
      this.records.set(r.id, { bundle: r.bundle, rootfs, stdio, terminal: r.terminal, mounts: r.rootfs });
      const io = logger ? { stdin: r.stdin, stdout: logger.stdout, stderr: logger.stderr } : stdio;
      return { pid: await this.tasks.create({ id: r.id, bundle: r.bundle, terminal: r.terminal, stdin: !!r.stdin, start: false, noNewKeyring: false }, io) };
    } catch (e) {
      this.records.delete(r.id);
      if (rootfs) unmountAll(this.sys, rootfs);
      logger?.kill();
      throw e;
    }
  }

  private state(r: taskv2.StateRequest__Output): Record<string, unknown> {
    const s = this.tasks.state(r);
    const io = (r.execId ? this.execStdio.get(`${r.id}/${r.execId}`) : this.records.get(r.id)?.stdio) ?? { stdin: '', stdout: '', stderr: '' };
    return { id: s.id, execId: s.execId, bundle: s.bundle, pid: s.pid, status: s.status, ...io, terminal: s.terminal, exitStatus: s.exitStatus, exitedAt: ts(Number(s.exitedAtMs)) };
  }

  private kill(r: taskv2.KillRequest__Output): void {
    try {
      if (this.tasks.state({ id: r.id, execId: r.execId }).status === 'STOPPED') throw new RuntsError('ERR_NOT_FOUND', 'process already finished');
      this.tasks.kill(r);
    } catch (e) {
      // What containerd's runc shim reports for a process that is gone.
      if (isRuntsError(e) && e.code === 'ERR_BAD_STATE') throw new RuntsError('ERR_NOT_FOUND', `process already finished: ${e.message}`);
      throw e;
    }
  }

  private exec(r: taskv2.ExecProcessRequest__Output): void {
    const stdio = { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr };
    this.tasks.exec({ id: r.id, execId: r.execId, terminal: r.terminal, stdin: !!r.stdin, specJson: r.spec?.value.toString() ?? '' }, stdio);
    this.execStdio.set(`${r.id}/${r.execId}`, stdio);
  }

  private async delete(r: taskv2.DeleteRequest__Output): Promise<Record<string, unknown>> {
    const d = await this.tasks.delete({ id: r.id, execId: r.execId, force: false });
    if (r.execId) {
      this.execStdio.delete(`${r.id}/${r.execId}`);
    } else {
      const rec = this.records.get(r.id);
      this.records.delete(r.id);
      if (rec?.rootfs) unmountAll(this.sys, rec.rootfs);
      for (const k of this.execStdio.keys()) if (k.startsWith(`${r.id}/`)) this.execStdio.delete(k);
    }
    return { pid: d.pid, exitStatus: d.exitStatus, exitedAt: ts(Number(d.exitedAtMs)) };
  }

  /** An outbox event as containerd's: its topic and an Any of the containerd.events message. */
  event(e: Envelope): { topic: string; type: string; body: Record<string, unknown> } | undefined {
    const exitedAt = (ms: unknown) => ts(Number(ms ?? 0));
    const topic = e.topic ?? '';
    if (e.create) {
      const rec = this.records.get(e.create.containerId ?? '');
      return {
        topic, type: 'TaskCreate',
        body: { containerId: e.create.containerId, bundle: e.create.bundle, pid: e.create.pid, rootfs: rec?.mounts ?? [], io: rec ? { ...rec.stdio, terminal: rec.terminal } : null },
      };
    }
    if (e.start) return { topic, type: 'TaskStart', body: { ...e.start } };
    if (e.exit) return { topic, type: 'TaskExit', body: { containerId: e.exit.containerId, id: e.exit.id, pid: e.exit.pid, exitStatus: e.exit.exitStatus, exitedAt: exitedAt(e.exit.exitedAtMs) } };
    if (e.delete) return { topic, type: 'TaskDelete', body: { containerId: e.delete.containerId, pid: e.delete.pid, exitStatus: e.delete.exitStatus, exitedAt: exitedAt(e.delete.exitedAtMs) } };
    if (e.execAdded) return { topic, type: 'TaskExecAdded', body: { ...e.execAdded } };
    if (e.execStarted) return { topic, type: 'TaskExecStarted', body: { ...e.execStarted } };
    if (e.oom) return { topic, type: 'TaskOOM', body: { ...e.oom } };
    if (e.paused) return { topic, type: 'TaskPaused', body: { ...e.paused } };
    if (e.resumed) return { topic, type: 'TaskResumed', body: { ...e.resumed } };
    return undefined;
  }
}

/** Events to containerd in outbox order, each acknowledged once containerd has
 * it: over ttrpc to TTRPC_ADDRESS, or by exec'ing the publish binary. */
export class Forwarder {
  private client: TtrpcClient | undefined;
  private busy = false;
  private idle: (() => void)[] = [];

  constructor(private readonly outbox: Outbox, private readonly f: Flags, private readonly translate: (e: Envelope) => { topic: string; type: string; body: Record<string, unknown> } | undefined) {}

  start(): void {
    this.outbox.listen(() => void this.pump());
    void this.pump();
  }

  /** Resolves once every event is out, or after ms. */
  drained(ms: number): Promise<void> {
    if (!this.busy && this.outbox.since(0).length === 0) return Promise.resolve();
    return new Promise((res) => {
      this.idle.push(res);
      setTimeout(res, ms).unref();
    });
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    let delay = 50;
    for (;;) {
      const e = this.outbox.since(0)[0];
      if (!e) break;
      try {
        await this.send(e);
        this.outbox.ack(e.seq);
        delay = 50;
      } catch (err) {
        process.stderr.write(`${SHIM_NAME}: publish ${e.topic}: ${(err as Error).message}\n`);
        await new Promise((res) => setTimeout(res, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
    this.busy = false;
    for (const w of this.idle.splice(0)) w();
  }

  private async send(e: Envelope): Promise<void> {
    const ev = this.translate(e);
    if (!ev) return;
    const typeUrl = `containerd.events.${ev.type}`;
    const any = { type_url: typeUrl, value: codec(typeUrl).encode(ev.body) };
    const address = process.env['TTRPC_ADDRESS'];
    if (address) {
      try {
        this.client ??= await TtrpcClient.connect(address.replace(/^unix:\/\//, ''));
        await this.client.call(EVENTS, 'Forward', { envelope: { timestamp: ts(e.timestampMs), namespace: this.f.namespace, topic: ev.topic, event: any } }, { metadata: { [NAMESPACE_KEY]: this.f.namespace } });
        return;
      } catch (err) {
        this.client?.close();
        this.client = undefined;
        if (!this.f.publishBinary) throw err;
      }
    }
    await this.publishByExec(ev.topic, codec('google.protobuf.Any').encode(any));
  }

  private publishByExec(topic: string, any: Buffer): Promise<void> {
    const child = spawn(this.f.publishBinary, ['--address', this.f.address, 'publish', '--topic', topic, '--namespace', this.f.namespace], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    child.stdin!.end(any);
    return new Promise((res, rej) => {
      child.on('error', rej);
      child.on('close', (code) => (code === 0 ? res() : rej(new Error(`${this.f.publishBinary} publish: ${err.trim() || `exit ${code}`}`))));
    });
  }
}

/** A binary:// logger (containerd's contract): the URI's path run with its
 * query as arguments and only CONTAINER_ID and CONTAINER_NAMESPACE in its
 * environment; stdout on its fd 3, stderr on 4, and a byte or EOF on 5 once ready. */
async function startLogger(uri: string, id: string, ns: string): Promise<{ stdout: Sink; stderr: Sink; kill: () => void }> {
  const u = new URL(uri);
  const args = [...u.searchParams].flatMap(([k, v]) => (v ? [k, v] : [k]));
  const child = spawn(u.pathname, args, { stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', 'pipe'], env: { CONTAINER_ID: id, CONTAINER_NAMESPACE: ns } });
  if (child.pid) {
    nodeChildren.add(child.pid);
    child.once('exit', () => nodeChildren.delete(child.pid!));
  }
  await new Promise<void>((res, rej) => {
    child.once('error', (e) => rej(new RuntsError('ERR_IO', `logger ${u.pathname}: ${e.message}`)));
    const ready = (child.stdio as unknown as Socket[])[5]!;
    ready.once('data', () => res());
    ready.once('close', () => res());
  });
  const pipes = child.stdio as unknown as Socket[];
  pipes[5]!.destroy();
  const sink = (s: Socket): Sink => {
    s.on('error', () => s.destroy());
    return { write: (b) => void s.write(b), close: () => void s.end() };
  };
  return {
    stdout: sink(pipes[3]!),
    stderr: sink(pipes[4]!),
    kill: () => void child.kill(),
  };
}

/** `delete`: what is left of a container whose shim is gone. Idempotent:
 * containerd runs it after every disconnect. Returns a DeleteResponse. */
async function remove(f: Flags, bundle: string, warn: (m: string) => void): Promise<Buffer> {
  const sys = new LinuxSys();
  let pid = 0;
  if (f.namespace) {
    const rt = new Runtime({ root: join(RUNTIME_ROOT, f.namespace), sys, warn: () => undefined });
    try {
      pid = rt.state(f.id).pid ?? 0;
      await rt.delete(f.id, { force: true });
    } catch (e) {
      if (!isRuntsError(e) || e.code !== 'ERR_NOT_FOUND') warn(`delete ${f.id}: ${(e as Error).message}`);
    }
  }
  unmountAll(sys, join(bundle, 'rootfs'));
  // A dead shim's socket and files (a live one keeps serving its group).
  const sock = socketOf(f, bundle);
  if (existsSync(sock) && !(await answers(sock))) {
    rmSync(sock, { force: true });
    rmSync(join(SHIM_ROOT, sock.slice(sock.lastIndexOf('/') + 1)), { recursive: true, force: true });
  }
  return codec('containerd.task.v2.DeleteResponse').encode({ pid, exitStatus: 128 + 9, exitedAt: ts(Date.now()) });
}

// mount(2) flags by fstab option; an option not here is filesystem data.
const MS: Record<string, [set: boolean, flag: number]> = {
  ro: [true, 1], rw: [false, 1], nosuid: [true, 2], suid: [false, 2], nodev: [true, 4], dev: [false, 4],
  noexec: [true, 8], exec: [false, 8], sync: [true, 16], async: [false, 16], dirsync: [true, 128],
  noatime: [true, 1024], atime: [false, 1024], nodiratime: [true, 2048], diratime: [false, 2048],
  relatime: [true, 1 << 21], norelatime: [false, 1 << 21], strictatime: [true, 1 << 24],
  bind: [true, 4096], rbind: [true, 4096 | 16384],
};
const MS_RDONLY = 1;
const MS_REMOUNT = 32;
const MS_BIND = 4096;

// mount(2) takes at most a page of data; containerd's margin below it.
const MAX_DATA = 4096 - 512;

/** Overlay data too long for mount(2) with its lowerdirs made relative to
 * their common parent (the mount is then made from that dir); else as is. */
export function compactOverlay(data: string[]): { data: string[]; dir?: string } {
  const i = data.findIndex((o) => o.startsWith('lowerdir='));
  if (data.join(',').length <= MAX_DATA || i < 0) return { data };
  const lowers = data[i]!.slice('lowerdir='.length).split(':');
  let prefix = lowers.reduce((p, l) => {
    let n = 0;
    while (n < p.length && p[n] === l[n]) n++;
    return p.slice(0, n);
  });
  prefix = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  if (prefix.length <= 1) return { data };
  const out = [...data];
  out[i] = `lowerdir=${lowers.map((l) => l.slice(prefix.length)).join(':')}`;
  return { data: out, dir: prefix };
}

/** The rootfs mounts containerd's snapshotter made, stacked on target: overlay, bind or rbind. */
export function mountRootfs(sys: Sys, mounts: taskv2.CreateTaskRequest__Output['rootfs'], target: string): void {
  mkdirSync(target, { recursive: true, mode: 0o711 });
  try {
    for (const m of mounts) {
      let flags = 0;
      const data: string[] = [];
      for (const o of m.options) {
        const known = MS[o];
        if (!known) data.push(o);
        else if (known[0]) flags |= known[1];
        else flags &= ~known[1];
      }
      const type = m.type === 'bind' || m.type === 'rbind' ? '' : m.type;
      if (m.type === 'rbind') flags |= MS.rbind![1];
      const { data: opts, dir } = type === 'overlay' ? compactOverlay(data) : { data };
      // A bind mount takes ro only on a remount.
      const mount = () => sys.mount(m.source, target, type, flags & ~(flags & MS_BIND ? MS_RDONLY : 0), opts.join(','));
      if (dir) {
        // The relative lowerdirs resolve from here; nothing else runs meanwhile.
        const cwd = process.cwd();
        process.chdir(dir);
        try {
          mount();
        } finally {
          process.chdir(cwd);
        }
      } else {
        mount();
      }
      if (flags & MS_BIND && flags & MS_RDONLY) sys.mount('', target, '', flags | MS_REMOUNT, '');
    }
  } catch (e) {
    unmountAll(sys, target);
    throw e;
  }
}

/** Unmounts everything stacked on target; nothing there is not an error. */
export function unmountAll(sys: Sys, target: string): void {
  for (let i = 0; i < 16; i++) {
    try {
      sys.umount2(target, MNT_DETACH);
    } catch {
      return;
    }
  }
}
