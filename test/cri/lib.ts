// CRI tests: a private containerd with its CRI plugin, spoken to over CRI as
// kubelet does (packages/proto/src/cri.ts). Each RuntimeClass handler is a
// runtime in our config.toml; the Engine (test/engines/lib.ts) owns the temp
// dir, the daemons and a teardown that leaves nothing behind, even on failure.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CriClient, type cri } from '@runts/proto/cri';
import { CACHE, Engine, TOP, groupShimPid, ociArchive, readmeSnippet, sh, waitFor, type Result } from '../engines/lib';

export const PAUSE_IMAGE = 'localhost/runts-pause:latest';
export const BUSYBOX_IMAGE = 'localhost/runts-busybox:latest';

export interface Handler {
  /** The RuntimeClass handler name (a runtime in config.toml). */
  name: string;
  /** options.BinaryName, the runtime the runc v2 shim runs; without it, RUNTIME
   * through the Engine's wrapper (which logs each call). */
  binary?: string;
  /** Not the runc v2 shim: containerd's runtime_type, its shim found on containerd's PATH. */
  runtimeType?: string;
}

/** containerd-shim-runts-v1 as built into bin/: containerd finds it on its PATH. */
export const RUNTS_SHIM = join(TOP, 'bin', 'containerd-shim-runts-v1');

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

/** The static pause program as a plain tar, cached by its source's hash. */
function pauseLayer(): string {
  mkdirSync(CACHE, { recursive: true });
  const src = join(TOP, 'test', 'cri', 'pause.c');
  const tar = join(CACHE, `pause-${createHash('sha256').update(readFileSync(src)).digest('hex').slice(0, 12)}.tar`);
  if (existsSync(tar)) return tar;
  const dir = mkdtempSync(join(tmpdir(), 'runts-cri-pause-'));
  try {
    const cc = sh(process.env['CC'] ?? 'cc', ['-static', '-O2', '-Wall', '-Wextra', '-Werror', '-o', join(dir, 'pause'), src]);
    if (cc.code !== 0) throw new Error(`cc pause.c: ${cc.stderr.trim()}`);
    const t = sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', `${tar}.${process.pid}.tmp`, 'pause']);
    if (t.code !== 0) throw new Error(`tar: ${t.stderr}`);
    renameSync(`${tar}.${process.pid}.tmp`, tar);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return tar;
}

/** A private containerd with the CRI plugin and one runc-v2 runtime per handler. */
export class CriNode {
  readonly e: Engine;
  readonly sock: string;
  client!: CriClient;
  private daemon?: ChildProcess;

  constructor(t: Teardown, readonly handlers: Handler[]) {
    this.e = new Engine(t, 'cri');
    this.sock = this.e.path('containerd.sock');
    // Sockets of the runc v2 shims go to /run/containerd/s whatever we configure.
    this.e.tidyDirs(['/run/containerd', '/run/containerd/s', '/run/containerd/fifo', '/run/containerd/runts', '/run/containerd/runts/k8s.io', '/run/containerd/runts-shim']);
    mkdirSync(this.e.path('logs'));
    writeFileSync(this.e.path('config.toml'), this.config());
    // containerd first (its tasks and shims), then the Engine's own teardown.
    this.e.onCleanup(() => {
      this.client?.close();
      for (const id of this.ctr('task', 'ls', '-q').stdout.split('\n').filter(Boolean)) {
        this.ctr('task', 'kill', '-a', '-s', 'SIGKILL', id);
        this.ctr('task', 'delete', '-f', id);
      }
      for (const id of this.ctr('container', 'ls', '-q').stdout.split('\n').filter(Boolean)) this.ctr('container', 'delete', id);
    });
  }

  private config(): string {
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const lines = [
      'version = 2',
      `root = "${this.e.path('root')}"`,
      `state = "${this.e.path('state')}"`,
      'disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",',
      '  "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]',
      '[grpc]',
      `  address = "${this.sock}"`,
      '[ttrpc]',
      `  address = "${this.sock}.ttrpc"`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${this.e.path('opt')}"`,
      `[${cri}]`,
      `  sandbox_image = "${PAUSE_IMAGE}"`,
      // This VM lacks CAP_SYS_RESOURCE: no oom_score_adj below containerd's own.
      '  restrict_oom_score_adj = true',
      '  disable_apparmor = true',
      // Port 0: a free port, where other engines on this host may hold the default.
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `[${cri}.containerd]`,
      '  snapshotter = "native"',
      `  default_runtime_name = "${this.handlers[0]!.name}"`,
    ];
    for (const h of this.handlers) {
      if (h.runtimeType) {
        // The README's stanza, under this handler's name and type.
        lines.push(readmeSnippet('containerd-runts-shim.toml').replaceAll('.runtimes.runts-shim', `.runtimes.${h.name}`)
          .replace('io.containerd.runts.v1', h.runtimeType).trimEnd());
        continue;
      }
      // The README's stanza, under this handler's name.
      const stanza = readmeSnippet('containerd-runc-v2.toml', h.binary ?? this.e.runtime).replaceAll('.runtimes.runts', `.runtimes.${h.name}`);
      lines.push(
        stanza.trimEnd(),
        // The runtime's state: ours, not /run/containerd/runc/k8s.io.
        `  Root = "${this.e.path('rt-root', h.name)}"`,
        '  SystemdCgroup = false',
      );
    }
    // No CNI network (an empty dir of ours, never the host's): pods use the host network.
    lines.push(`[${cri}.cni]`, `  conf_dir = "${this.e.path('cni')}"`, '');
    return lines.join('\n');
  }

  ctr(...args: string[]): Result {
    return sh('ctr', ['--address', this.sock, '-n', 'k8s.io', ...args], { timeoutMs: 60_000 });
  }

  /** Starts containerd and waits for its CRI service to answer. */
  async start(): Promise<void> {
    // Shims by runtime_type (containerd-shim-runts-v1) from a dir of ours first on its PATH.
    const bin = this.e.path('bin');
    if (!existsSync(bin)) {
      mkdirSync(bin);
      symlinkSync(RUNTS_SHIM, join(bin, 'containerd-shim-runts-v1'));
    }
    this.daemon = this.e.daemon('containerd', ['--config', this.e.path('config.toml')], this.e.path('containerd.log'), { ...process.env, PATH: `${bin}:${process.env['PATH']}` });
    this.client?.close();
    // runts' calls cost ~5x runc's (Node's start): 20 pods on a loaded 2-core host need minutes.
    this.client = new CriClient(`unix://${this.sock}`, 240_000);
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        await this.client.runtime.Version({ version: 'v1' }, { timeoutMs: 2_000 });
        return;
      } catch (err) {
        if (Date.now() > end) throw new Error(`containerd's CRI did not answer: ${String(err)}\n${this.log()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  /** SIGKILLs containerd (its shims and containers live on) and waits for it to be gone. */
  async kill(): Promise<void> {
    const pid = this.daemon?.pid;
    if (!pid) return;
    process.kill(pid, 'SIGKILL');
    await waitFor('containerd to die', () => {
      try { return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
    }, 10_000);
  }

  log(last = 3000): string {
    try { return readFileSync(this.e.path('containerd.log'), 'utf8').slice(-last); } catch { return ''; }
  }

  /** The pause and busybox images, built offline and imported into k8s.io. */
  importImages(): void {
    for (const [name, archive] of [
      [PAUSE_IMAGE, ociArchive(PAUSE_IMAGE, { layer: pauseLayer(), cmd: ['/pause'] })],
      [BUSYBOX_IMAGE, ociArchive(BUSYBOX_IMAGE)],
    ] as const) {
      const r = this.ctr('images', 'import', '--snapshotter', 'native', '--base-name', name.replace(/:latest$/, ''), archive);
      if (r.code !== 0) throw new Error(`ctr images import ${name}: ${r.stderr.trim()}`);
    }
  }

  /** A pod's config: host network, empty hostname; its own pid namespace unless sharePid. */
  podConfig(name: string, opts: { sharePid?: boolean } = {}): cri.PodSandboxConfig {
    const logDir = this.e.path('logs', name);
    mkdirSync(logDir, { recursive: true });
    return {
      metadata: { name, uid: `uid-${name}`, namespace: 'runts-test', attempt: 0 },
      hostname: '',
      logDirectory: logDir,
      labels: { 'runts-test': name },
      linux: {
        // cgroupfs: the pod's cgroups under our unique parent, which the Engine removes.
        cgroupParent: `/${this.e.tag}/${name}`,
        securityContext: {
          namespaceOptions: { network: 'NODE', pid: opts.sharePid ? 'POD' : 'CONTAINER', ipc: 'POD' },
        },
      },
    };
  }

  containerConfig(name: string, command: string[], extra: Partial<cri.ContainerConfig> = {}): cri.ContainerConfig {
    return {
      metadata: { name, attempt: 0 },
      image: { image: BUSYBOX_IMAGE },
      command,
      logPath: `${name}.log`,
      labels: { 'runts-test-container': name },
      ...extra,
    };
  }

  async runPod(handler: string, pod: cri.PodSandboxConfig): Promise<string> {
    const r = await this.client.runtime.RunPodSandbox({ config: pod, runtimeHandler: handler });
    return r.podSandboxId;
  }

  /** CreateContainer then StartContainer. */
  async runContainer(podId: string, pod: cri.PodSandboxConfig, config: cri.ContainerConfig): Promise<string> {
    const { containerId } = await this.client.runtime.CreateContainer({ podSandboxId: podId, config, sandboxConfig: pod });
    await this.client.runtime.StartContainer({ containerId });
    return containerId;
  }

  async status(id: string): Promise<cri.ContainerStatus__Output> {
    const r = await this.client.runtime.ContainerStatus({ containerId: id });
    if (!r.status) throw new Error(`ContainerStatus ${id}: no status`);
    return r.status;
  }

  async waitExited(id: string, timeoutMs = 20_000): Promise<cri.ContainerStatus__Output> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.status(id);
      if (s.state === 'CONTAINER_EXITED') return s;
      if (Date.now() > end) throw new Error(`container ${id} still ${s.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops and removes a pod with all its containers, as kubelet does. */
  async removePod(podId: string): Promise<void> {
    await this.client.runtime.StopPodSandbox({ podSandboxId: podId });
    await this.client.runtime.RemovePodSandbox({ podSandboxId: podId });
  }

  /** What a removed pod left, given timeoutMs to go: a shim exits on its own
   * after RemovePodSandbox returns, later on a loaded host. */
  async leftovers(podName: string, ids: string[], timeoutMs = 20_000): Promise<string[]> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const left = this.leftNow(podName, ids);
      if (left.length === 0 || Date.now() > end) return left;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Shims, mounts and cgroups naming a pod's ids. */
  private leftNow(podName: string, ids: string[]): string[] {
    const left: string[] = [];
    for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
        if (cmd.includes(this.sock) && ids.some((id) => cmd.includes(id))) left.push(`process ${p}: ${cmd.trim()}`);
      } catch { /* gone */ }
    }
    for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const point = m.split(' ')[4] ?? '';
      if (ids.some((id) => point.includes(id))) left.push(`mount ${point}`);
    }
    for (const h of readdirSync('/sys/fs/cgroup')) {
      const dir = join('/sys/fs/cgroup', h, this.e.tag, podName);
      if (!existsSync(dir)) continue;
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) left.push(`cgroup ${join(dir, d.name)}`);
    }
    return left;
  }

  /** The pid of containerd-shim-runts-v1 serving a pod's group, from its own pid file; '' if none. */
  groupShim(podId: string): string {
    return groupShimPid(this.sock, 'k8s.io', podId);
  }

  /** The container's cgroup dir in a v1 hierarchy (cgroupfs: <parent>/<id>). */
  cgroupDir(hierarchy: string, podName: string, id: string): string {
    return join('/sys/fs/cgroup', hierarchy, this.e.tag, podName, id);
  }
}
