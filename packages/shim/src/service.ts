import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseResourcesJson, type OomWatch } from '@runts/cgroups';
import { RuntsError, isRuntsError } from '@runts/errors';
import { validateConfig, type Process } from '@runts/oci';
// No grpc-js here: containerd's shim serves these over ttrpc and loads none of it.
import type { shim } from '@runts/proto';
import { Status } from '@runts/proto/light';
import { StatusError } from '@runts/proto/status';
import type { Runtime } from '@runts/runtime';
import type { Sys, WaitStatus } from '@runts/sys';
import { toJson } from '@runts/cli';
import { ProcessIO, type Output, type StdioPaths } from './io';
import type { EventBody, Outbox } from './outbox';
import type { Reaper } from './reaper';
import { ProcessState } from './state';

interface Proc {
  containerId: string;
  execId: string;
  pid: number;
  pidfd: number;
  state: ProcessState;
  terminal: boolean;
  stdin: boolean;
  io: ProcessIO;
  exitStatus: number;
  exitedAtMs: number;
  /** An exit seen while starting waits here: TaskStart goes first. */
  pendingExit?: WaitStatus;
  waiters: (() => void)[];
  /** For an exec not yet started: its process. */
  process?: Process;
}

interface Container {
  id: string;
  bundle: string;
  init: Proc;
  execs: Map<string, Proc>;
  oom?: OomWatch;
}

// The containers this shim serves, over the runtime library: one method per
// Task RPC. Events go to the outbox in the order the contract promises.
export class Tasks {
  private readonly containers = new Map<string, Container>();
  /** Creates under way: they wait for the stage and hooks off the event loop. */
  private creating = 0;

  constructor(
    private readonly rt: Runtime,
    private readonly sys: Sys,
    private readonly reaper: Reaper,
    private readonly outbox: Outbox,
    private readonly logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true, mode: 0o700 });
  }

  ids(): string[] {
    return [...this.containers.keys()];
  }

  /** No container, and none being created: a shim may exit. */
  idle(): boolean {
    return this.containers.size === 0 && this.creating === 0;
  }

  /** With paths (containerd), stdio goes to the client's fifos instead of a log. */
  async create(r: shim.CreateTaskRequest__Output, paths?: StdioPaths): Promise<number> {
    if (!r.id) throw new StatusError(Status.INVALID_ARGUMENT, 'id is required');
    if (this.containers.has(r.id)) throw new StatusError(Status.ALREADY_EXISTS, `container "${r.id}" already exists`);
    const io = new ProcessIO(this.sys, paths ? '' : join(this.logDir, `${r.id}.log`), r.terminal, r.stdin, paths);
    let created;
    this.creating++;
    try {
      created = await this.rt.spawnInit(r.id, { bundle: r.bundle, noNewKeyring: r.noNewKeyring, ...(io.stdio ? { stdio: io.stdio } : {}) });
    } catch (e) {
      io.close();
      throw e;
    } finally {
      this.creating--;
    }
    io.spawned(created.master);
    const init = this.proc(r.id, '', created.pid, created.pidfd, io, r.terminal, r.stdin);
    const c: Container = { id: r.id, bundle: r.bundle, init, execs: new Map() };
    try {
      c.oom = this.rt.oomWatch(r.id);
    } catch {
      // No memory controller: no OOM events, as with runc.
    }
    this.containers.set(r.id, c);
    this.publish('/tasks/create', { create: { containerId: r.id, bundle: r.bundle, pid: created.pid } });
    this.reaper.watch(created.pid, created.pidfd, (st) => this.exited(c, init, st));
    return created.pid;
  }

  /** Create with start: all or nothing, so a failed start leaves no container behind.
   * A terminal is given its size in between: its process sees it from the start. */
  async run(r: shim.CreateTaskRequest__Output, size?: { width: number; height: number }): Promise<number> {
    const pid = await this.create(r);
    try {
      if (size?.width && size.height) this.resize({ id: r.id, execId: '', width: size.width, height: size.height });
      await this.start({ id: r.id, execId: '' });
    } catch (e) {
      await this.delete({ id: r.id, execId: '', force: true }).catch(() => undefined);
      throw e;
    }
    return pid;
  }

  async start(r: shim.StartRequest__Output): Promise<number> {
    const c = this.get(r.id);
    const p = this.process(c, r.execId);
    p.state.transition('start');
    if (!r.execId) {
      try {
        await this.rt.start(c.id);
      } catch (e) {
        p.state.transition('startFailed');
        if (p.pendingExit) this.exited(c, p, p.pendingExit);
        throw e;
      }
      p.state.transition('started');
      this.publish('/tasks/start', { start: { containerId: c.id, pid: p.pid } });
      if (p.pendingExit) this.exited(c, p, p.pendingExit);
    } else {
      let created;
      try {
        created = await this.rt.spawnExec(c.id, { process: p.process!, ...(p.io.stdio ? { stdio: p.io.stdio } : {}) });
      } catch (e) {
        p.state.transition('startFailed');
        // Its output ends here: a client reading it (a containerd fifo) sees EOF.
        p.io.spawned();
        throw e;
      }
      p.io.spawned(created.master);
      p.pid = created.pid;
      p.pidfd = created.pidfd;
      p.state.transition('started');
      this.publish('/tasks/exec-started', { execStarted: { containerId: c.id, execId: p.execId, pid: p.pid } });
      this.reaper.watch(created.pid, created.pidfd, (st) => this.exited(c, p, st));
    }
    return p.pid;
  }

  exec(r: shim.ExecProcessRequest__Output, paths?: StdioPaths): void {
    const c = this.get(r.id);
    if (!r.execId) throw new StatusError(Status.INVALID_ARGUMENT, 'exec_id is required');
    if (c.execs.has(r.execId)) throw new StatusError(Status.ALREADY_EXISTS, `exec "${r.execId}" already exists in container "${c.id}"`);
    if (!c.init.state.is('running')) throw new StatusError(Status.FAILED_PRECONDITION, `cannot exec in container "${c.id}": it is ${c.init.state.state}, not running`);
    let process: Process;
    try {
      process = validateConfig({ ociVersion: '1.0.2', process: JSON.parse(r.specJson) }).process!;
    } catch (e) {
      if (isRuntsError(e)) throw e;
      throw new StatusError(Status.INVALID_ARGUMENT, `spec_json: invalid JSON: ${(e as Error).message}`);
    }
    process.terminal = r.terminal;
    const io = new ProcessIO(this.sys, paths ? '' : join(this.logDir, `${c.id}.${r.execId}.log`), r.terminal, r.stdin, paths);
    const p = this.proc(c.id, r.execId, 0, -1, io, r.terminal, r.stdin);
    p.process = process;
    c.execs.set(r.execId, p);
    this.publish('/tasks/exec-added', { execAdded: { containerId: c.id, execId: r.execId } });
  }

  state(r: shim.StateRequest__Output): shim.StateResponse {
    const c = this.get(r.id);
    const p = this.process(c, r.execId);
    return { id: c.id, execId: p.execId, bundle: c.bundle, pid: p.pid, status: p.state.status, terminal: p.terminal, exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs };
  }

  pids(r: shim.PidsRequest__Output): shim.ProcessInfo[] {
    const c = this.get(r.id);
    const execOf = new Map([...c.execs.values()].map((p) => [p.pid, p.execId]));
    return this.rt.processes(c.id).map((pid) => ({ pid, execId: execOf.get(pid) ?? '' }));
  }

  kill(r: shim.KillRequest__Output): void {
    const c = this.get(r.id);
    const signal = r.signal || 15;
    if (!r.execId) return this.rt.kill(c.id, signal, { all: r.all });
    const p = this.process(c, r.execId);
    if (!p.state.is('running')) throw new StatusError(Status.FAILED_PRECONDITION, `cannot signal exec "${p.execId}" in container "${c.id}": it is ${p.state.state}, not running`);
    this.sys.pidfdSendSignal(p.pidfd, signal);
  }

  pause(id: string): void {
    const c = this.get(id);
    c.init.state.check('pause');
    this.rt.pause(c.id);
    c.init.state.transition('pause');
    this.publish('/tasks/paused', { paused: { containerId: id } });
  }

  resume(id: string): void {
    const c = this.get(id);
    c.init.state.check('resume');
    this.rt.resume(c.id);
    c.init.state.transition('resume');
    this.publish('/tasks/resumed', { resumed: { containerId: id } });
  }

  update(r: shim.UpdateTaskRequest__Output): void {
    const c = this.get(r.id);
    const patch = parseResourcesJson(r.resourcesJson, 'resources_json');
    this.rt.update(c.id, { resources: patch.resources });
  }

  async stats(id: string): Promise<string> {
    const c = this.get(id);
    let data: unknown;
    await this.rt.events(c.id, { stats: true, intervalMs: 1 }, (e) => (data = (e as { data?: unknown }).data));
    return toJson(data ?? {});
  }

  resize(r: shim.ResizePtyRequest__Output): void {
    this.process(this.get(r.id), r.execId).io.resize(r.width, r.height);
  }

  closeIO(r: shim.CloseIORequest__Output): void {
    this.process(this.get(r.id), r.execId).io.closeStdin();
  }

  async wait(r: shim.WaitRequest__Output): Promise<shim.WaitResponse> {
    const p = this.process(this.get(r.id), r.execId);
    await stopped(p);
    return { exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs };
  }

  async delete(r: shim.DeleteRequest__Output): Promise<shim.DeleteResponse> {
    const c = this.get(r.id);
    if (r.execId) {
      const p = this.process(c, r.execId);
      p.state.transition('delete');
      this.drop(p);
      c.execs.delete(p.execId);
      return { pid: p.pid, exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs };
    }
    const p = c.init;
    const event = r.force ? 'forceDelete' : 'delete';
    p.state.check(event);
    await this.rt.delete(c.id, { force: true });
    if (!p.state.is('stopped')) {
      // Killed by the delete: its exit is reaped (often by this tick) and published before the delete.
      this.reaper.tick();
      await Promise.race([stopped(p), sleep(2000)]);
    }
    // Its exit may not have come: a forced delete goes on all the same.
    if (!p.state.is('deleted')) p.state.transition(p.state.can(event) ? event : 'forceDelete');
    for (const e of c.execs.values()) this.drop(e);
    this.drop(p);
    c.oom?.close();
    this.containers.delete(c.id);
    this.publish('/tasks/delete', { delete: { containerId: c.id, pid: p.pid, exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs } });
    return { pid: p.pid, exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs };
  }

  /** Kills and deletes everything (Shutdown now). */
  async deleteAll(): Promise<void> {
    for (const id of this.ids()) await this.delete({ id, execId: '', force: true }).catch(() => undefined);
  }

  /** Output of a process: its log so far (logs), then live output until it exits (follow). */
  attach(id: string, execId: string, fn: (o: Output) => void): { io: ProcessIO; detach: () => void; done: Promise<number> } {
    const p = this.process(this.get(id), execId);
    const detach = p.io.attach(fn);
    const done = (async () => {
      await stopped(p);
      await Promise.race([p.io.drained, sleep(500)]);
      return p.exitStatus;
    })();
    return { io: p.io, detach, done };
  }

  private exited(c: Container, p: Proc, st: WaitStatus): void {
    if (p.state.is('starting')) {
      p.pendingExit = st;
      return;
    }
    // An init's exit is published after its execs' (they die with its pid namespace).
    const execRunning = () => [...c.execs.values()].some((e) => e.state.is('running'));
    if (p.execId === '' && execRunning()) {
      this.reaper.tick();
      if (execRunning()) {
        setTimeout(() => this.exited(c, p, st), 20);
        return;
      }
    }
    if (p.state.is('stopped', 'deleted')) return;
    // An OOM kill is told before the exit it caused.
    if (p.execId === '') this.pollOom(c);
    p.state.transition('exit');
    p.exitStatus = st.code;
    p.exitedAtMs = Date.now();
    delete p.pendingExit;
    this.publish('/tasks/exit', { exit: { containerId: c.id, id: p.execId || c.id, pid: p.pid, exitStatus: p.exitStatus, exitedAtMs: p.exitedAtMs } });
    for (const w of p.waiters.splice(0)) w();
  }

  /** TaskOOM for each OOM kill since the last look (the shim looks every second). */
  pollOom(only?: Container): void {
    for (const c of only ? [only] : this.containers.values()) {
      for (let n = c.oom?.poll() ?? 0; n > 0; n--) this.publish('/tasks/oom', { oom: { containerId: c.id } });
    }
  }

  /** A deleted process's stdio and log: nothing reads a log after its container is gone. */
  private drop(p: Proc): void {
    p.io.close();
    if (p.io.logPath) rmSync(p.io.logPath, { force: true });
  }

  private proc(containerId: string, execId: string, pid: number, pidfd: number, io: ProcessIO, terminal: boolean, stdin: boolean): Proc {
    const who = execId ? `exec "${execId}" in container "${containerId}"` : `container "${containerId}"`;
    return { containerId, execId, pid, pidfd, state: new ProcessState(who), terminal, stdin, io, exitStatus: 0, exitedAtMs: 0, waiters: [] };
  }

  private get(id: string): Container {
    const c = this.containers.get(id);
    if (!c) throw new RuntsError('ERR_NOT_FOUND', `container "${id}" does not exist`);
    return c;
  }

  private process(c: Container, execId: string): Proc {
    if (!execId) return c.init;
    const p = c.execs.get(execId);
    if (!p) throw new RuntsError('ERR_NOT_FOUND', `exec "${execId}" does not exist in container "${c.id}"`);
    return p;
  }

  private publish(topic: string, body: Omit<EventBody, 'topic'>): void {
    this.outbox.publish({ topic, ...body });
  }
}

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms).unref());

/** Resolves once p has exited (at once if it has). */
function stopped(p: Proc): Promise<void> {
  return p.state.is('stopped', 'deleted') ? Promise.resolve() : new Promise<void>((res) => p.waiters.push(res));
}
