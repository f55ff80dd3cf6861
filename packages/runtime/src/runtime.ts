// The runtime library's one object: each operation lives in a file of its own
// (create.ts, start.ts, exec.ts, kill.ts, delete.ts, run.ts, control.ts,
// inspect.ts); this class holds what they share and hands each call on.
import type { LinuxResources, Process, State } from '@runts/oci';
import type { OomWatch } from '@runts/cgroups';
import { LinuxSys, type Sys } from '@runts/sys';
import type { CreateOptions, EventsOptions, ExecOptions, GlobalOptions, Queries, RunOptions, RuntimeApi, UpdateOptions } from './options';
import { StateStore } from './state';
import { createQueries } from './query';
import { safeClose, type Created, type Ctx } from './context';
import { createInit, warmUp } from './create';
import { start } from './start';
import { baseProcess, exec, spawnExec } from './exec';
import { kill } from './kill';
import { deleteContainer } from './delete';
import { run } from './run';
import { pause, resume, update } from './control';
import { events, features, oomWatch, processes, writeSpec } from './inspect';

export type { Created } from './context';

export interface RuntimeOptions {
  root: string;
  systemdCgroup?: boolean;
  sys?: Sys;
  warn?: (msg: string) => void;
  /** --debug: one line per setup step. Without it, no line is even built. */
  debug?: (msg: string) => void;
}

export class Runtime implements RuntimeApi {
  readonly store: StateStore;
  private readonly queries: Queries;
  private readonly ctx: Ctx;

  constructor(opts: RuntimeOptions) {
    this.store = new StateStore(opts.root);
    this.queries = createQueries(this.store);
    this.ctx = {
      store: this.store,
      sys: opts.sys ?? new LinuxSys(),
      warn: opts.warn ?? ((m) => process.stderr.write(`runts: warning: ${m}\n`)),
      debug: opts.debug,
      systemd: opts.systemdCgroup ?? false,
      pidfds: new Map(),
    };
  }

  async create(id: string, opts: CreateOptions): Promise<void> {
    safeClose(this.ctx, (await createInit(this.ctx, id, opts, false)).pidfd);
    this.ctx.pidfds.delete(id);
  }

  /** create for a parent that stays (the shim): it owns the init's pidfd and, with
   * a terminal and no console socket, the pty master. */
  async spawnInit(id: string, opts: CreateOptions): Promise<Created> {
    const created = await createInit(this.ctx, id, opts, true);
    this.ctx.pidfds.delete(id);
    return created;
  }

  /** For a parent that stays (the shim), before its first container: the create
   * path's code run once with no side effect (create.ts). */
  warmUp(): void {
    warmUp();
  }

  start(id: string): Promise<void> {
    return start(this.ctx, id);
  }

  run(id: string, opts: RunOptions): Promise<number> {
    return run(this.ctx, id, opts);
  }

  baseProcess(id: string): Process {
    return baseProcess(this.ctx, id);
  }

  exec(id: string, opts: ExecOptions): Promise<number> {
    return exec(this.ctx, id, opts);
  }

  /** Starts an exec'd process and hands back its pidfd; with attach, a terminal's
   * master comes back instead of going to a console socket. */
  spawnExec(id: string, opts: ExecOptions, attach = true): Promise<Created> {
    return spawnExec(this.ctx, id, opts, attach);
  }

  state(id: string): State {
    return this.queries.state(id);
  }

  list(): State[] {
    return this.queries.list();
  }

  kill(id: string, signal: number, opts: { all?: boolean }): void {
    kill(this.ctx, id, signal, opts);
  }

  delete(id: string, opts: { force?: boolean }): Promise<void> {
    return deleteContainer(this.ctx, id, opts);
  }

  update(id: string, opts: UpdateOptions): LinuxResources {
    return update(this.ctx, id, opts);
  }

  pause(id: string): void {
    pause(this.ctx, id);
  }

  resume(id: string): void {
    resume(this.ctx, id);
  }

  processes(id: string): number[] {
    return processes(this.ctx, id);
  }

  events(id: string, opts: EventsOptions, out: (event: object) => void): Promise<void> {
    return events(this.ctx, id, opts, out);
  }

  /** The container's OOM kills, for a parent that stays (the shim). */
  oomWatch(id: string): OomWatch {
    return oomWatch(this.ctx, id);
  }

  async spec(opts: { bundle: string; rootless?: boolean }): Promise<void> {
    writeSpec(opts);
  }

  features(): object {
    return features();
  }
}

export function createRuntime(g: GlobalOptions, warn?: (msg: string) => void, debug?: (msg: string) => void): RuntimeApi {
  return new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup, ...(warn ? { warn } : {}), ...(debug ? { debug } : {}) });
}
