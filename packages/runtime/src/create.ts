// create: the container's init cloned into the native stage with its plan, and
// the conversation with it up to the exec fifo. Each step below is one thing a
// create does, in order; what a step makes, the undo takes back if a later one fails.
import { existsSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultSpec, parseConfig, type Spec, type State } from '@runts/oci';
import { checkSystemdPath, newManager, realFs, type Manager } from '@runts/cgroups';
import { RuntsError, configError } from '@runts/errors';
import { errnoOf } from '@runts/sys';
import type { Plan } from './plan/build';
import { encodePlan } from './plan/encode';
import { SyncTag } from './plan/ops';
import { mountPointOf, ownStartTime, startTime, topMountAt, writeProc } from './proc';
import { openIdmapTrees } from './idmap';
import { idmapMounts } from './plan/idmap';
import { cgroupsWritable, wantsLimits, writeIdMaps, type Caller } from './rootless';
import { isoTime } from '@runts/cli';
import type { ContainerRecord, Status } from './state';
import { ociState } from './query';
import { runHooks } from './hooks';
import type { CreateOptions } from './options';
import { callerOf, closeChildEnds, fault, reap, safeClose, type Created, type Ctx } from './context';
import { converse, sendListener, stepOf } from './converse';
import { consoleFor, debugPlan, hostLsm, openJoinFiles, ownsMountNs, planBuilder, sessionKeyring, spawnIn, writePidFile } from './child';
import { detachRoot } from './delete';

// Room for the state JSON that hooks get on stdin, sent by the parent at a SYNC.
const SCRATCH_MIN = 64 * 1024;

/** Undo steps of a create, run in reverse if it fails. */
class Undo {
  private steps: (() => void)[] = [];
  push(step: () => void): void {
    this.steps.push(step);
  }
  run(): void {
    for (const s of this.steps.reverse()) {
      try {
        s();
      } catch {
        // Best effort: the first error is the one the user sees.
      }
    }
    this.steps = [];
  }
}

/** Creates container `id`; with attach, a terminal's master comes back here instead of going to a console socket. */
export async function createInit(ctx: Ctx, id: string, opts: CreateOptions, attach: boolean): Promise<Created> {
  const dir = ctx.store.claim(id);
  fault('claimed');
  const undo = new Undo();
  undo.push(() => ctx.store.remove(id));
  try {
    return await new InitSetup(ctx, id, dir, opts, attach, undo).run();
  } catch (e) {
    undo.run();
    throw e;
  }
}

/** For a parent that stays (the shim), before its first container: runs once, with no
 * side effect, the code a create needs (config check, plan, encoding) so that the first
 * create does not pay for loading and compiling it. */
export function warmUp(): void {
  const spec = parseConfig(JSON.stringify(defaultSpec()));
  spec.process!.terminal = false;
  const b = planBuilder();
  const plan = b.buildPlan(b.dryPlanContext(spec, { lsm: hostLsm() }));
  encodePlan(plan.ops, -1, SCRATCH_MIN, -1);
}

/** One create, as the steps run() takes in order. */
class InitSetup {
  private bundle = '';
  private spec!: Spec;
  private rootfs = '';
  private rec!: ContainerRecord;
  private cgroup!: Manager;
  private caller: Caller | null = null;
  /** Rootless without a delegated cgroup: the init stays in the caller's cgroups, as with rootless runc. */
  private noCgroups = false;
  /** Ours to close once the init has its copies (or the create fails). */
  private readonly fds: number[] = [];
  private parentEnd = -1;
  private childEnd = -1;
  private fifoFd = -1;
  private consoleFd: number | undefined;
  private attachEnd: number | undefined;
  private readonly nsFds = new Map<number, number>();
  private pidNsFd: number | undefined;
  private trees = new Map<number, number>();
  private joinFds: number[] = [];
  private plan!: Plan;
  private pid = 0;
  private pidfd = -1;

  constructor(
    private readonly ctx: Ctx,
    private readonly id: string,
    private readonly dir: string,
    private readonly opts: CreateOptions,
    private readonly attach: boolean,
    private readonly undo: Undo,
  ) {}

  async run(): Promise<Created> {
    this.readConfig();
    this.resolveRootfs();
    this.saveRecord();
    this.chooseCgroups();
    this.makeSyncSocket();
    this.makeExecFifo();
    this.openConsole();
    this.openNamespaces();
    this.openIdmapTrees();
    this.createCgroups();
    const buf = this.buildPlan();
    this.recordRootMount();
    this.cloneInit(buf);
    await this.answerInit();
    const master = this.receiveTerminal();
    this.markCreated();
    return master !== undefined ? { pid: this.pid, pidfd: this.pidfd, master } : { pid: this.pid, pidfd: this.pidfd };
  }

  /** config.json, parsed and checked; a copy kept in the state dir, for exec and
   * delete need the config as it was at create, whatever the bundle holds later. */
  private readConfig(): void {
    this.bundle = resolve(this.opts.bundle);
    const configPath = join(this.bundle, 'config.json');
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new RuntsError('ERR_NOT_FOUND', `config.json: cannot read ${configPath}: ${errnoOf(e, (e as Error).message)}`, { file: configPath });
    }
    this.spec = parseConfig(text);
    this.ctx.debug?.(`create ${this.id}: ${configPath} read and valid (${text.length} bytes)`);
    writeFileSync(join(this.dir, 'config.json'), text, { mode: 0o600 });
  }

  private resolveRootfs(): void {
    if (!this.spec.root?.path) throw configError('root.path', 'is required');
    const rootfs = resolve(this.bundle, this.spec.root.path);
    try {
      this.rootfs = realpathSync(rootfs);
      if (!statSync(this.rootfs).isDirectory()) throw new Error('not a directory');
    } catch {
      throw configError('root.path', `${rootfs} is not a directory`);
    }
  }

  /** The state as "creating", with who creates it: a delete meanwhile waits for us. */
  private saveRecord(): void {
    const { spec, opts } = this;
    this.rec = {
      ociVersion: spec.ociVersion,
      id: this.id,
      bundle: this.bundle,
      rootfs: this.rootfs,
      pid: 0,
      startTime: '',
      created: isoTime(),
      owner: '',
      annotations: spec.annotations ?? {},
      creating: true,
      creator: { pid: process.pid, start: ownStartTime() },
      cgroupPaths: {},
      cgroupCreated: [],
      sharedPidNs: !(spec.linux?.namespaces ?? []).some((n) => n.type === 'pid' && !n.path),
      poststart: spec.hooks?.poststart ?? [],
      poststop: spec.hooks?.poststop ?? [],
      ...(opts.noNewKeyring ? { noNewKeyring: true } : {}),
    };
    this.ctx.store.save(this.rec);
    fault('saved');
    this.ctx.debug?.(`create ${this.id}: state saved in ${this.dir}`);
  }

  /** Where the container's cgroups go, and whether it gets any (rootless may not). */
  private chooseCgroups(): void {
    const { spec } = this;
    if (this.ctx.systemd) checkSystemdPath(spec.linux?.cgroupsPath, realFs);
    this.cgroup = newManager({ id: this.id, bpf: this.ctx.sys, ...(spec.linux?.cgroupsPath ? { cgroupsPath: spec.linux.cgroupsPath } : {}) });
    const caller = (this.caller = callerOf(this.ctx));
    this.noCgroups = caller !== null && !cgroupsWritable(this.cgroup.paths());
    if (this.noCgroups && caller && wantsLimits(spec.linux?.resources)) {
      throw new RuntsError('ERR_CGROUP', `linux.resources: user ${caller.name} cannot create ${Object.values(this.cgroup.paths())[0] ?? 'cgroups'} (no cgroup delegated to it), so no limits can be set`, { path: 'linux.resources' });
    }
    this.rec.cgroupPaths = this.noCgroups ? {} : this.cgroup.paths();
  }

  /** The socket on which the init reports each step and waits at SYNC points. */
  private makeSyncSocket(): void {
    this.undo.push(() => this.fds.forEach((fd) => safeClose(this.ctx, fd)));
    [this.parentEnd, this.childEnd] = this.ctx.sys.socketpair();
    this.fds.push(this.parentEnd, this.childEnd);
  }

  /** The fifo on which the init waits for start, writable by the container's root (whatever the umask). */
  private makeExecFifo(): void {
    const { sys } = this.ctx;
    const fifo = this.ctx.store.fifo(this.id);
    sys.mkfifo(fifo, 0o622);
    sys.chmod(fifo, 0o622);
    const rootUid = hostId(this.spec.linux?.uidMappings, 0);
    const rootGid = hostId(this.spec.linux?.gidMappings, 0);
    if (this.caller === null && (rootUid !== 0 || rootGid !== 0)) sys.chown(fifo, rootUid, rootGid);
    this.fifoFd = sys.openPath(fifo);
    this.fds.push(this.fifoFd);
  }

  private openConsole(): void {
    if (!this.spec.process?.terminal && this.opts.consoleSocket) {
      throw new RuntsError('ERR_USAGE', '--console-socket given, but process.terminal is false in config.json');
    }
    if (!this.spec.process?.terminal) return;
    const c = consoleFor(this.ctx, this.opts.consoleSocket, this.attach, this.fds, 'cannot allocate a terminal for a detached container without --console-socket');
    this.consoleFd = c.consoleFd;
    this.attachEnd = c.attachEnd;
  }

  /** The namespaces config.json names by path, opened here: the init (or, for user
   * and pid, the stage's intermediate) joins them. */
  private openNamespaces(): void {
    (this.spec.linux?.namespaces ?? []).forEach((ns, i) => {
      if (!ns.path) return;
      let fd: number;
      try {
        fd = this.ctx.sys.open(ns.path, 0 /* O_RDONLY */);
      } catch (e) {
        throw configError(`linux.namespaces[${i}].path`, `cannot open ${ns.path}: ${errnoOf(e)}`);
      }
      this.fds.push(fd);
      if (ns.type === 'pid') this.pidNsFd = fd;
      else this.nsFds.set(i, fd);
    });
  }

  private openIdmapTrees(): void {
    this.trees = openIdmapTrees(this.ctx.sys, idmapMounts(this.spec, this.bundle));
    this.fds.push(...this.trees.values());
  }

  /** The cgroups made before the clone, and the files through which the init joins them itself. */
  private createCgroups(): void {
    if (this.noCgroups) return;
    const { rec, cgroup } = this;
    rec.cgroupCreated = cgroup.create();
    this.undo.push(() => cgroup.destroy(rec.cgroupCreated));
    this.ctx.store.save(rec);
    this.joinFds = openJoinFiles(this.ctx, cgroup, this.fds);
    this.ctx.debug?.(`create ${this.id}: cgroups ${Object.values(rec.cgroupPaths).join(' ')} ready (${rec.cgroupCreated.length} made)`);
  }

  /** The init's whole setup as plan ops, encoded for the stage. */
  private buildPlan(): Buffer {
    const { spec, opts, rootfs, consoleFd } = this;
    const propagation = spec.linux?.rootfsPropagation;
    this.plan = planBuilder().buildPlan({
      spec,
      bundle: this.bundle,
      rootfs,
      syncFd: this.childEnd,
      fifoFd: this.fifoFd,
      nsFds: this.nsFds,
      noPivot: opts.noPivot ?? false,
      preserveFds: opts.preserveFds ?? 0,
      cgroupMounts: (spec.mounts ?? []).some((m) => m.type === 'cgroup') ? (this.noCgroups ? newManager({ cgroupsPath: '.' }) : this.cgroup).mountSources() : [],
      mountTrees: this.trees,
      rootParentMount: propagation && /shared/.test(propagation) ? mountPointOf(rootfs) : null,
      hostDeviceExists: (p) => existsSync(p),
      isDirectory: (p) => {
        try {
          return statSync(p).isDirectory();
        } catch {
          return true;
        }
      },
      ...(consoleFd !== undefined ? { consoleFd } : {}),
      ...(opts.stdio ? { stdio: opts.stdio } : {}),
      lsm: hostLsm(),
      cgroupJoinFds: this.joinFds,
      ...(opts.noNewKeyring ? {} : { sessionKeyring: sessionKeyring(this.id) }),
    });
    const scratch = SCRATCH_MIN + 2 * Buffer.byteLength(JSON.stringify(this.rec.annotations)) + 2 * this.bundle.length;
    const buf = encodePlan(this.plan.ops, this.childEnd, scratch, this.parentEnd);
    if (this.ctx.debug) debugPlan(this.ctx, `create ${this.id}`, this.plan, buf.length);
    return buf;
  }

  /** Without a mount namespace of its own the init mounts in ours: what is on the
   * rootfs now is recorded, so that delete (or the undo) detaches only what it adds. */
  private recordRootMount(): void {
    if (ownsMountNs(this.spec)) return;
    const { rec } = this;
    rec.rootMountBase = topMountAt(this.rootfs);
    this.ctx.store.save(rec);
    this.undo.push(() => detachRoot(this.ctx, rec));
  }

  private cloneInit(buf: Buffer): void {
    const { pid, pidfd } = spawnIn(this.ctx, this.pidNsFd, buf, this.plan, this.parentEnd);
    this.pid = pid;
    this.pidfd = pidfd;
    fault('cloned');
    this.ctx.debug?.(`create ${this.id}: init cloned, pid ${pid}`);
    // A half-made init's mounts go with its mount namespace.
    this.undo.push(() => reap(this.ctx, pidfd));
    // Ends only the child uses: closed here so that the child's exit reads as EOF.
    closeChildEnds(this.ctx, this.fds, [this.childEnd, this.consoleFd, ...this.joinFds]);
    this.rec.pid = pid;
    this.rec.startTime = startTime(pid) ?? '';
  }

  /** The init's SYNC points, up to READY: id maps and cgroups, then the hooks, then the state for startContainer. */
  private async answerInit(): Promise<void> {
    const { ctx, id, spec, rec, pid, cgroup } = this;
    const stateJson = (status: Status) => JSON.stringify(ociState(rec, status));
    await converse(ctx, this.parentEnd, this.pidfd, this.plan, {
      [SyncTag.SETUP]: (joinErr) => {
        ctx.debug?.(`create ${id}: init asks for id maps and cgroup placement`);
        writeIdMaps(ctx.sys, pid, spec, this.caller);
        if (!this.noCgroups) {
          if (this.joinFds.length === 0 || joinErr !== 0) cgroup.enter(pid);
          fault('cgroups');
          if (spec.linux?.resources) cgroup.set(spec.linux.resources);
        }
        if (spec.process?.oomScoreAdj !== undefined) {
          writeProc(ctx.sys, `/proc/${pid}/oom_score_adj`, String(spec.process.oomScoreAdj), 'process.oomScoreAdj');
        }
        ctx.debug?.(`create ${id}: id maps, cgroups${spec.linux?.resources ? ', limits' : ''} done`);
        return '';
      },
      [SyncTag.HOOKS]: async () => {
        ctx.debug?.(`create ${id}: mounts done; prestart and createRuntime hooks (${(spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0)})`);
        // The runtime-spec's state doc: "created" once the environment is made (step 2 of the
        // lifecycle); these hooks are steps 3-5 (crun agrees; runc sends "creating").
        const s = stateJson('created');
        fault('hooks');
        await runHooks(spec.hooks?.prestart, 'prestart', s);
        await runHooks(spec.hooks?.createRuntime, 'createRuntime', s);
        return s;
      },
      [SyncTag.START_STATE]: () => stateJson('created'),
    }, (listener) => sendListener(ctx, spec, listener, JSON.parse(stateJson('creating')) as State));
  }

  /** With attach, the pty master the init made, sent back to us. */
  private receiveTerminal(): number | undefined {
    const master = this.attachEnd !== undefined ? this.ctx.sys.recvMsg(this.attachEnd, 64).fd : undefined;
    if (master === -1) throw new RuntsError('ERR_SYSCALL', 'process.terminal: the container sent no terminal');
    return master;
  }

  /** The state as "created", with the steps after the exec fifo that start may hear fail. */
  private markCreated(): void {
    const { ctx, rec, plan } = this;
    const fifoAt = plan.ops.findIndex((o) => o.op === 'EXEC_FIFO');
    rec.lateSteps = { first: fifoAt + 1, steps: plan.ops.slice(fifoAt + 1).map(stepOf) };
    rec.creating = false;
    ctx.store.save(rec);
    fault('created');
    if (this.opts.pidFile) writePidFile(resolve(this.opts.pidFile), this.pid);
    ctx.debug?.(`create ${this.id}: created; init ${this.pid} waits on the exec fifo`);
    this.fds.forEach((fd) => safeClose(ctx, fd));
    this.fds.length = 0;
    ctx.pidfds.set(this.id, this.pidfd);
  }
}

function hostId(map: { containerID: number; hostID: number; size: number }[] | undefined, id: number): number {
  const m = (map ?? []).find((e) => id >= e.containerID && id < e.containerID + e.size);
  return m ? m.hostID + (id - m.containerID) : id;
}
