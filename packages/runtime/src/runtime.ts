import { chmodSync, chownSync, closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, constants as fsc } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defaultSpec, features as ociFeatures, parseConfig, OCI_VERSION, type LinuxResources, type Process, type Spec, type State } from '@runts/oci';
import { checkSystemdPath, newManager, planUpdate, realFs, watchOom, type Manager, type OomWatch } from '@runts/cgroups';
import { RuntsError, configError, isRuntsError } from '@runts/errors';
import { LinuxSys, errnoName, strerror, testEnv, type Sys } from '@runts/sys';
import type { CreateOptions, EventsOptions, ExecOptions, GlobalOptions, Queries, RunOptions, RuntimeApi, UpdateOptions } from './cli/api';
import { runHooks, runHooksWarn } from './hooks';
import type { Lsm, Plan } from './plan/build';
import { NS_PROC_NAME } from './plan/flags';
import { encodePlan, type PlanOp } from './plan/encode';
import { MSG_SIZE, Msg, SyncTag } from './plan/ops';
import { MOUNT_OPTIONS } from './plan/mountopts';
import { isAlive, mountPointOf, ownStartTime, sleepMs, startTime, topMountAt } from './proc';
import { openIdmapTrees } from './idmap';
import { idmapMounts } from './plan/idmap';
import { cgroupsWritable, wantsLimits, writeIdMaps, type Caller } from './rootless';
import { attachTerminal, terminalSize } from './tty';
import { isoTime } from '@runts/cli';
import { StateStore, type ContainerRecord, type Status } from './state';
import { createQueries, ociState, statusOf } from './query';
import { NOT_PAUSED, NOT_RUNNING, NO_SUCH_PROCESS, START_RUNNING, START_STOPPED, deleteNotStopped } from './wording';

/** node:os when a command first needs it (~0.5 ms to load): state and list never do. */
const os = (): typeof import('node:os') => require('node:os') as typeof import('node:os');

/** A process this runtime started, for a parent that stays (run, exec, the shim). */
export interface Created {
  pid: number;
  pidfd: number;
  /** The pty master of a terminal attached to this process. */
  master?: number;
}

export interface RuntimeOptions {
  root: string;
  systemdCgroup?: boolean;
  sys?: Sys;
  warn?: (msg: string) => void;
  /** --debug: one line per setup step. Without it, no line is even built. */
  debug?: (msg: string) => void;
}

// Room for the state JSON that hooks get on stdin, sent by the parent at a SYNC.
const SCRATCH_MIN = 64 * 1024;
// Where update keeps the container's resources after a change.
const RESOURCES_FILE = 'resources.json';
// How long a delete waits for a create under way in another process.
const CREATE_WAIT_MS = 30_000;
// How often a streaming `events` looks for OOM kills and for the container's end.
const EVENTS_POLL_MS = 100;
// How often start looks whether an init that has not given the go still lives.
const START_POLL_MS = 10;
// umount2's lazy detach: the mount and everything under it.
const MNT_DETACH = 2;

/** What an error report from the stage needs of the step that failed. */
type Step = NonNullable<ContainerRecord['lateSteps']>['steps'][number];

function stepOf(o: PlanOp): Step {
  return { op: o.op, path: o.path, what: o.what, name: typeof o.args[0] === 'string' ? o.args[0] : '' };
}

/** The stage's report of a failed step ({kind, index, errno, arg}) as the error the user sees. */
function stageError(step: Step | undefined, index: number, kind: number, err: number, arg: number): RuntsError {
  if (!step) return new RuntsError('ERR_SYSCALL', `container init failed at unknown step ${index}`);
  if (kind === Msg.HOOK) {
    const how = errnoName(err) === 'ETIMEDOUT' ? 'timed out' : arg >= 128 ? `was killed by signal ${arg - 128}` : `exited with status ${arg}`;
    return new RuntsError('ERR_HOOK', `${step.path}: hook ${step.name} ${how}`, { path: step.path });
  }
  const name = errnoName(err);
  if (step.op === 'LOOKUP' && (name === 'ENOENT' || name === 'EACCES')) {
    // Engines read these words: docker maps "not found"/"no such file" to 127, "permission denied" to 126.
    const file = step.name;
    const why = name === 'EACCES' ? 'permission denied' : file.includes('/') ? 'no such file or directory' : 'executable file not found in $PATH';
    return new RuntsError('ERR_CONFIG_INVALID', `${step.path}: exec "${file}": ${why}`, { path: step.path, errno: name });
  }
  return new RuntsError('ERR_SYSCALL', `${step.path}: ${step.what}: ${name} (${strerror(err)})`, {
    path: step.path,
    syscall: step.op.toLowerCase(),
    errno: name,
  });
}

/** The rest of this turn of the event loop, for a wait that goes on in slices. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));
const SIGNALS_FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;

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

export class Runtime implements RuntimeApi {
  readonly store: StateStore;
  private readonly queries: Queries;
  private readonly sys: Sys;
  private readonly warn: (msg: string) => void;
  private readonly debug: ((msg: string) => void) | undefined;
  private readonly systemd: boolean;
  /** pidfds of inits this process created, for run's wait. */
  private readonly pidfds = new Map<string, number>();

  constructor(opts: RuntimeOptions) {
    this.store = new StateStore(opts.root);
    this.queries = createQueries(this.store);
    this.sys = opts.sys ?? new LinuxSys();
    this.warn = opts.warn ?? ((m) => process.stderr.write(`runts: warning: ${m}\n`));
    this.debug = opts.debug;
    this.systemd = opts.systemdCgroup ?? false;
  }

  async create(id: string, opts: CreateOptions): Promise<void> {
    this.safeClose((await this.createInit(id, opts, false)).pidfd);
    this.pidfds.delete(id);
  }

  /** create for a parent that stays (the shim): it owns the init's pidfd and, with
   * a terminal and no console socket, the pty master. */
  async spawnInit(id: string, opts: CreateOptions): Promise<Created> {
    const created = await this.createInit(id, opts, true);
    this.pidfds.delete(id);
    return created;
  }

  /** For a parent that stays (the shim), before its first container: runs once, with no
   * side effect, the code a create needs (config check, plan, encoding) so that the first
   * create does not pay for loading and compiling it. */
  warmUp(): void {
    const spec = parseConfig(JSON.stringify(defaultSpec()));
    spec.process!.terminal = false;
    const plan = planBuilder().buildPlan({
      spec,
      bundle: '/',
      rootfs: '/',
      syncFd: -1,
      fifoFd: -1,
      nsFds: new Map(),
      noPivot: false,
      preserveFds: 0,
      cgroupMounts: [],
      rootParentMount: null,
      hostDeviceExists: () => true,
      isDirectory: () => true,
      lsm: hostLsm(),
    });
    encodePlan(plan.ops, -1, SCRATCH_MIN, -1);
  }

  /** With attach, a terminal's master comes back here instead of going to a console socket. */
  private async createInit(id: string, opts: CreateOptions, attach: boolean): Promise<Created> {
    const dir = this.store.claim(id);
    fault('claimed');
    const undo = new Undo();
    undo.push(() => this.store.remove(id));
    try {
      return await this.setup(id, dir, opts, attach, undo);
    } catch (e) {
      undo.run();
      throw e;
    }
  }

  private async setup(id: string, dir: string, opts: CreateOptions, attach: boolean, undo: Undo): Promise<Created> {
    const bundle = resolve(opts.bundle);
    const configPath = join(bundle, 'config.json');
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (e) {
      throw new RuntsError('ERR_NOT_FOUND', `config.json: cannot read ${configPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { file: configPath });
    }
    const spec = parseConfig(text);
    this.debug?.(`create ${id}: ${configPath} read and valid (${text.length} bytes)`);
    // exec and delete need the config as it was at create, whatever the bundle holds later.
    writeFileSync(join(dir, 'config.json'), text, { mode: 0o600 });
    if (!spec.root?.path) throw configError('root.path', 'is required');
    const rootfs = resolve(bundle, spec.root.path);
    let realRootfs: string;
    try {
      realRootfs = realpathSync(rootfs);
      if (!statSync(realRootfs).isDirectory()) throw new Error('not a directory');
    } catch {
      throw configError('root.path', `${rootfs} is not a directory`);
    }
    const rec: ContainerRecord = {
      ociVersion: spec.ociVersion,
      id,
      bundle,
      rootfs: realRootfs,
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
    this.store.save(rec);
    fault('saved');
    this.debug?.(`create ${id}: state saved in ${dir}`);

    if (this.systemd) checkSystemdPath(spec.linux?.cgroupsPath, realFs);
    const cgroup = newManager({ id, bpf: this.sys, ...(spec.linux?.cgroupsPath ? { cgroupsPath: spec.linux.cgroupsPath } : {}) });
    const caller = this.caller();
    // Rootless without a delegated cgroup: the init stays in the caller's cgroups, as with rootless runc.
    const noCgroups = caller !== null && !cgroupsWritable(cgroup.paths());
    if (noCgroups && wantsLimits(spec.linux?.resources)) {
      throw new RuntsError('ERR_CGROUP', `linux.resources: user ${caller.name} cannot create ${Object.values(cgroup.paths())[0] ?? 'cgroups'} (no cgroup delegated to it), so no limits can be set`, { path: 'linux.resources' });
    }
    rec.cgroupPaths = noCgroups ? {} : cgroup.paths();

    const fds: number[] = [];
    undo.push(() => fds.forEach((fd) => this.safeClose(fd)));
    const [parentEnd, childEnd] = this.sys.socketpair();
    fds.push(parentEnd, childEnd);
    const fifo = this.store.fifo(id);
    this.sys.mkfifo(fifo, 0o622);
    chmodSync(fifo, 0o622);
    const rootUid = hostId(spec.linux?.uidMappings, 0);
    const rootGid = hostId(spec.linux?.gidMappings, 0);
    if (caller === null && (rootUid !== 0 || rootGid !== 0)) chownSync(fifo, rootUid, rootGid);
    const fifoFd = this.sys.openPath(fifo);
    fds.push(fifoFd);

    if (!spec.process?.terminal && opts.consoleSocket) {
      throw new RuntsError('ERR_USAGE', '--console-socket given, but process.terminal is false in config.json');
    }
    const { consoleFd, attachEnd } = spec.process?.terminal
      ? this.console(opts.consoleSocket, attach, fds, 'cannot allocate a terminal for a detached container without --console-socket')
      : {};

    const nsFds = new Map<number, number>();
    let pidNsFd: number | undefined;
    (spec.linux?.namespaces ?? []).forEach((ns, i) => {
      if (!ns.path) return;
      let fd: number;
      try {
        fd = openSync(ns.path, 'r');
      } catch (e) {
        throw configError(`linux.namespaces[${i}].path`, `cannot open ${ns.path}: ${(e as NodeJS.ErrnoException).code}`);
      }
      fds.push(fd);
      if (ns.type === 'pid') pidNsFd = fd;
      else nsFds.set(i, fd);
    });

    const trees = openIdmapTrees(this.sys, idmapMounts(spec, bundle));
    fds.push(...trees.values());

    let joinFds: number[] = [];
    if (!noCgroups) {
      rec.cgroupCreated = cgroup.create();
      undo.push(() => cgroup.destroy(rec.cgroupCreated));
      this.store.save(rec);
      joinFds = openJoinFiles(cgroup, fds);
      this.debug?.(`create ${id}: cgroups ${Object.values(rec.cgroupPaths).join(' ')} ready (${rec.cgroupCreated.length} made)`);
    }

    const propagation = spec.linux?.rootfsPropagation;
    const plan = planBuilder().buildPlan({
      spec,
      bundle,
      rootfs: realRootfs,
      syncFd: childEnd,
      fifoFd,
      nsFds,
      noPivot: opts.noPivot ?? false,
      preserveFds: opts.preserveFds ?? 0,
      cgroupMounts: (spec.mounts ?? []).some((m) => m.type === 'cgroup') ? (noCgroups ? newManager({ cgroupsPath: '.' }) : cgroup).mountSources() : [],
      mountTrees: trees,
      rootParentMount: propagation && /shared/.test(propagation) ? mountPointOf(realRootfs) : null,
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
      cgroupJoinFds: joinFds,
      ...(opts.noNewKeyring ? {} : { sessionKeyring: sessionKeyring(id) }),
    });
    const stateJson = (status: Status) => JSON.stringify(ociState(rec, status));
    const scratch = SCRATCH_MIN + 2 * Buffer.byteLength(JSON.stringify(rec.annotations)) + 2 * bundle.length;
    const buf = encodePlan(plan.ops, childEnd, scratch, parentEnd);
    if (this.debug) this.debugPlan(`create ${id}`, plan, buf.length);

    if (!ownsMountNs(spec)) {
      rec.rootMountBase = topMountAt(realRootfs);
      this.store.save(rec);
      undo.push(() => this.detachRoot(rec));
    }
    const { pid, pidfd } = this.spawnIn(pidNsFd, buf, plan, parentEnd);
    fault('cloned');
    this.debug?.(`create ${id}: init cloned, pid ${pid}`);
    // A half-made init's mounts go with its mount namespace.
    undo.push(() => this.reap(pidfd));
    // Ends only the child uses: closed here so that the child's exit reads as EOF.
    this.closeChildEnds(fds, [childEnd, consoleFd, ...joinFds]);
    rec.pid = pid;
    rec.startTime = startTime(pid) ?? '';

    await this.converse(parentEnd, pidfd, plan, {
      [SyncTag.SETUP]: (joinErr) => {
        this.debug?.(`create ${id}: init asks for id maps and cgroup placement`);
        writeIdMaps(pid, spec, caller);
        if (!noCgroups) {
          if (joinFds.length === 0 || joinErr !== 0) cgroup.enter(pid);
          fault('cgroups');
          if (spec.linux?.resources) cgroup.set(spec.linux.resources);
        }
        if (spec.process?.oomScoreAdj !== undefined) {
          writeProc(`/proc/${pid}/oom_score_adj`, String(spec.process.oomScoreAdj), 'process.oomScoreAdj');
        }
        this.debug?.(`create ${id}: id maps, cgroups${spec.linux?.resources ? ', limits' : ''} done`);
        return '';
      },
      [SyncTag.HOOKS]: async () => {
        this.debug?.(`create ${id}: mounts done; prestart and createRuntime hooks (${(spec.hooks?.prestart?.length ?? 0) + (spec.hooks?.createRuntime?.length ?? 0)})`);
        // The runtime-spec's state doc: "created" once the environment is made (step 2 of the
        // lifecycle); these hooks are steps 3-5 (crun agrees; runc sends "creating").
        const s = stateJson('created');
        fault('hooks');
        await runHooks(spec.hooks?.prestart, 'prestart', s);
        await runHooks(spec.hooks?.createRuntime, 'createRuntime', s);
        return s;
      },
      [SyncTag.START_STATE]: () => stateJson('created'),
    }, (listener) => this.sendListener(spec, listener, JSON.parse(stateJson('creating')) as State));

    const master = attachEnd !== undefined ? this.sys.recvMsg(attachEnd, 64).fd : undefined;
    if (master === -1) throw new RuntsError('ERR_SYSCALL', 'process.terminal: the container sent no terminal');
    const fifoAt = plan.ops.findIndex((o) => o.op === 'EXEC_FIFO');
    rec.lateSteps = { first: fifoAt + 1, steps: plan.ops.slice(fifoAt + 1).map(stepOf) };
    rec.creating = false;
    this.store.save(rec);
    fault('created');
    if (opts.pidFile) writePidFile(resolve(opts.pidFile), pid);
    this.debug?.(`create ${id}: created; init ${pid} waits on the exec fifo`);
    fds.forEach((fd) => this.safeClose(fd));
    fds.length = 0;
    this.pidfds.set(id, pidfd);
    return master !== undefined ? { pid, pidfd, master } : { pid, pidfd };
  }

  /** Clones the child; a user or pid namespace to join is joined by the stage's
   * intermediate child (after the plan's ops before FORK), never by this process.
   * An intermediate that failed an op said which on the sync socket (`fd`). */
  private spawnIn(pidNsFd: number | undefined, buf: Buffer, plan: Plan, fd: number): { pid: number; pidfd: number } {
    try {
      if (plan.usernsFd === undefined && pidNsFd === undefined) return this.sys.spawn(buf, plan.cloneFlags);
      return this.sys.spawn(buf, plan.cloneFlags, { ...(plan.usernsFd !== undefined ? { userns: plan.usernsFd } : {}), ...(pidNsFd !== undefined ? { pidns: pidNsFd } : {}) });
    } catch (e) {
      if (!this.sys.pollIn(fd, 0)) throw e;
      const { data: msg } = this.sys.recvMsg(fd, MSG_SIZE);
      if (msg.length < MSG_SIZE || msg.readUInt32LE(0) !== Msg.ERROR) throw e;
      throw this.opError(plan, msg.readUInt32LE(4), msg.readInt32LE(8));
    }
  }

  /** A failed op as the user reads it: its config path, what it did, and the errno. */
  private opError(plan: Plan, index: number, err: number): RuntsError {
    const op = plan.ops[index];
    if (op) return stageError(stepOf(op), index, Msg.ERROR, err, 0);
    const name = errnoName(err);
    return new RuntsError('ERR_SYSCALL', `native stage: plan refused at ${index === 0xffff_ffff ? 'its header' : `step ${index}`}: ${name} (${strerror(err)})`, { errno: name });
  }

  /** Answers the child's SYNC points until it reports READY; turns its errors into RuntsErrors.
   * A handler may wait (hooks): the event loop runs meanwhile. */
  private async converse(fd: number, pidfd: number, plan: Plan, handlers: Record<number, (joinErr: number) => string | Promise<string>>, onListener?: (listener: number) => void): Promise<void> {
    let last = -1;
    const receive = () => {
      try {
        return this.sys.recvMsg(fd, MSG_SIZE);
      } catch (e) {
        // The init died with our last answer unread.
        if (isRuntsError(e) && e.detail.errno === 'ECONNRESET') throw this.diedInSetup(pidfd, plan, last);
        throw e;
      }
    };
    for (;;) {
      const { data: msg, fd: passed } = receive();
      if (msg.length < MSG_SIZE) throw this.diedInSetup(pidfd, plan, last);
      const kind = msg.readUInt32LE(0);
      const index = msg.readUInt32LE(4);
      last = index;
      const err = msg.readInt32LE(8);
      const arg = msg.readInt32LE(12);
      const op = plan.ops[index];
      this.debug?.(`init at plan op ${index}/${plan.ops.length} (${op?.what ?? '?'}): ${kind === Msg.READY ? 'ready' : kind === Msg.SYNC ? 'sync' : kind === Msg.SECCOMP ? 'seccomp listener' : 'failed'}`);
      if (kind === Msg.READY) return;
      if (kind === Msg.SECCOMP) {
        try {
          if (passed < 0) throw new RuntsError('ERR_SYSCALL', 'linux.seccomp: the container sent no listener fd');
          onListener?.(passed);
        } catch (e) {
          this.reply(fd, 1, Buffer.alloc(0));
          throw e;
        } finally {
          if (passed >= 0) this.safeClose(passed);
        }
        this.reply(fd, 0, Buffer.alloc(0));
        continue;
      }
      if (kind === Msg.SYNC) {
        const handler = handlers[arg];
        let payload = Buffer.alloc(0);
        try {
          payload = Buffer.from(handler ? await handler(err) : '');
        } catch (e) {
          this.reply(fd, 1, payload);
          throw e;
        }
        try {
          this.reply(fd, 0, payload);
        } catch {
          // EPIPE: the init died while we answered (a hook may have killed it).
          throw this.diedInSetup(pidfd, plan, last);
        }
        continue;
      }
      throw op ? stageError(stepOf(op), index, kind, err, arg) : this.opError(plan, index, err);
    }
  }

  /** The init closed the sync socket without a report: it died. Its wait status and the
   * last step it reported say where (it is reaped here; the undo's reap finds it gone). */
  private diedInSetup(pidfd: number, plan: Plan, last: number): RuntsError {
    let st = null;
    for (let i = 0; i < 2000 && !st; i++) {
      try {
        st = this.sys.tryWaitPidfd(pidfd);
      } catch {
        break;
      }
      if (!st) sleepMs(1);
    }
    const how = !st ? 'is gone' : st.signal !== undefined ? `was killed by signal ${st.signal} (${signalName(st.signal)})` : `exited with status ${st.code}`;
    const op = plan.ops[last];
    const where = op ? `after step ${last} of ${plan.ops.length} (${op.path}: ${op.what})` : 'before its first step';
    return new RuntsError('ERR_SYSCALL', `container init ${how} during setup, ${where}, without reporting an error`);
  }

  /** After READY an exec'd process only unblocks signals, loads its filter and
   * execs: the exec closes its end (EOF), or it reports why it could not. */
  private awaitExec(fd: number, plan: Plan): void {
    const msg = this.sys.recvMsg(fd, MSG_SIZE).data;
    if (msg.length < MSG_SIZE) return;
    const index = msg.readUInt32LE(4);
    const op = plan.ops[index];
    throw stageError(op && stepOf(op), index, msg.readUInt32LE(0), msg.readInt32LE(8), msg.readInt32LE(12));
  }

  /** Hands the seccomp listener to the agent at linux.seccomp.listenerPath, as the runtime-spec says. */
  private sendListener(spec: Spec, listener: number, state: State): void {
    const path = spec.linux?.seccomp?.listenerPath;
    if (!path) throw configError('linux.seccomp.listenerPath', 'SCMP_ACT_NOTIFY needs a listener path');
    const sock = this.sys.connectUnix(path);
    try {
      const msg = {
        ociVersion: OCI_VERSION,
        fds: ['seccompFd'],
        pid: state.pid,
        metadata: spec.linux?.seccomp?.listenerMetadata ?? '',
        state,
      };
      this.sys.sendFd(sock, Buffer.from(JSON.stringify(msg)), listener);
    } finally {
      this.safeClose(sock);
    }
  }

  private reply(fd: number, status: number, payload: Buffer): void {
    const head = Buffer.alloc(8);
    head.writeUInt32LE(status, 0);
    head.writeUInt32LE(payload.length, 4);
    try {
      this.sys.write(fd, Buffer.concat([head, payload]));
    } catch {
      /* the child is gone; the next read reports it */
    }
  }

  /** The container's own process, the base that `exec` with arguments changes. */
  baseProcess(id: string): Process {
    this.store.load(id);
    const p = this.store.config(id).process;
    if (!p) throw new RuntsError('ERR_CONFIG_INVALID', `container "${id}" has no process in its config`);
    return p;
  }

  /** Runs another process in a running container; returns its exit code (0 when detached). */
  async exec(id: string, opts: ExecOptions): Promise<number> {
    // In the foreground without a console socket, as runc: we hold the pty and relay it,
    // and the pty has our terminal's size before the process runs.
    const relay = opts.process.terminal === true && !opts.detach && !opts.consoleSocket;
    const size = relay && opts.process.consoleSize === undefined ? terminalSize() : undefined;
    const proc = size ? { ...opts.process, consoleSize: { height: size.rows, width: size.cols } } : opts.process;
    const { pidfd, master } = await this.spawnExec(id, { ...opts, process: proc }, relay);
    if (master !== undefined) return await attachTerminal(this.sys, master, this.waitForwarding(pidfd, ['SIGWINCH']));
    if (!opts.detach) return await this.waitForwarding(pidfd);
    this.safeClose(pidfd);
    return 0;
  }

  /** Starts an exec'd process and hands back its pidfd; with attach, a terminal's
   * master comes back instead of going to a console socket. */
  async spawnExec(id: string, opts: ExecOptions, attach = true): Promise<Created> {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', `cannot exec in a ${status} container`);
    if (status === 'paused' && !opts.ignorePaused) throw new RuntsError('ERR_BAD_STATE', 'cannot exec in a paused container (use --ignore-paused)');
    const spec = this.store.config(id);
    const fds: number[] = [];
    try {
      const nsFds = new Map<string, number>();
      let pidNsFd: number | undefined;
      for (const ns of spec.linux?.namespaces ?? []) {
        const fd = openSync(`/proc/${rec.pid}/ns/${NS_PROC_NAME[ns.type]}`, 'r');
        fds.push(fd);
        if (ns.type === 'pid') pidNsFd = fd;
        else nsFds.set(ns.type, fd);
      }
      const [parentEnd, childEnd] = this.sys.socketpair();
      fds.push(parentEnd, childEnd);
      const { consoleFd, attachEnd } = opts.process.terminal ? this.console(opts.consoleSocket, attach, fds, 'a detached exec with a terminal needs --console-socket') : {};
      const cgroup = newManager({ paths: rec.cgroupPaths });
      const joinFds = openJoinFiles(cgroup, fds);
      const plan = planBuilder().buildExecPlan({
        cgroupJoinFds: joinFds,
        process: opts.process,
        nsFds,
        preserveFds: opts.preserveFds ?? 0,
        ...(consoleFd !== undefined ? { consoleFd } : {}),
        ...(opts.stdio ? { stdio: opts.stdio } : {}),
        ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
        ...(ownsMountNs(spec) ? {} : { chroot: rec.rootfs }),
        lsm: hostLsm(),
        ...(rec.noNewKeyring ? {} : { sessionKeyring: sessionKeyring(id) }),
      });
      const buf = encodePlan(plan.ops, childEnd, 4096, parentEnd);
      if (this.debug) this.debugPlan(`exec ${id}`, plan, buf.length);
      const { pid, pidfd } = this.spawnIn(pidNsFd, buf, plan, parentEnd);
      this.debug?.(`exec ${id}: process cloned, pid ${pid}`);
      this.closeChildEnds(fds, [childEnd, consoleFd, ...joinFds]);
      let master: number | undefined;
      try {
        await this.converse(parentEnd, pidfd, plan, {
          [SyncTag.SETUP]: (joinErr) => {
            if (joinFds.length === 0 || joinErr !== 0) cgroup.apply(pid);
            return '';
          },
        }, (listener) => this.sendListener(spec, listener, ociState(rec, status)));
        this.awaitExec(parentEnd, plan);
        if (attachEnd !== undefined) {
          master = this.sys.recvMsg(attachEnd, 64).fd;
          if (master === -1) throw new RuntsError('ERR_SYSCALL', 'process.terminal: the exec sent no terminal');
        }
      } catch (e) {
        this.reap(pidfd);
        throw e;
      }
      if (opts.pidFile) writePidFile(resolve(opts.pidFile), pid);
      this.debug?.(`exec ${id}: process ${pid} runs ${String(opts.process.args?.[0] ?? '')}`);
      return master !== undefined ? { pid, pidfd, master } : { pid, pidfd };
    } finally {
      fds.forEach((fd) => this.safeClose(fd));
    }
  }

  /** Where a terminal's master goes: the console socket, or (attach) back to us
   * through a socketpair whose other end the container gets. */
  private console(socket: string | undefined, attach: boolean, fds: number[], noSocket: string): { consoleFd: number; attachEnd?: number } {
    if (socket) {
      const consoleFd = this.sys.connectUnix(resolve(socket));
      fds.push(consoleFd);
      return { consoleFd };
    }
    if (!attach) throw configError('process.terminal', noSocket);
    const [attachEnd, consoleFd] = this.sys.socketpair();
    fds.push(attachEnd, consoleFd);
    return { consoleFd, attachEnd };
  }

  /** Waits for our child, passing on the signals a foreground runtime gets. */
  private async waitForwarding(pidfd: number, skip: string[] = []): Promise<number> {
    const forward = new Map<string, () => void>();
    for (const sig of SIGNALS_FORWARDED) {
      if (skip.includes(sig)) continue;
      const h = () => {
        try {
          this.sys.pidfdSendSignal(pidfd, os().constants.signals[sig]);
        } catch {
          /* exited */
        }
      };
      forward.set(sig, h);
      process.on(sig, h);
    }
    try {
      return (await this.sys.waitPidfd(pidfd)).code;
    } finally {
      for (const [sig, h] of forward) process.off(sig, h);
      this.safeClose(pidfd);
    }
  }

  /** Closes the fds that only the child uses, once it has its copies. */
  private closeChildEnds(fds: number[], ends: (number | undefined)[]): void {
    for (const fd of ends) {
      if (fd === undefined) continue;
      this.safeClose(fd);
      fds.splice(fds.indexOf(fd), 1);
    }
  }

  /** --debug: the steps the init will take, in order, before it takes them. */
  private debugPlan(what: string, plan: Plan, bytes: number): void {
    this.debug!(`${what}: plan of ${plan.ops.length} ops (${bytes} bytes)`);
    plan.ops.forEach((o, i) => this.debug!(`${what}: plan op ${i}: ${o.what} (${o.path})`));
  }

  /** Kills and reaps a child that failed its setup. */
  private reap(pidfd: number): void {
    try {
      this.sys.pidfdSendSignal(pidfd, os().constants.signals.SIGKILL);
      for (let i = 0; i < 5000 && !this.sys.tryWaitPidfd(pidfd); i++) sleepMs(1);
    } catch {
      /* already gone */
    }
    this.safeClose(pidfd);
  }

  async start(id: string): Promise<void> {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    if (status !== 'created') throw new RuntsError('ERR_BAD_STATE', status === 'stopped' ? START_STOPPED : START_RUNNING);
    const fifo = this.store.fifo(id);
    const fd = openSync(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
    this.debug?.(`start ${id}: exec fifo of init ${rec.pid} opened`);
    try {
      const b = Buffer.alloc(MSG_SIZE);
      // n > 0: bytes; 0: EOF, no writer (yet, or any more); -1: a writer, nothing written.
      const read = (n: number) => {
        try {
          return readSync(fd, b, 0, n, null);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
          return -1;
        }
      };
      while (read(1) !== 1) {
        if (!isAlive(rec.pid, rec.startTime)) {
          // A short process may have taken the go, run and exited between our two looks.
          if (read(1) === 1) break;
          throw new RuntsError('ERR_BAD_STATE', `container "${id}" init exited before start`);
        }
        // Woken by the init's write; a writer that left without one (hang-up) would wake us at once.
        if (!this.sys.pollIn(fd, START_POLL_MS)) await nextTurn();
      }
      this.debug?.(`start ${id}: init took the go; startContainer hooks, then exec`);
      // The init holds its end until it execs the process, after its startContainer
      // hooks and seccomp filter; poststart comes after that (runtime-spec), so wait
      // for the hang-up, in slices: a shim serves its other containers meanwhile. A
      // step that fails before it writes its report here.
      let report = Buffer.alloc(0);
      const take = (n: number) => (report = Buffer.concat([report, b.subarray(0, n)]));
      for (;;) {
        const n = read(MSG_SIZE);
        if (n > 0) take(n);
        else if (n === 0 || !isAlive(rec.pid, rec.startTime)) break;
        else if (!this.sys.pollIn(fd, START_POLL_MS)) await nextTurn();
      }
      if (report.length >= MSG_SIZE) {
        const late = rec.lateSteps;
        const index = report.readUInt32LE(4);
        const step = late && index >= late.first ? late.steps[index - late.first] : undefined;
        throw stageError(step, index, report.readUInt32LE(0), report.readInt32LE(8), report.readInt32LE(12));
      }
    } finally {
      closeSync(fd);
      try {
        unlinkSync(fifo);
      } catch {
        /* a concurrent start removed it */
      }
    }
    this.debug?.(`start ${id}: the process runs; poststart hooks (${rec.poststart.length})`);
    await runHooksWarn(rec.poststart, 'poststart', JSON.stringify(ociState(rec, 'running')), this.warn);
  }

  async run(id: string, opts: RunOptions): Promise<number> {
    const { pidfd, master } = await this.createInit(id, opts, !opts.detach);
    try {
      // The init waits on the exec fifo: the pty gets our terminal's size before the process runs.
      const size = master !== undefined ? terminalSize() : undefined;
      if (size) this.sys.setWinsize(master!, size.rows, size.cols);
      await this.start(id);
    } catch (e) {
      await this.delete(id, { force: true }).catch(() => undefined);
      this.safeClose(pidfd);
      if (master !== undefined) this.safeClose(master);
      throw e;
    }
    if (opts.detach) {
      this.safeClose(pidfd);
      return 0;
    }
    const code = master !== undefined ? await attachTerminal(this.sys, master, this.waitForwarding(pidfd, ['SIGWINCH'])) : await this.waitForwarding(pidfd);
    this.pidfds.delete(id);
    if (!opts.keep) await this.delete(id, { force: true });
    return code;
  }

  state(id: string): State {
    return this.queries.state(id);
  }

  list(): State[] {
    return this.queries.list();
  }

  kill(id: string, signal: number, opts: { all?: boolean }): void {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    // As runc's --all: whatever is left in the cgroup is signalled, even after the init's exit.
    if (status === 'stopped' && opts.all) {
      if (Object.keys(rec.cgroupPaths).length > 0) this.signalAll(rec, signal);
      return;
    }
    if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
    this.debug?.(`kill ${id}: signal ${signal} to ${opts.all ? 'every process' : `init ${rec.pid}`} (${status})`);
    // Without cgroups (rootless) only the init can be found; a pid namespace's processes die with it.
    if ((opts.all || rec.sharedPidNs) && Object.keys(rec.cgroupPaths).length > 0) {
      this.signalAll(rec, signal);
      if (!opts.all) this.signalInit(rec, signal);
      return;
    }
    this.signalInit(rec, signal);
    // A frozen task takes its SIGKILL only once thawed (cgroup v1).
    if (status === 'paused' && signal === os().constants.signals.SIGKILL) this.cgroup(rec).thaw();
  }

  /** Signals every process of the cgroup, frozen meanwhile so that none forks
   * away unsignalled. A paused container stays paused unless the signal is SIGKILL. */
  private signalAll(rec: ContainerRecord, signal: number): void {
    const cg = this.cgroup(rec);
    if (signal === os().constants.signals.SIGKILL && rec.cgroupPaths[''] !== undefined && cg.killAll()) return;
    const wasFrozen = cg.isFrozen();
    if (!wasFrozen) {
      try {
        cg.freeze();
      } catch {
        /* no freezer, or still freezing: signal them live (and thaw below all the same) */
      }
    }
    try {
      for (const pid of cg.pids()) {
        try {
          this.sys.kill(pid, signal);
        } catch {
          /* exited meanwhile */
        }
      }
    } finally {
      if (!wasFrozen || signal === os().constants.signals.SIGKILL) {
        try {
          cg.thaw();
        } catch {
          /* no freezer */
        }
      }
    }
  }

  private cgroup(rec: ContainerRecord): Manager {
    return newManager({ paths: rec.cgroupPaths, bpf: this.sys });
  }

  /** The resources the container has: the last update's, else config.json's. */
  private resources(id: string): LinuxResources {
    try {
      return JSON.parse(readFileSync(join(this.store.dir(id), RESOURCES_FILE), 'utf8')) as LinuxResources;
    } catch {
      return this.store.config(id).linux?.resources ?? {};
    }
  }

  update(id: string, opts: UpdateOptions): LinuxResources {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    if (status === 'stopped' || status === 'creating') throw new RuntsError('ERR_BAD_STATE', `container "${id}" is not running`);
    for (const w of opts.warnings ?? []) this.warn(w);
    if (opts.l3CacheSchema || opts.memBwSchema) {
      const what = opts.l3CacheSchema ? 'Intel RDT/CAT: l3 cache schema' : 'Intel RDT/MBA: memory bandwidth schema';
      if (!existsSync('/sys/fs/resctrl/schemata')) throw new RuntsError('ERR_UNSUPPORTED', `${what} is not enabled (resctrl is not mounted at /sys/fs/resctrl)`);
      throw new RuntsError('ERR_UNSUPPORTED', `${what}: updating Intel RDT is not supported by runts`);
    }
    const { merged, writes } = planUpdate(this.resources(id), opts.resources);
    this.cgroup(rec).set(writes);
    // Kept beside the state, written atomically: later updates merge into it.
    const file = join(this.store.dir(id), RESOURCES_FILE);
    writeFileSync(`${file}.tmp`, JSON.stringify(merged), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
    return merged;
  }

  pause(id: string): void {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    if (status !== 'running' && status !== 'created') throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
    if (Object.keys(rec.cgroupPaths).length === 0) throw new RuntsError('ERR_CGROUP', `cannot pause container "${id}": it has no cgroup of its own (rootless, no cgroup delegated)`);
    this.cgroup(rec).freeze();
  }

  resume(id: string): void {
    const rec = this.store.load(id);
    const status = statusOf(this.store, rec);
    if (status !== 'paused') throw new RuntsError('ERR_BAD_STATE', NOT_PAUSED);
    this.cgroup(rec).thaw();
  }

  processes(id: string): number[] {
    const rec = this.store.load(id);
    if (statusOf(this.store, rec) === 'stopped') return [];
    return this.cgroup(rec).pids();
  }

  async events(id: string, opts: EventsOptions, out: (event: object) => void): Promise<void> {
    if (!(opts.intervalMs > 0)) throw new RuntsError('ERR_USAGE', '--interval must be greater than 0');
    const rec = this.store.load(id);
    if (statusOf(this.store, rec) === 'stopped') throw new RuntsError('ERR_BAD_STATE', `container with id ${id} is not running`);
    const cg = this.cgroup(rec);
    const stats = () => out({ type: 'stats', id, data: cg.stats() });
    if (opts.stats) {
      stats();
      return;
    }
    const oom = watchOom(cg, this.sys);
    const gone = () => !existsSync(this.store.file(id)) || !isAlive(rec.pid, rec.startTime);
    try {
      let next = Date.now() + opts.intervalMs;
      for (;;) {
        for (let n = oom.poll(); n > 0; n--) out({ type: 'oom', id });
        if (gone()) {
          for (let n = oom.poll(); n > 0; n--) out({ type: 'oom', id });
          return;
        }
        const now = Date.now();
        if (now >= next) {
          stats();
          next = now + opts.intervalMs;
        }
        await new Promise((r) => setTimeout(r, Math.max(1, Math.min(EVENTS_POLL_MS, next - Date.now()))));
      }
    } finally {
      oom.close();
    }
  }

  /** The container's OOM kills, for a parent that stays (the shim). */
  oomWatch(id: string): OomWatch {
    return watchOom(newManager({ paths: this.store.load(id).cgroupPaths }), this.sys);
  }

  /** An init that exits between the status check and the signal is reported
   * in the words engines take for "already gone". */
  private signalInit(rec: ContainerRecord, signal: number): void {
    let pidfd: number;
    try {
      pidfd = this.sys.pidfdOpen(rec.pid);
    } catch (e) {
      throw isRuntsError(e) && e.detail.errno === 'ESRCH' ? new RuntsError('ERR_BAD_STATE', NOT_RUNNING) : e;
    }
    try {
      if (!isAlive(rec.pid, rec.startTime)) throw new RuntsError('ERR_BAD_STATE', NOT_RUNNING);
      this.sys.pidfdSendSignal(pidfd, signal);
    } catch (e) {
      throw isRuntsError(e) && e.detail.errno === 'ESRCH' ? new RuntsError('ERR_BAD_STATE', `${e.detail.syscall ?? 'kill'}: ${NO_SUCH_PROCESS}`) : e;
    } finally {
      this.safeClose(pidfd);
    }
  }

  async delete(id: string, opts: { force?: boolean }): Promise<void> {
    // A create killed before it wrote any state leaves just the claimed dir.
    if (this.store.isBare(id)) return this.store.remove(id);
    let rec: ContainerRecord;
    try {
      rec = this.afterCreate(this.store.load(id));
    } catch (e) {
      // As runc: engines clean up after a failed create with `delete --force`.
      if (opts.force && isRuntsError(e) && e.code === 'ERR_NOT_FOUND') return;
      throw e;
    }
    const status = statusOf(this.store, rec);
    this.debug?.(`delete ${id}: ${status}${opts.force ? ', forced' : ''}`);
    if ((status === 'running' || status === 'paused') && !opts.force) {
      throw new RuntsError('ERR_BAD_STATE', deleteNotStopped(id, status));
    }
    const cg = newManager({ paths: rec.cgroupPaths });
    if (status !== 'stopped') {
      if (opts.force || rec.sharedPidNs) this.signalAll(rec, os().constants.signals.SIGKILL);
      if (rec.pid > 0 && isAlive(rec.pid, rec.startTime)) {
        try {
          this.sys.kill(rec.pid, os().constants.signals.SIGKILL);
        } catch {
          /* gone */
        }
      }
      this.debug?.(`delete ${id}: killed; waiting for init ${rec.pid} to go`);
      await this.waitGone(rec);
    }
    this.debug?.(`delete ${id}: poststop hooks (${rec.creating ? 0 : rec.poststop.length})`);
    if (!rec.creating) await runHooksWarn(rec.poststop, 'poststop', JSON.stringify(ociState(rec, 'stopped')), this.warn);
    cg.destroy(rec.cgroupCreated);
    this.debug?.(`delete ${id}: cgroups removed`);
    this.detachRoot(rec);
    this.store.remove(id);
  }

  /** Detaches the rootfs bind a container without its own mount namespace made in ours, and every mount under it. */
  private detachRoot(rec: ContainerRecord): void {
    if (rec.rootMountBase === undefined) return;
    const top = topMountAt(rec.rootfs);
    if (top !== null && top !== rec.rootMountBase) this.sys.umount2(rec.rootfs, MNT_DETACH);
  }

  /** The record once a create still under way in another process has finished: its undo
   * and our clean-up must not cross (we would remove the state of a container it then
   * finishes making). A create whose process died is left to us. */
  private afterCreate(rec: ContainerRecord): ContainerRecord {
    for (let i = 0; i < CREATE_WAIT_MS / 2 && rec.creating && rec.creator && rec.creator.pid !== process.pid && isAlive(rec.creator.pid, rec.creator.start); i++) {
      sleepMs(2);
      rec = this.store.load(rec.id);
    }
    return rec;
  }

  private async waitGone(rec: ContainerRecord): Promise<void> {
    const fd = this.pidfds.get(rec.id);
    for (let i = 0; i < 10000 && rec.pid > 0 && isAlive(rec.pid, rec.startTime); i++) {
      // Our own child must be reaped, or it stays a zombie until we exit.
      if (fd !== undefined && this.sys.tryWaitPidfd(fd)) break;
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  async spec(opts: { bundle: string; rootless?: boolean }): Promise<void> {
    const file = join(resolve(opts.bundle), 'config.json');
    if (existsSync(file)) throw new RuntsError('ERR_EXISTS', `File ${file} exists. Remove it first`);
    writeFileSync(file, JSON.stringify(defaultSpec({ rootless: opts.rootless ?? false }), null, '\t') + '\n');
  }

  features(): object {
    const { ACTIONS, OPERATORS, SUPPORTED_ARCHES, FILTER_FLAGS } = require('@runts/seccomp') as typeof import('@runts/seccomp');
    const flags = Object.keys(FILTER_FLAGS);
    return ociFeatures({
      mountOptions: MOUNT_OPTIONS,
      seccomp: { actions: [...ACTIONS], operators: [...OPERATORS], archs: SUPPORTED_ARCHES, knownFlags: flags, supportedFlags: flags },
      cgroup: { v1: true, v2: true, systemd: false, systemdUser: false, rdma: true },
      idmapMounts: true,
    });
  }

  /** null for root; else who runs us, for rootless id maps and errors. */
  private caller(): Caller | null {
    const uid = this.sys.geteuid();
    if (uid === 0) return null;
    let name = String(uid);
    try {
      name = os().userInfo().username;
    } catch {
      /* no passwd entry: /etc/subuid may still name the uid */
    }
    return { uid, gid: process.getegid?.() ?? uid, name };
  }

  private safeClose(fd: number): void {
    try {
      this.sys.close(fd);
    } catch {
      /* already closed */
    }
  }
}

const ownsMountNs = (spec: Spec): boolean => (spec.linux?.namespaces ?? []).some((n) => n.type === 'mount');

/** SIGKILL for 9: node:os's table, loaded only for this message. */
function signalName(n: number): string {
  return Object.entries(os().constants.signals).find(([, v]) => v === n)?.[0] ?? `signal ${n}`;
}

function hostId(map: { containerID: number; hostID: number; size: number }[] | undefined, id: number): number {
  const m = (map ?? []).find((e) => id >= e.containerID && id < e.containerID + e.size);
  return m ? m.hostID + (id - m.containerID) : id;
}

function writeProc(file: string, value: string, path: string): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    throw new RuntsError('ERR_SYSCALL', `${path}: write ${file}: ${code}`, { path, file, errno: code });
  }
}

/** The container's own session keyring, which its exec'd processes join by name (runc's name). */
function sessionKeyring(id: string): string {
  return `_ses.${id}`;
}

/** The plan builder and the seccomp compiler under it, loaded only by create and exec (~2 ms at every start of the others). */
function planBuilder(): typeof import('./plan/build') {
  return require('./plan/build') as typeof import('./plan/build');
}

/** Opens the files through which the child moves itself into its cgroups; none if any
 * cannot be opened (the parent then moves it, and reports what fails). */
function openJoinFiles(cgroup: Manager, fds: number[]): number[] {
  const opened: number[] = [];
  // RUNTS_FAULT=join (test build): opened read-only, the child's writes fail and the fallback runs.
  const flags = testEnv('RUNTS_FAULT') === 'join' ? fsc.O_RDONLY : fsc.O_WRONLY;
  try {
    for (const f of cgroup.selfJoinFiles()) opened.push(openSync(f, flags));
  } catch {
    opened.forEach((fd) => closeSync(fd));
    return [];
  }
  fds.push(...opened);
  return opened;
}

/** The pid with no trailing newline, written atomically (engines read it at once). */
function writePidFile(file: string, pid: number): void {
  const tmp = join(dirname(file), `.${process.pid}.pid.tmp`);
  try {
    writeFileSync(tmp, String(pid));
    renameSync(tmp, file);
  } catch (e) {
    throw new RuntsError('ERR_IO', `--pid-file: cannot write ${file}: ${(e as NodeJS.ErrnoException).code}`, { file });
  }
}

export function createRuntime(g: GlobalOptions, warn?: (msg: string) => void, debug?: (msg: string) => void): RuntimeApi {
  return new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup, ...(warn ? { warn } : {}), ...(debug ? { debug } : {}) });
}

/** Test hook (test build only): RUNTS_FAULT=<step> kills this process at that
 * step of create, as a `kill -9` from outside would, so that recovery can be tested. */
function fault(step: string): void {
  if (testEnv('RUNTS_FAULT') === step) process.kill(process.pid, 'SIGKILL');
}

/** The LSMs this host enables, tested the way runc's libraries do. */
function hostLsm(): Lsm {
  let apparmor = false;
  try {
    apparmor = readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
  } catch {
    /* not built in */
  }
  return { apparmor, selinux: existsSync('/sys/fs/selinux/enforce') };
}
