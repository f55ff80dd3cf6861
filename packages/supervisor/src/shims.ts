// Shims: started detached so they outlive runtsd, reached over their Task
// socket, and followed through their event stream (Subscribe, then Ack once
// the record is on disk). A shim that stops answering is reported as lost.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { join } from 'node:path';
import { grpc, shimApi, unaryCall, type shim } from '@runts/proto';
import { parseOutbox } from '@runts/proto/outbox';

/** A shim Attach stream, from runtsd's side. */
export type Upstream = grpc.ClientDuplexStream<shim.AttachInput, shim.AttachOutput__Output>;

// sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
const SUN_PATH_MAX = 107;
const ACK_DELAY_MS = 100;
const ACK_DEADLINE_MS = 2000;

let api: ReturnType<typeof shimApi> | undefined;

export interface ShimPaths {
  dir: string;
  socket: string;
}

/** A fresh dir for a shim named after its container or group, short enough for its socket path. */
export function shimPaths(stateDir: string, label: string): ShimPaths {
  const base = join(stateDir, 'shims');
  const suffix = randomBytes(3).toString('hex');
  const room = SUN_PATH_MAX - (base.length + 1 + '/task.sock'.length) - suffix.length - 1;
  if (room < 1) throw new Error(`state dir ${stateDir} is too long for a unix socket path`);
  const dir = join(base, `${label.slice(0, room)}.${suffix}`);
  return { dir, socket: join(dir, 'task.sock') };
}

export function shimClient(socket: string): shim.TaskClient {
  api ??= shimApi();
  return new api.Task(`unix://${socket}`, grpc.credentials.createInsecure()) as unknown as shim.TaskClient;
}

export function deadline(ms: number): grpc.CallOptions {
  return { deadline: Date.now() + ms };
}

/** Connect answers only when the shim is alive and serving. */
export async function probe(client: shim.TaskClient, ms = 1000): Promise<shim.ConnectResponse__Output | undefined> {
  try {
    return await unaryCall<shim.ConnectResponse__Output>((cb) => client.Connect({}, deadline(ms), cb));
  } catch {
    return undefined;
  }
}

/** Sets the nice value of every thread of pid (Linux keeps one per thread; new threads inherit their creator's). */
export function renice(pid: number, nice: number): void {
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return;
  }
  for (const tid of tids) {
    try {
      setPriority(Number(tid), nice);
    } catch {
      // The thread is gone.
    }
  }
}

// How long a new shim has to answer. RUNTSD_SHIM_TIMEOUT_MS raises it on an emulated CPU
// (the cgroup v2 VM under TCG, where a shim boots far slower than the default allows).
const SHIM_TIMEOUT_MS = Number(process.env['RUNTSD_SHIM_TIMEOUT_MS']) || 10000;

/** Starts runts-shim in its own session with its output in <dir>/shim.log; resolves once it answers.
 * With nice, its boot runs at that priority. */
export async function spawnShim(shimBin: string, paths: ShimPaths, { nice = 0, timeoutMs = SHIM_TIMEOUT_MS } = {}): Promise<{ pid: number; client: shim.TaskClient }> {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const logFile = join(paths.dir, 'shim.log');
  const log = openSync(logFile, 'a', 0o600);
  let exited: string | undefined;
  let child;
  try {
    child = spawn(shimBin, ['--address', paths.socket, '--dir', paths.dir], { detached: true, stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
  if (nice && child.pid) renice(child.pid, nice);
  child.on('error', (e) => (exited = e.message));
  child.on('exit', (code, sig) => (exited = sig ? `killed by ${sig}` : `exit status ${code}`));
  child.unref();
  // A client that finds no listener backs off for a second: wait for the socket, and use a fresh client per try.
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (exited !== undefined) throw new Error(`runts-shim failed (${exited}): ${lastLine(logFile)}`);
    if (existsSync(paths.socket)) {
      const client = shimClient(paths.socket);
      if (await probe(client, 500)) return { pid: child.pid ?? 0, client };
      client.close();
    }
    if (Date.now() > until) {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
      throw new Error(`runts-shim did not answer on ${paths.socket} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

function lastLine(file: string): string {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines[lines.length - 1] || 'no output';
  } catch {
    return 'no output';
  }
}

/** Events a dead shim never delivered, read from its durable outbox. */
export function readOutbox(dir: string): shim.Envelope__Output[] {
  try {
    return parseOutbox<shim.Envelope__Output>(readFileSync(join(dir, 'outbox.jsonl'), 'utf8')).events;
  } catch {
    return [];
  }
}

export interface ShimEvents {
  /** Called for each event in seq order; true once its effect is durable (only then is it acked). */
  event(s: ShimConn, env: shim.Envelope__Output): boolean;
  /** The shim no longer answers. */
  lost(s: ShimConn): void;
}

/** One live shim: its client and its event subscription. */
export class ShimConn {
  /** Highest seq acknowledged to the shim. */
  acked: number;
  private stream: grpc.ClientReadableStream<shim.Envelope__Output> | undefined;
  private closing = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private ackInFlight: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly socket: string,
    public pid: number,
    readonly client: shim.TaskClient,
    after: number,
    private readonly sink: ShimEvents,
  ) {
    this.acked = after;
  }

  subscribe(): void {
    if (this.closing) return;
    const stream = this.client.Subscribe({ after: this.acked });
    this.stream = stream;
    stream.on('data', (env: shim.Envelope__Output) => {
      if (env.seq <= this.acked || this.stream !== stream) return;
      if (!this.sink.event(this, env)) {
        // Not on disk: stop here; the resubscription replays it from the outbox.
        this.stream = undefined;
        stream.cancel();
        return;
      }
      this.acked = env.seq;
      this.ackSoon();
    });
    let done = false;
    const ended = () => {
      if (done) return;
      done = true;
      if (this.stream === stream) this.stream = undefined;
      if (!this.closing) void this.recheck();
    };
    stream.on('error', ended);
    stream.on('end', ended);
  }

  /** After the stream broke: resubscribe if the shim still answers, else report it lost. */
  private async recheck(): Promise<void> {
    if (await probe(this.client)) {
      setTimeout(() => this.subscribe(), 1000);
      return;
    }
    if (!this.closing) {
      this.close();
      this.sink.lost(this);
    }
  }

  /** One Ack for the events of the next ACK_DELAY_MS: each is a call the shim
   * serves, and one in the middle of a create held back the create's reply.
   * Events not yet acked are only replayed, and applying them again is a no-op. */
  private ackSoon(): void {
    this.ackTimer ??= setTimeout(() => {
      this.ackTimer = undefined;
      void this.sendAck();
    }, ACK_DELAY_MS);
  }

  /** Resolves once the shim has served it or could not be reached. */
  private sendAck(): Promise<void> {
    const sent = new Promise<void>((res) => this.client.Ack({ seq: this.acked }, deadline(ACK_DEADLINE_MS), () => res()));
    this.ackInFlight = sent;
    void sent.then(() => {
      if (this.ackInFlight === sent) this.ackInFlight = undefined;
    });
    return sent;
  }

  /** The pending Ack sent now, or the one on its way awaited. Before a record is
   * forgotten: a container made again under its id must not be handed its
   * predecessor's events by a replay. */
  flushAck(): Promise<void> {
    if (!this.ackTimer) return this.ackInFlight ?? Promise.resolve();
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    return this.sendAck();
  }

  /** Its event stream is up: the shim answers. */
  get live(): boolean {
    return !this.closing && this.stream !== undefined;
  }

  /** Stops following the shim's events; the client stays open for whoever takes the shim next. */
  detach(): void {
    this.closing = true;
    clearTimeout(this.ackTimer);
    this.stream?.cancel();
  }

  close(): void {
    this.detach();
    this.client.close();
  }
}
