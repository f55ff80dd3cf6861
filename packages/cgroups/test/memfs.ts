// An in-memory cgroup filesystem for unit tests: no root, no host cgroups touched.
import { posix } from 'node:path';
import type { CgroupFs } from '../src/index';

const CGROUP2 = 0x63677270;
const TMPFS = 0x01021994;

export class MemFs implements CgroupFs {
  files = new Map<string, string>();
  dirs = new Set<string>();
  writes: [string, string][] = [];
  constructor(private readonly v2: boolean, controllerFiles: Record<string, string[]>) {
    for (const [dir, files] of Object.entries(controllerFiles)) {
      this.dirs.add(dir);
      for (const f of files) this.files.set(posix.join(dir, f), '');
    }
  }
  read(p: string): string {
    const v = this.files.get(p);
    if (v === undefined) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
    return v;
  }
  write(p: string, d: string): void {
    if (!this.files.has(p)) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
    this.files.set(p, d);
    this.writes.push([p, d]);
  }
  mkdirp(p: string): void {
    for (let d = p; d !== '/' && !this.dirs.has(d); d = posix.dirname(d)) {
      this.dirs.add(d);
      // A new cgroup dir gets its controller's files, empty.
      const parent = posix.dirname(d);
      for (const f of [...this.files.keys()].filter((k) => posix.dirname(k) === parent)) this.files.set(posix.join(d, posix.basename(f)), '');
    }
  }
  rmdir(p: string): void {
    if ([...this.dirs].some((d) => d.startsWith(p + '/'))) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
    this.dirs.delete(p);
    for (const k of [...this.files.keys()]) if (posix.dirname(k) === p) this.files.delete(k);
  }
  exists(p: string): boolean {
    return this.dirs.has(p) || this.files.has(p);
  }
  list(p: string): string[] {
    return [...this.dirs].filter((d) => posix.dirname(d) === p).map((d) => posix.basename(d));
  }
  fsType(p: string): number {
    return this.v2 && p === '/sys/fs/cgroup' ? CGROUP2 : p.endsWith('unified') ? CGROUP2 : TMPFS;
  }
}

export const MOUNTINFO = [
  '30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755',
  '31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw',
  '33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid shared:12 - cgroup cgroup rw,memory',
  '34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:13 - cgroup cgroup rw,cpu,cpuacct',
  '35 30 0:31 / /sys/fs/cgroup/pids rw,nosuid shared:14 - cgroup cgroup rw,pids',
  '36 30 0:32 / /sys/fs/cgroup/cpuset rw,nosuid shared:15 - cgroup cgroup rw,cpuset',
  '37 30 0:33 / /sys/fs/cgroup/freezer rw,nosuid shared:16 - cgroup cgroup rw,freezer',
  '38 30 0:34 / /sys/fs/cgroup/blkio rw,nosuid shared:17 - cgroup cgroup rw,blkio',
  '39 30 0:35 / /sys/fs/cgroup/devices rw,nosuid shared:18 - cgroup cgroup rw,devices',
].join('\n');
export const OWN = '5:memory:/user.slice\n4:cpu,cpuacct:/\n3:pids:/\n2:cpuset:/\n1:freezer:/\n6:blkio:/\n7:devices:/\n0::/';

export function v1fs(): MemFs {
  return new MemFs(false, {
    '/sys/fs/cgroup/unified': [],
    '/sys/fs/cgroup/memory': ['cgroup.procs', 'memory.limit_in_bytes', 'memory.memsw.limit_in_bytes', 'memory.soft_limit_in_bytes', 'memory.swappiness', 'memory.oom_control', 'memory.usage_in_bytes'],
    '/sys/fs/cgroup/cpu,cpuacct': ['cgroup.procs', 'cpu.shares', 'cpu.cfs_quota_us', 'cpu.cfs_period_us', 'cpuacct.usage', 'cpu.stat'],
    '/sys/fs/cgroup/pids': ['cgroup.procs', 'pids.max', 'pids.current'],
    '/sys/fs/cgroup/cpuset': ['cgroup.procs', 'cpuset.cpus', 'cpuset.mems'],
    '/sys/fs/cgroup/freezer': ['cgroup.procs', 'freezer.state'],
    '/sys/fs/cgroup/blkio': ['cgroup.procs', 'blkio.bfq.weight', 'blkio.throttle.read_bps_device'],
    '/sys/fs/cgroup/devices': ['cgroup.procs', 'devices.allow', 'devices.deny'],
  });
}


/** Each v2 controller's files, as a cgroup gets them when its parent enables the controller. */
const V2_FILES: Record<string, string[]> = {
  memory: ['memory.max', 'memory.high', 'memory.low', 'memory.swap.max', 'memory.current', 'memory.peak', 'memory.stat', 'memory.events'],
  cpu: ['cpu.weight', 'cpu.max', 'cpu.stat'],
  cpuset: ['cpuset.cpus', 'cpuset.mems'],
  pids: ['pids.max', 'pids.current'],
  io: ['io.weight', 'io.max', 'io.stat'],
};
const V2_CORE = ['cgroup.procs', 'cgroup.max.depth', 'cgroup.controllers', 'cgroup.subtree_control', 'cgroup.freeze', 'cgroup.events', 'cgroup.kill'];

/** A cgroup2 tree that behaves as the kernel does: a child has the files of the controllers its parent
 * enabled in cgroup.subtree_control, and "+c" there fails (ENOENT) unless c is in cgroup.controllers. */
export class V2Fs extends MemFs {
  /** Cgroups whose subtree_control refuses writes, with this errno (a process inside: EBUSY; not ours: EACCES). */
  refuse = new Map<string, string>();
  constructor(rootControllers: string[], rootEnabled: string[] = []) {
    super(true, {});
    this.dirs.add('/sys/fs/cgroup');
    for (const f of V2_CORE) this.files.set(`/sys/fs/cgroup/${f}`, '');
    this.files.set('/sys/fs/cgroup/cgroup.controllers', rootControllers.join(' '));
    this.files.set('/sys/fs/cgroup/cgroup.subtree_control', rootEnabled.join(' '));
  }
  /** A cgroup made by someone else (an engine, an admin), with these controllers enabled below it. */
  made(p: string, enabled: string[] = []): void {
    this.mkdirp(p);
    this.files.set(`${p}/cgroup.subtree_control`, enabled.join(' '));
    this.writes.length = 0;
  }
  override mkdirp(p: string): void {
    const parent = posix.dirname(p);
    if (!this.dirs.has(parent)) this.mkdirp(parent);
    if (this.dirs.has(p)) return;
    this.dirs.add(p);
    const enabled = this.read(`${parent}/cgroup.subtree_control`).split(' ').filter(Boolean);
    for (const f of V2_CORE) this.files.set(`${p}/${f}`, '');
    this.files.set(`${p}/cgroup.controllers`, enabled.join(' '));
    for (const c of enabled) for (const f of V2_FILES[c] ?? []) this.files.set(`${p}/${f}`, '');
  }
  override write(p: string, d: string): void {
    if (posix.basename(p) !== 'cgroup.subtree_control') return super.write(p, d);
    const dir = posix.dirname(p);
    const refused = this.refuse.get(dir);
    if (refused) throw Object.assign(new Error(`${refused} ${p}`), { code: refused });
    const available = this.read(`${dir}/cgroup.controllers`).split(' ');
    const enabled = new Set(this.read(p).split(' ').filter(Boolean));
    for (const w of d.split(' ')) {
      if (!available.includes(w.slice(1))) throw Object.assign(new Error(`ENOENT ${p}`), { code: 'ENOENT' });
      enabled.add(w.slice(1));
    }
    super.write(p, [...enabled].join(' '));
    // Children see the new controllers at once.
    for (const child of this.list(dir).map((n) => `${dir}/${n}`)) {
      this.files.set(`${child}/cgroup.controllers`, [...enabled].join(' '));
      for (const c of enabled) for (const f of V2_FILES[c] ?? []) if (!this.files.has(`${child}/${f}`)) this.files.set(`${child}/${f}`, '');
    }
  }
}
