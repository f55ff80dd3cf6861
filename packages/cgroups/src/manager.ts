import { posix } from 'node:path';
import { RuntsError } from '@runts/errors';
import type { LinuxResources } from '@runts/oci';
import { realFs, type CgroupFs } from './fs';
import { CGROUP_ROOT, containerPath, detectMode, parseProcCgroup, v1Hierarchies, type Mode } from './paths';
import { setV1 } from './v1';
import { enableControllers, setV2, v2Controllers, v2Parents } from './v2';
import { withoutUnset } from './unset';
import { statsV1, statsV2, type Stats } from './stats';
import type { BpfSys } from './ebpf';

export type { Stats } from './stats';

/** What the container's `cgroup` mount shows: one dir per v1 hierarchy, or the v2 dir ('' name). */
export interface CgroupMountSource {
  name: string;
  hostPath: string;
  links: string[];
}

/** The cgroups of one container: host directory per controller (v1) or one dir (v2). */
export interface Manager {
  readonly mode: Mode;
  /** Controller key ('memory', 'cpu,cpuacct', ... or '' for v2) → host directory. */
  paths(): Record<string, string>;
  /** Creates the directories; returns those it created, deepest last. */
  create(): string[];
  /** Moves process pid in (cgroup.procs). */
  enter(pid: number): void;
  /** create, then enter. */
  apply(pid: number): string[];
  /** Files a single-threaded process can write "0" to, from an fd opened here, to move
   * itself in: v1's per-hierarchy `tasks` (this skips the global lock whose first taking
   * waits out an RCU grace period). None on v2, where a thread cannot leave its domain. */
  selfJoinFiles(): string[];
  set(resources: LinuxResources): void;
  /** Removes the container's directories and the listed parents it created, if empty. */
  destroy(created?: string[]): void;
  freeze(): void;
  thaw(): void;
  /** SIGKILL to every process inside at once, forks racing it included: v2's cgroup.kill
   * (Linux 5.14+). False where there is none, and the caller signals pid by pid. */
  killAll(): boolean;
  isFrozen(): boolean;
  pids(): number[];
  stats(): Stats;
  mountSources(): CgroupMountSource[];
}

export interface ManagerOptions {
  /** linux.cgroupsPath; ignored when `paths` is given. */
  cgroupsPath?: string;
  id?: string;
  /** Paths recorded at create (relative cgroupsPath resolves against the caller, so they are kept). */
  paths?: Record<string, string>;
  fs?: CgroupFs;
  mountinfo?: string;
  ownCgroup?: string;
  /** Loads v2 device programs; without it, v2 device rules are refused. */
  bpf?: BpfSys;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

export function newManager(opts: ManagerOptions): Manager {
  const fs = opts.fs ?? realFs;
  return new CgroupManager(fs, opts);
}

class CgroupManager implements Manager {
  readonly mode: Mode;
  private readonly dirs: Record<string, string>;
  private readonly bpf: BpfSys | undefined;

  constructor(
    private readonly fs: CgroupFs,
    opts: ManagerOptions,
  ) {
    this.mode = detectMode(fs);
    this.bpf = opts.bpf;
    if (opts.paths) {
      this.dirs = opts.paths;
      return;
    }
    const own = parseProcCgroup(opts.ownCgroup ?? fs.read('/proc/self/cgroup'));
    const id = opts.id ?? '';
    this.dirs = {};
    if (this.mode === 'v2') {
      this.dirs[''] = posix.join(CGROUP_ROOT, containerPath(opts.cgroupsPath, id, own.get('') ?? '/'));
      return;
    }
    for (const h of v1Hierarchies(opts.mountinfo ?? fs.read('/proc/self/mountinfo'))) {
      const key = h.controllers.join(',');
      // Inside a cgroup namespace a mount shows its root; our own path is relative to it.
      const ownPath = own.get(key) ?? '/';
      const rel = containerPath(opts.cgroupsPath, id, ownPath);
      const inside = h.root !== '/' && rel.startsWith(h.root) ? rel.slice(h.root.length) || '/' : rel;
      this.dirs[key] = posix.join(h.mountpoint, inside);
    }
  }

  paths(): Record<string, string> {
    return { ...this.dirs };
  }

  private dir(controller: string): string | undefined {
    if (this.mode === 'v2') return this.dirs[''];
    for (const [key, d] of Object.entries(this.dirs)) if (key.split(',').includes(controller)) return d;
    return undefined;
  }

  apply(pid: number): string[] {
    const created = this.create();
    this.enter(pid);
    return created;
  }

  create(): string[] {
    if (this.mode === 'v2') return this.createV2();
    const created: string[] = [];
    for (const [key, d] of Object.entries(this.dirs)) {
      const missing: string[] = [];
      for (let p = d; !this.fs.exists(p); p = posix.dirname(p)) missing.unshift(p);
      for (const p of missing) {
        this.fs.mkdirp(p);
        created.push(p);
        // A new cpuset is empty and takes no tasks until it gets its parent's cpus and mems.
        if (key.split(',').includes('cpuset')) {
          for (const f of ['cpuset.cpus', 'cpuset.mems']) {
            if (this.fs.read(posix.join(p, f)).trim() === '') this.fs.write(posix.join(p, f), this.fs.read(posix.join(posix.dirname(p), f)));
          }
        }
      }
    }
    return created;
  }

  /** Each parent gets the controllers it can pass on before its child is made, so the child has their files. */
  private createV2(): string[] {
    const created: string[] = [];
    const dir = this.dirs['']!;
    for (const p of [...v2Parents(CGROUP_ROOT, dir), dir]) {
      if (!this.fs.exists(p)) {
        this.fs.mkdirp(p);
        created.push(p);
      }
      if (p !== dir) enableControllers(this.fs, p);
    }
    return created;
  }

  enter(pid: number): void {
    for (const d of Object.values(this.dirs)) this.fs.write(posix.join(d, 'cgroup.procs'), String(pid));
  }

  selfJoinFiles(): string[] {
    return this.mode === 'v2' ? [] : Object.values(this.dirs).map((d) => posix.join(d, 'tasks'));
  }

  set(resources: LinuxResources): void {
    const r = withoutUnset(resources);
    if (this.mode === 'v2') {
      const dir = this.dirs['']!;
      const need = v2Controllers(r);
      if (need.size) for (const p of v2Parents(CGROUP_ROOT, dir)) enableControllers(this.fs, p, need);
      setV2(this.fs, dir, r, this.bpf);
    }
    else setV1(this.fs, (c) => this.dir(c), r);
  }

  destroy(created: string[] = []): void {
    const leaves = Object.values(this.dirs);
    const all = [...new Set([...leaves, ...created])].sort((a, b) => b.length - a.length);
    for (const d of all) {
      // Tasks that were just killed may take a moment to leave.
      for (let i = 0; i < 200 && this.fs.exists(d); i++) {
        try {
          this.fs.rmdir(d);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || !leaves.includes(d)) break;
          sleep(5);
        }
      }
    }
  }

  freeze(): void {
    this.setFrozen(true);
  }

  thaw(): void {
    this.setFrozen(false);
  }

  killAll(): boolean {
    if (this.mode !== 'v2') return false;
    const f = posix.join(this.dirs['']!, 'cgroup.kill');
    if (!this.fs.exists(f)) return false;
    this.fs.write(f, '1');
    return true;
  }

  private setFrozen(frozen: boolean): void {
    if (this.mode === 'v2') {
      const d = this.dirs['']!;
      this.fs.write(posix.join(d, 'cgroup.freeze'), frozen ? '1' : '0');
      for (let i = 0; i < 1000 && this.isFrozen() !== frozen; i++) sleep(1);
      return;
    }
    const d = this.dir('freezer');
    if (!d) throw new RuntsError('ERR_CGROUP', 'the freezer controller is not available on this host');
    const want = frozen ? 'FROZEN' : 'THAWED';
    for (let i = 0; i < 1000; i++) {
      this.fs.write(posix.join(d, 'freezer.state'), want);
      if (this.fs.read(posix.join(d, 'freezer.state')).trim() === want) return;
      sleep(1);
    }
    throw new RuntsError('ERR_CGROUP', `freezer did not reach ${want}`);
  }

  isFrozen(): boolean {
    try {
      if (this.mode === 'v2') return /^frozen 1$/m.test(this.fs.read(posix.join(this.dirs['']!, 'cgroup.events')));
      const d = this.dir('freezer');
      return d !== undefined && this.fs.read(posix.join(d, 'freezer.state')).trim() === 'FROZEN';
    } catch {
      return false;
    }
  }

  pids(): number[] {
    const d = this.mode === 'v2' ? this.dirs[''] : (this.dir('pids') ?? this.dir('freezer') ?? Object.values(this.dirs)[0]);
    if (!d) return [];
    try {
      return this.fs.read(posix.join(d, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
    } catch {
      return [];
    }
  }

  stats(): Stats {
    return this.mode === 'v2' ? statsV2(this.fs, this.dirs['']!) : statsV1(this.fs, (c) => this.dir(c));
  }

  mountSources(): CgroupMountSource[] {
    if (this.mode === 'v2') return [{ name: '', hostPath: this.dirs['']!, links: [] }];
    return Object.entries(this.dirs).map(([key, hostPath]) => {
      const name = key.startsWith('name=') ? key.slice(5) : key;
      return { name, hostPath, links: key.includes(',') ? key.split(',') : [] };
    });
  }
}
