// runtsd: container records and the shims behind them. Records
// are the truth across restarts; shims are reached again on start, and the
// events they kept while runtsd was away are applied before anything else.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { StatusError, grpc, supervisorApi, unaryCall, type shim, type supervisor } from '@runts/proto';
import { privateDir } from '@runts/sys/privdir';
import { writeAtomic } from '@runts/sys/journal';
import { containersService, type Containers } from './service';
import { applyEvent, eventContainer, isInitExit, RecordStore, type ContainerRecord } from './records';
import { deadline, probe, readOutbox, renice, ShimConn, shimClient, shimPaths, spawnShim, type ShimEvents, type ShimPaths, type Upstream } from './shims';

export interface DaemonOptions {
  address: string;
  stateDir: string;
  shimBin: string;
  /** The runts CLI: cleans up after a shim that died (delete --force in its runtime root). */
  runtsBin: string;
  log: (msg: string) => void;
  /** Shims started ahead of need, so a new container does not wait for one to boot. */
  warmShims?: number;
}

/** Marks a warm shim's dir until a container takes it. */
export const WARM_MARK = 'warm';
/** Where a warm shim's dir is made, before it is moved among the shims. */
const STAGING = '.warm-';
const WARM_REFILL_MS = 500;
// Warm shims boot at a lower priority, so running containers keep the CPU;
// only root can give it back when one is taken (its containers inherit it).
const WARM_NICE = process.geteuid?.() === 0 ? 10 : 0;

interface WarmShim {
  paths: ShimPaths;
  pid: number;
  client: shim.TaskClient;
  /** The last event of a recycled shim's previous container. */
  after?: number;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const SHIM_LOST = 'shim exited';

interface Waiter {
  resolve: (rec: ContainerRecord) => void;
  reject: (e: Error) => void;
}

type Sink = { write(m: supervisor.Event): boolean };

export class Daemon implements ShimEvents, Containers {
  private readonly store: RecordStore;
  private readonly records = new Map<string, ContainerRecord>();
  /** Live shims by dir. */
  private readonly shims = new Map<string, ShimConn>();
  /** A group's shim being started, so concurrent creates share it. */
  private readonly starting = new Map<string, Promise<ShimConn>>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly subscribers = new Set<Sink>();
  /** Open logs/attach streams per container: auto-remove waits for them to drain. */
  private readonly streams = new Map<string, number>();
  private readonly pendingRemove = new Set<string>();
  private server: grpc.Server | undefined;
  private readonly warm: Promise<WarmShim | undefined>[] = [];
  private closed = false;

  constructor(private readonly opts: DaemonOptions) {
    privateDir(opts.stateDir, '--state-dir', { create: true });
    this.store = new RecordStore(opts.stateDir);
  }

  /** Loads the records and reaches every shim they name; dead shims' outboxes are read directly. */
  async restore(): Promise<void> {
    for (const rec of this.store.load(this.opts.log)) this.records.set(rec.id, rec);
    const byDir = new Map<string, ContainerRecord[]>();
    for (const rec of this.records.values()) byDir.set(rec.shimDir, [...(byDir.get(rec.shimDir) ?? []), rec]);
    await Promise.all(
      [...byDir].map(async ([dir, recs]) => {
        const first = recs[0]!;
        const client = shimClient(first.shimSocket);
        const hello = existsSync(first.shimSocket) ? await probe(client) : undefined;
        if (!hello) {
          client.close();
          this.recoverDead(dir);
          return;
        }
        const after = Math.min(...recs.map((r) => r.lastSeq));
        const conn = new ShimConn(dir, first.shimSocket, hello.shimPid, client, after, this);
        this.shims.set(dir, conn);
        conn.subscribe();
      }),
    );
    for (const n of readdirSync(this.opts.stateDir)) if (n.startsWith(STAGING)) rmSync(join(this.opts.stateDir, n), { recursive: true, force: true });
    const shimsDir = join(this.opts.stateDir, 'shims');
    const unused = existsSync(shimsDir) ? readdirSync(shimsDir).map((n) => join(shimsDir, n)).filter((d) => !byDir.has(d)) : [];
    for (const dir of unused) void this.retire(dir).catch((e: Error) => this.opts.log(`retiring shim ${dir}: ${e.message}`));
  }

  /** Refuses to run beside another runtsd on the same socket or state dir; call before restore. */
  async claim(): Promise<void> {
    const { address, stateDir } = this.opts;
    // Before asking whatever listens there: a socket another user could have put there.
    privateDir(dirname(address), '--address', { create: true });
    if (existsSync(address) && (await this.answers(address))) throw new Error(`runtsd is already running at ${address}`);
    const pidFile = join(stateDir, 'runtsd.pid');
    const other = Number(readText(pidFile));
    if (other > 0 && other !== process.pid && readText(`/proc/${other}/cmdline`).includes('runtsd')) {
      throw new Error(`state dir ${stateDir} is in use by runtsd pid ${other}`);
    }
    writeAtomic(pidFile, String(process.pid));
  }

  async listen(): Promise<void> {
    const { address } = this.opts;
    privateDir(dirname(address), '--address', { create: true });
    rmSync(address, { force: true });
    const server = new grpc.Server();
    server.addService(supervisorApi().Containers.service, containersService(this));
    const mask = process.umask(0o177);
    try {
      await new Promise<void>((res, rej) => server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    } finally {
      process.umask(mask);
    }
    this.server = server;
  }

  private async answers(address: string): Promise<boolean> {
    const api = supervisorApi();
    const c = new api.Containers(`unix://${address}`, grpc.credentials.createInsecure());
    try {
      await unaryCall((cb) => c.List({}, deadline(500), cb));
      return true;
    } catch {
      return false;
    } finally {
      c.close();
    }
  }

  /** SIGTERM: stops serving, then stops the warm shims, which serve no
   * container, and removes their dirs. Shims serving containers, and their
   * containers, keep running for the next runtsd. */
  async shutdown(): Promise<void> {
    this.closed = true;
    this.server?.forceShutdown();
    await Promise.all(
      this.warm.splice(0).map(async (p) => {
        const w = await p;
        if (!w) return;
        w.client.close();
        await this.retire(w.paths.dir).catch((e: Error) => this.opts.log(`retiring warm shim ${w.paths.dir}: ${e.message}`));
      }),
    );
    this.close();
  }

  /** Stops serving; shims and containers keep running. */
  close(): void {
    this.closed = true;
    for (const conn of this.shims.values()) conn.close();
    this.shims.clear();
    if (!this.server) return;
    this.server.forceShutdown();
    rmSync(this.opts.address, { force: true });
    rmSync(join(this.opts.stateDir, 'runtsd.pid'), { force: true });
  }

  // ---- events from shims ----

  event(conn: ShimConn, env: shim.Envelope__Output): boolean {
    const rec = this.records.get(eventContainer(env) ?? '');
    if (!rec || rec.shimDir !== conn.dir) return true;
    return this.apply(rec, env);
  }

  lost(conn: ShimConn): void {
    this.shims.delete(conn.dir);
    this.opts.log(`shim ${conn.dir} (pid ${conn.pid}) stopped answering`);
    this.recoverDead(conn.dir);
  }

  /** Applies an event to a copy, writes it, then adopts it: false if it could not be made durable. */
  private apply(rec: ContainerRecord, env: shim.Envelope__Output): boolean {
    const next = structuredClone(rec);
    if (!applyEvent(next, env)) return true;
    try {
      this.store.write(next);
    } catch (e) {
      this.opts.log(`cannot record event ${env.seq} of ${rec.id}: ${(e as Error).message}`);
      return false;
    }
    const exited = rec.status !== 'stopped' && next.status === 'stopped' && isInitExit(next, env);
    Object.assign(rec, next);
    for (const s of this.subscribers) s.write({ containerId: rec.id, envelope: env });
    if (!exited) return true;
    this.settle(rec.id, rec);
    if (rec.autoRemove) this.autoRemove(rec.id);
    return true;
  }

  /** A dead shim's undelivered events, then its containers that had not exited are marked unknown. */
  private recoverDead(dir: string): void {
    for (const env of readOutbox(dir)) {
      const rec = this.records.get(eventContainer(env) ?? '');
      if (rec && rec.shimDir === dir) this.apply(rec, env);
    }
    for (const rec of this.records.values()) {
      if (rec.shimDir !== dir || rec.status === 'stopped' || rec.status === 'unknown') continue;
      rec.status = 'unknown';
      rec.reason = SHIM_LOST;
      // Not fatal: the next start finds the shim dead again and reaches the same state.
      try {
        this.store.write(rec);
      } catch (e) {
        this.opts.log(`cannot record that ${rec.id}'s shim is gone: ${(e as Error).message}`);
      }
      this.settle(rec.id, new StatusError(grpc.status.FAILED_PRECONDITION, `container ${rec.id}: ${SHIM_LOST}`));
    }
  }

  private settle(id: string, outcome: ContainerRecord | Error): void {
    const ws = this.waiters.get(id) ?? [];
    this.waiters.delete(id);
    for (const w of ws) outcome instanceof Error ? w.reject(outcome) : w.resolve(outcome);
  }

  private waitExit(rec: ContainerRecord, timeoutMs?: number): Promise<ContainerRecord | undefined> {
    if (rec.status === 'stopped') return Promise.resolve(rec);
    if (rec.status === 'unknown') return Promise.reject(new StatusError(grpc.status.FAILED_PRECONDITION, `container ${rec.id}: ${rec.reason || 'state unknown'}`));
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject };
      this.waiters.set(rec.id, [...(this.waiters.get(rec.id) ?? []), w]);
      if (timeoutMs === undefined) return;
      const timer = setTimeout(() => {
        const left = (this.waiters.get(rec.id) ?? []).filter((x) => x !== w);
        if (left.length) this.waiters.set(rec.id, left);
        else this.waiters.delete(rec.id);
        resolve(undefined);
      }, timeoutMs);
      w.resolve = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  private autoRemove(id: string): void {
    if ((this.streams.get(id) ?? 0) > 0) {
      this.pendingRemove.add(id);
      return;
    }
    this.pendingRemove.delete(id);
    this.remove(id, true).catch((e: Error) => this.opts.log(`auto-remove ${id}: ${e.message}`));
  }

  /** Auto-removal of `id` waits until the returned function is called: a stream is, or is about to be, attached. */
  private holdRemoval(id: string): () => void {
    this.streams.set(id, (this.streams.get(id) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const n = (this.streams.get(id) ?? 1) - 1;
      if (n > 0) this.streams.set(id, n);
      else this.streams.delete(id);
      if (n <= 0 && this.pendingRemove.has(id)) this.autoRemove(id);
    };
  }

  // ---- operations ----

  get(id: string): ContainerRecord {
    const rec = this.records.get(id);
    if (!rec) throw new StatusError(grpc.status.NOT_FOUND, `no such container: ${id}`);
    return rec;
  }

  private conn(rec: ContainerRecord): ShimConn {
    const conn = this.shims.get(rec.shimDir);
    if (!conn) throw new StatusError(grpc.status.FAILED_PRECONDITION, `container ${rec.id}: ${rec.reason || SHIM_LOST}`);
    return conn;
  }

  /** The group's live shim, or a new one (one per container when there is no group). */
  private shimFor(id: string, group: string): Promise<ShimConn> {
    if (group) {
      for (const rec of this.records.values()) {
        const conn = rec.group === group ? this.shims.get(rec.shimDir) : undefined;
        if (conn) return Promise.resolve(conn);
      }
      const pending = this.starting.get(group);
      if (pending) return pending;
    }
    const p = (async () => {
      const warm = await this.takeWarm();
      const paths = warm?.paths ?? shimPaths(this.opts.stateDir, group ? `g-${group}` : id);
      const { pid, client } = warm ?? (await spawnShim(this.opts.shimBin, paths));
      const conn = new ShimConn(paths.dir, paths.socket, pid, client, warm?.after ?? 0, this);
      this.shims.set(paths.dir, conn);
      conn.subscribe();
      return conn;
    })();
    if (group) {
      this.starting.set(group, p);
      const done = () => this.starting.delete(group);
      p.then(done, done);
    }
    return p;
  }

  /** Keeps opts.warmShims shims booted and idle (their dirs marked), ready for new containers. */
  prewarm(): void {
    while (!this.closed && this.warm.length < (this.opts.warmShims ?? 0)) {
      const paths = shimPaths(this.opts.stateDir, 'warm');
      // Marked before it appears among the shims: one still booting is no container's either.
      const staged = mkdtempSync(join(this.opts.stateDir, STAGING));
      writeFileSync(join(staged, WARM_MARK), '');
      mkdirSync(dirname(paths.dir), { recursive: true, mode: 0o700 });
      renameSync(staged, paths.dir);
      const p = spawnShim(this.opts.shimBin, paths, { nice: WARM_NICE }).then(
        (s) => ({ paths, ...s }),
        (e: Error) => {
          // Its process is gone (spawnShim kills one that never answers); the reason is in this line.
          this.opts.log(`warm shim: ${e.message}`);
          rmSync(paths.dir, { recursive: true, force: true });
          return undefined;
        },
      );
      this.warm.push(p);
    }
  }

  /** A warm shim for a new container, back at normal priority, and another
   * one started in its place a little later: a shim's boot takes a whole core
   * for a while, and made beside the container that took the last one it
   * slowed that one down. */
  private async takeWarm(): Promise<WarmShim | undefined> {
    const next = this.warm.shift();
    setTimeout(() => this.prewarm(), WARM_REFILL_MS).unref();
    const w = await next;
    if (!w) return undefined;
    rmSync(join(w.paths.dir, WARM_MARK), { force: true });
    if (WARM_NICE) renice(w.pid, 0);
    return w;
  }

  /** A new container on its shim; with start, started in the same call (a run in one round trip). */
  async create(req: supervisor.CreateRequest__Output, { start = false } = {}): Promise<ContainerRecord> {
    const { rec, conn } = await this.reserve(req);
    try {
      const res = await unaryCall<shim.CreateTaskResponse__Output>((cb) => conn.client.Create({ id: rec.id, bundle: req.bundle, terminal: req.terminal, stdin: req.stdin, start }, cb));
      // Not written here: the shim's TaskCreate (and TaskStart) events carry this to disk, and are replayed until they have.
      if (start) started(rec, res.pid);
      else if (rec.pid === 0) rec.pid = res.pid;
      return rec;
    } catch (e) {
      this.unreserve(rec, conn);
      throw e;
    }
  }

  /**
   * A new container created, started and attached to by its shim in one
   * call: the stream answers `created` (then rec is running) before any
   * output, or fails, and then no container is left. First carries the
   * attach's options (window size, input). Auto-removal waits for done.
   */
  async runAttached(req: supervisor.CreateRequest__Output, first: shim.AttachInput): Promise<{ rec: ContainerRecord; upstream: Upstream; done: () => void }> {
    const { rec, conn } = await this.reserve(req);
    const done = this.holdRemoval(rec.id);
    const upstream = conn.client.Attach();
    let made = false;
    upstream.on('data', (out: shim.AttachOutput__Output) => {
      if (made || !out.created) return;
      made = true;
      started(rec, out.created.pid);
    });
    upstream.on('error', () => {
      if (!made) this.unreserve(rec, conn);
    });
    upstream.write({ ...first, logs: true, follow: true, create: { id: rec.id, bundle: req.bundle, terminal: req.terminal, stdin: req.stdin, start: true } });
    return { rec, upstream, done };
  }

  /** A record for a new container, and its shim. */
  private async reserve(req: supervisor.CreateRequest__Output): Promise<{ rec: ContainerRecord; conn: ShimConn }> {
    const id = req.id || newId();
    if (!ID_RE.test(id)) throw new StatusError(grpc.status.INVALID_ARGUMENT, `invalid container id ${JSON.stringify(id)}: use letters, digits, '_', '.', '-'`);
    if (req.group && !ID_RE.test(req.group)) throw new StatusError(grpc.status.INVALID_ARGUMENT, `invalid group name ${JSON.stringify(req.group)}`);
    if (this.records.has(id)) throw new StatusError(grpc.status.ALREADY_EXISTS, `container ${id} already exists`);
    if (!isAbsolute(req.bundle)) throw new StatusError(grpc.status.INVALID_ARGUMENT, `bundle path must be absolute: ${req.bundle}`);
    if (!existsSync(join(req.bundle, 'config.json'))) throw new StatusError(grpc.status.INVALID_ARGUMENT, `no config.json in bundle ${req.bundle}`);
    const now = Date.now();
    // Claimed before the shim starts, so a concurrent create of the same id fails.
    const rec: ContainerRecord = {
      id, bundle: req.bundle, group: req.group, terminal: req.terminal, stdin: req.stdin, autoRemove: req.autoRemove,
      shimDir: '', shimSocket: '', shimPid: 0, status: 'created', pid: 0, exitStatus: 0, exitedAtMs: 0,
      createdAtMs: now, startedAtMs: 0, lastSeq: 0, reason: '',
    };
    this.records.set(id, rec);
    let conn: ShimConn | undefined;
    try {
      conn = await this.shimFor(id, req.group);
      Object.assign(rec, { shimDir: conn.dir, shimSocket: conn.socket, shimPid: conn.pid });
      this.store.write(rec);
      return { rec, conn };
    } catch (e) {
      this.unreserve(rec, conn);
      throw e;
    }
  }

  /** Undoes reserve for a container its shim did not make. */
  private unreserve(rec: ContainerRecord, conn: ShimConn | undefined): void {
    this.records.delete(rec.id);
    this.store.remove(rec.id);
    if (conn) this.release(conn.dir);
  }

  async start(id: string): Promise<ContainerRecord> {
    const rec = this.get(id);
    const res = await unaryCall<shim.StartResponse__Output>((cb) => this.conn(rec).client.Start({ id }, cb));
    started(rec, res.pid);
    return rec;
  }

  async kill(req: supervisor.KillRequest__Output): Promise<void> {
    const rec = this.get(req.id);
    await unaryCall((cb) => this.conn(rec).client.Kill({ id: req.id, execId: req.execId, signal: req.signal || 15, all: req.all }, cb));
  }

  /** The signal (SIGTERM by default), then SIGKILL once timeout_s passed (0: at once). */
  async stop(req: supervisor.StopRequest__Output): Promise<ContainerRecord> {
    const rec = this.get(req.id);
    if (rec.status === 'stopped') return rec;
    const client = this.conn(rec).client;
    await unaryCall((cb) => client.Kill({ id: req.id, signal: req.signal || 15 }, cb));
    if (await this.waitExit(rec, req.timeoutS * 1000)) return rec;
    await unaryCall((cb) => client.Kill({ id: req.id, signal: 9 }, cb));
    await this.waitExit(rec, 10000);
    return rec;
  }

  async remove(id: string, force: boolean): Promise<ContainerRecord> {
    const rec = this.get(id);
    if (!force && (rec.status === 'running' || rec.status === 'paused')) {
      throw new StatusError(grpc.status.FAILED_PRECONDITION, `container ${id} is ${rec.status}: stop it first or force the removal`);
    }
    const conn = this.shims.get(rec.shimDir);
    if (conn) {
      try {
        await unaryCall((cb) => conn.client.Delete({ id, force }, cb));
      } catch (e) {
        if ((e as grpc.ServiceError).code !== grpc.status.NOT_FOUND) throw e;
      }
      await conn.flushAck();
    } else if (force && rec.shimDir) {
      // No shim to ask: the runtime's own state in the shim's dir still names the container.
      spawnSync(this.opts.runtsBin, ['--root', join(rec.shimDir, 'runtime'), 'delete', '--force', id], { stdio: 'ignore', timeout: 15000 });
    } else if (rec.status === 'unknown') {
      throw new StatusError(grpc.status.FAILED_PRECONDITION, `container ${id}: ${rec.reason || SHIM_LOST}; force the removal to kill what is left of it`);
    }
    this.records.delete(id);
    this.store.remove(id);
    this.pendingRemove.delete(id);
    this.settle(id, new StatusError(grpc.status.NOT_FOUND, `container ${id} was removed`));
    this.release(rec.shimDir);
    return rec;
  }

  /** Once a shim serves no record: it joins the warm pool if that has room,
   * else it is shut down and its dir removed. */
  private release(dir: string): void {
    if (!dir || [...this.records.values()].some((r) => r.shimDir === dir)) return;
    const conn = this.shims.get(dir);
    this.shims.delete(dir);
    if (conn && this.recycle(conn)) return;
    conn?.close();
    this.retire(dir).catch((e: Error) => this.opts.log(`retiring shim ${dir}: ${e.message}`));
  }

  /** A shim that served a container has its code compiled and hot, where a
   * new one's first container pays for that, and it saves a
   * boot. It keeps its client; its events resume after the last one seen. */
  private recycle(conn: ShimConn): boolean {
    if (this.closed || !conn.live || this.warm.length >= (this.opts.warmShims ?? 0)) return false;
    conn.detach();
    try {
      writeFileSync(join(conn.dir, WARM_MARK), '');
    } catch {
      return false;
    }
    if (WARM_NICE) renice(conn.pid, WARM_NICE);
    this.warm.push(Promise.resolve({ paths: { dir: conn.dir, socket: conn.socket }, pid: conn.pid, client: conn.client, after: conn.acked }));
    return true;
  }

  /** Asks a shim serving nothing to exit, then removes its dir (also for shims left by a crash mid-removal). */
  private async retire(dir: string): Promise<void> {
    const client = shimClient(join(dir, 'task.sock'));
    try {
      const hello = existsSync(join(dir, 'task.sock')) ? await probe(client) : undefined;
      if (hello) {
        await unaryCall((cb) => client.Shutdown({ now: false }, deadline(5000), cb)).catch(() => {});
        await waitGone(hello.shimPid, 5000);
      }
      if (!hello || !hello.ids.length) rmSync(dir, { recursive: true, force: true });
    } finally {
      client.close();
    }
  }

  async exec(req: supervisor.ExecRequest__Output): Promise<number> {
    const rec = this.get(req.id);
    if (rec.status !== 'running') throw new StatusError(grpc.status.FAILED_PRECONDITION, `container ${req.id} is ${rec.status}, not running`);
    const client = this.conn(rec).client;
    const execId = req.execId || `exec-${randomBytes(4).toString('hex')}`;
    const process = execProcess(rec.bundle, req.specJson, req.terminal);
    await unaryCall((cb) => client.Exec({ id: req.id, execId, terminal: req.terminal, stdin: req.stdin, specJson: JSON.stringify(process) }, cb));
    const res = await unaryCall<shim.StartResponse__Output>((cb) => client.Start({ id: req.id, execId }, cb));
    return res.pid;
  }

  async wait(req: supervisor.WaitRequest__Output): Promise<shim.WaitResponse> {
    const rec = this.get(req.id);
    if (req.execId) return unaryCall<shim.WaitResponse__Output>((cb) => this.conn(rec).client.Wait({ id: req.id, execId: req.execId }, cb));
    const done = (await this.waitExit(rec))!;
    return { exitStatus: done.exitStatus, exitedAtMs: done.exitedAtMs };
  }

  // ---- for the service ----

  list(): ContainerRecord[] {
    return [...this.records.values()];
  }

  async stats(id: string): Promise<shim.StatsResponse__Output> {
    const rec = this.get(id);
    return unaryCall<shim.StatsResponse__Output>((cb) => this.conn(rec).client.Stats({ id }, cb));
  }

  /** Every applied event goes to sink until the returned function is called. */
  subscribe(sink: Sink): () => void {
    this.subscribers.add(sink);
    return () => this.subscribers.delete(sink);
  }

  /** A shim Attach stream for a container's process, counted so auto-remove waits for it; call done when it ends. */
  attach(id: string): { upstream: Upstream; done: () => void } {
    const rec = this.get(id);
    const upstream = this.conn(rec).client.Attach();
    return { upstream, done: this.holdRemoval(id) };
  }
}

/** An id for a container created without one. */
function newId(): string {
  return randomBytes(6).toString('hex');
}

/** A start the shim answered. Its TaskStart (or even TaskExit) event may
 * have been applied already; if not, that event writes this to disk when it comes. */
function started(rec: ContainerRecord, pid: number): void {
  if (rec.status !== 'created') return;
  rec.status = 'running';
  rec.pid = pid;
  rec.startedAtMs = Date.now();
}

/** The container's own process from its bundle, overlaid with what the exec request gives (args at least). */
export function execProcess(bundle: string, specJson: string, terminal: boolean): Record<string, unknown> {
  let base: Record<string, unknown> = {};
  try {
    const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { process?: Record<string, unknown> };
    base = cfg.process ?? {};
  } catch (e) {
    throw new StatusError(grpc.status.FAILED_PRECONDITION, `cannot read ${join(bundle, 'config.json')}: ${(e as Error).message}`);
  }
  let overlay: Record<string, unknown>;
  try {
    overlay = specJson ? (JSON.parse(specJson) as Record<string, unknown>) : {};
  } catch (e) {
    throw new StatusError(grpc.status.INVALID_ARGUMENT, `exec process is not JSON: ${(e as Error).message}`);
  }
  const { consoleSize: _size, ...rest } = base;
  return { ...rest, ...overlay, terminal };
}

/** Resolves once pid is gone (or a zombie no one reaped yet), or after ms. */
async function waitGone(pid: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (pid > 0 && Date.now() < until) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return;
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}
