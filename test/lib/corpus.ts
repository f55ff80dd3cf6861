// Configs written by other tools, for the corpus test: the config.json files
// that podman, docker and containerd gave their runtime during the engine
// tests (kept by test/engines/lib.ts's wrapper with ENGINE_KEEP_TRACE), and
// what `runc spec` and `crun spec` write. Each is made runnable here (our
// rootfs, stand-ins for the engine's files, a probe as the process) without
// touching what the runtime is asked to do: namespaces, capabilities, seccomp,
// mounts and their options, rlimits, resources.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface CorpusEntry {
  /** Where it came from: `podman/<id>`, `runc spec`, `docker/<id> nnp=false`, ... */
  name: string;
  config: any;
}

/** What the container prints: its credentials, seccomp mode, mounts and cgroup limits, one fact a line. */
export const PROBE = [
  'grep -E "^(Uid|Gid|Groups|Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):" /proc/self/status',
  // mount point, per-mount options, type: ids and devices differ from run to run.
  'awk \'{ for (i = 7; $i != "-"; i++); print "mount", $5, $6, $(i + 1) }\' /proc/self/mountinfo | sort',
  'for f in memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us pids/pids.max memory.max cpu.max pids.max; do [ -r /sys/fs/cgroup/$f ] && echo "cgroup $f $(cat /sys/fs/cgroup/$f)"; done',
  'echo "umask $(umask)"; echo "nofile $(ulimit -n)"; echo "cwd $(pwd)"',
].join('; ');

/** Bind targets that are files in the engines' configs (the rest are directories). */
const FILE_TARGETS = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv', '/dev/termination-log', '/etc/passwd', '/etc/group']);

/** Syscalls newer than Linux 5.4: a profile written before them lists none of these. */
const NEWER_SYSCALLS = new Set([
  'clone3', 'close_range', 'openat2', 'pidfd_getfd', 'pidfd_open', 'pidfd_send_signal', 'faccessat2', 'process_madvise',
  'epoll_pwait2', 'mount_setattr', 'quotactl_fd', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self',
  'memfd_secret', 'process_mrelease', 'futex_waitv', 'set_mempolicy_home_node', 'cachestat', 'fchmodat2', 'map_shadow_stack',
  'futex_wake', 'futex_wait', 'futex_requeue', 'statmount', 'listmount', 'lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules', 'mseal',
]);

/** What a config asks of the runtime, without what differs from one container to the next
 * (ids, names, paths the engine made): configs alike in this are run once. */
function shape(c: any): string {
  const strip = structuredClone(c);
  delete strip.annotations;
  delete strip.hostname;
  delete strip.root;
  if (strip.process) delete strip.process.env;
  if (strip.linux) {
    delete strip.linux.cgroupsPath;
    strip.linux.namespaces = (strip.linux.namespaces ?? []).map((n: any) => ({ type: n.type, joined: !!n.path }));
  }
  strip.mounts = (strip.mounts ?? []).map((m: any) => ({ ...m, source: undefined }));
  return JSON.stringify(strip);
}

/** Engine configs kept by the engine tests under dir (`<engine>-<pid>/config-<id>.json`), one of each shape. */
export function capturedConfigs(dir: string | undefined): CorpusEntry[] {
  if (!dir || !existsSync(dir)) return [];
  const out: CorpusEntry[] = [];
  const seen = new Set<string>();
  for (const run of readdirSync(dir).sort()) {
    const engine = run.replace(/-\d+$/, '');
    const sub = join(dir, run);
    for (const f of readdirSync(sub).filter((x) => /^config-.+\.json$/.test(x)).sort()) {
      try {
        const config = JSON.parse(readFileSync(join(sub, f), 'utf8'));
        const key = shape(config);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ name: `${engine}/${f.slice(7, -5)}`, config });
      } catch {
        /* a half-copied file: not a config */
      }
    }
  }
  return out;
}

/** `runc spec`, `runc spec --rootless` and `crun spec`, written now by the tools themselves. */
export function specConfigs(): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  const gen = (name: string, argv: string[]) => {
    const dir = mkdtempSync(join(tmpdir(), 'corpus-spec-'));
    try {
      const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, encoding: 'utf8' });
      if (r.status === 0) out.push({ name, config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  if (existsSync('/usr/sbin/runc')) {
    gen('runc spec', ['/usr/sbin/runc', 'spec']);
    gen('runc spec --rootless', ['/usr/sbin/runc', 'spec', '--rootless']);
  }
  if (existsSync('/usr/bin/crun')) gen('crun spec', ['/usr/bin/crun', 'spec']);
  return out;
}

/** The variants users run that the engines' defaults miss: no_new_privs off, and a profile from before Linux 5.4. */
export function variants(entries: CorpusEntry[]): CorpusEntry[] {
  const out: CorpusEntry[] = [];
  for (const e of entries) {
    if (e.config.process?.noNewPrivileges) {
      const c = structuredClone(e.config);
      c.process.noNewPrivileges = false;
      out.push({ name: `${e.name} nnp=false`, config: c });
    }
    const sec = e.config.linux?.seccomp;
    if (sec?.syscalls?.some((s: any) => s.names?.some((n: string) => NEWER_SYSCALLS.has(n)))) {
      const c = structuredClone(e.config);
      c.process.noNewPrivileges = false;
      c.linux.seccomp.syscalls = sec.syscalls
        .map((s: any) => ({ ...s, names: s.names.filter((n: string) => !NEWER_SYSCALLS.has(n)) }))
        .filter((s: any) => s.names.length > 0);
      out.push({ name: `${e.name} old-profile nnp=false`, config: c });
    }
  }
  return out;
}

/**
 * The config made runnable on this host for one runtime: our rootfs, the
 * probe, stand-ins for the engine's files, new namespaces for paths that are
 * gone, a cgroup path of our own, no engine hooks. Returns the bundle dir.
 */
export function bundleFor(entry: CorpusEntry, dir: string, rootfs: string, cgroupsPath: string): string {
  const c = structuredClone(entry.config);
  const b = join(dir, `bundle-${Math.random().toString(36).slice(2)}`);
  mkdirSync(b);
  c.root = { ...(c.root ?? {}), path: rootfs };
  c.process = { ...(c.process ?? {}), terminal: false, args: ['sh', '-c', PROBE], cwd: '/' };
  delete c.process.consoleSize;
  // A user the rootfs has no shell for still runs sh: busybox is world-executable.
  delete c.hooks;
  delete c.process.apparmorProfile;
  delete c.process.selinuxLabel;
  delete c.linux?.mountLabel;
  if (c.linux) {
    c.linux.cgroupsPath = cgroupsPath;
    c.linux.namespaces = (c.linux.namespaces ?? []).map((n: any) => (n.path && !existsSync(n.path) ? { type: n.type } : n));
  }
  const stand = join(b, 'standins');
  mkdirSync(stand);
  c.mounts = (c.mounts ?? []).map((m: any, i: number) => {
    const bind = m.type === 'bind' || (m.options ?? []).some((o: string) => o === 'bind' || o === 'rbind');
    if (!bind || (m.source && existsSync(m.source) && !m.source.startsWith(tmpdir()))) return m;
    const src = join(stand, `${i}-${basename(m.destination)}`);
    if (FILE_TARGETS.has(m.destination)) writeFileSync(src, '');
    else mkdirSync(src);
    return { ...m, source: src };
  });
  writeFileSync(join(b, 'config.json'), JSON.stringify(c));
  return b;
}

/** Lines that differ between two probe outputs, as `- runc` / `+ runts`. */
export function diffLines(a: string, b: string): string[] {
  const as = a.trim().split('\n');
  const bs = b.trim().split('\n');
  return [...as.filter((l) => !bs.includes(l)).map((l) => `- ${l}`), ...bs.filter((l) => !as.includes(l)).map((l) => `+ ${l}`)];
}
