import type { LinuxResources, Process, State } from '@runts/oci';
import type { Stdio } from './plan/build';

/** What the runtime library offers its front ends (the CLI, the shim); runtime.ts hands each operation to its file. */
export interface CreateOptions {
  bundle: string;
  pidFile?: string;
  consoleSocket?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  /** The container's fds 0-2 (a shim's pipes); by default the caller's own. */
  stdio?: Stdio;
}

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
}

export interface ExecOptions {
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  ignorePaused?: boolean;
  stdio?: Stdio;
}

export interface UpdateOptions {
  /** Only the fields to change; the rest stay as they are. */
  resources: LinuxResources;
  /** Said once on stderr (e.g. ignored kernel memory flags). */
  warnings?: string[];
  l3CacheSchema?: string;
  memBwSchema?: string;
}

export interface EventsOptions {
  /** Print one stats event and return. */
  stats: boolean;
  intervalMs: number;
}

export interface RuntimeApi {
  create(id: string, opts: CreateOptions): Promise<void>;
  start(id: string): Promise<void>;
  /** create + start; in the foreground waits and returns the exit code (128+signal if signalled). */
  run(id: string, opts: RunOptions): Promise<number>;
  exec(id: string, opts: ExecOptions): Promise<number>;
  /** The container's process from its config: what exec with arguments starts from. */
  baseProcess(id: string): Process;
  state(id: string): State;
  list(): State[];
  kill(id: string, signal: number, opts: { all?: boolean }): void;
  delete(id: string, opts: { force?: boolean }): Promise<void>;
  /** Writes config.json into the bundle; fails if one exists (like runc). */
  spec(opts: { bundle: string; rootless?: boolean }): Promise<void>;
  features(): object;
  /** Changes the cgroup limits of a live container; returns the resources it has now. */
  update(id: string, opts: UpdateOptions): LinuxResources;
  pause(id: string): void;
  resume(id: string): void;
  /** Host pids of every process in the container's cgroup. */
  processes(id: string): number[];
  /** runc-shaped events (`{"type":"stats"|"oom","id",...}`), one JSON object per call of out. */
  events(id: string, opts: EventsOptions, out: (event: object) => void): Promise<void>;
}

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  systemdCgroup: boolean;
  debug: boolean;
}

/** debug is given only with --debug: call sites skip building their lines without it. */
export type RuntimeFactory = (g: GlobalOptions, warn: (msg: string) => void, debug?: (msg: string) => void) => RuntimeApi;

/** state and list, which need only the state dir (query.ts). */
export type Queries = Pick<RuntimeApi, 'state' | 'list'>;
