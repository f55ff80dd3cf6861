// An in-process stand-in for runts-shim: the Task service's event side
// (Subscribe replay + live, Ack, an outbox file) and the calls runtsd makes.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { grpc, shimApi, type shim } from '@runts/proto';

type Env = shim.Envelope__Output;
type Body = Omit<Env, 'seq' | 'timestampMs' | 'topic'>;

export class FakeShim {
  readonly socket: string;
  readonly events: Env[] = [];
  readonly calls: string[] = [];
  acked = 0;
  ackCalls = 0;
  /** An Ack is served (acked moves, the reply goes) this much after it arrives. */
  ackDelayMs = 0;
  /** Kill with SIGTERM is ignored, as by a shell as pid 1. */
  ignoreTerm = false;
  private readonly subs = new Set<grpc.ServerWritableStream<shim.SubscribeRequest__Output, shim.Envelope>>();
  private server: grpc.Server | undefined;

  constructor(
    readonly dir: string,
    readonly ids: string[],
  ) {
    mkdirSync(dir, { recursive: true });
    this.socket = join(dir, 'task.sock');
  }

  /** Adds an event to the outbox (file too) and sends it to live subscribers. */
  emit(topic: string, body: Body): Env {
    const env = { seq: this.events.length + 1, timestampMs: Date.now(), topic, ...body } as Env;
    this.events.push(env);
    appendFileSync(join(this.dir, 'outbox.jsonl'), JSON.stringify(env) + '\n');
    for (const s of this.subs) s.write(env);
    return env;
  }

  exit(id: string, code: number): Env {
    return this.emit('/tasks/exit', { event: 'exit', exit: { containerId: id, id, pid: 100, exitStatus: code, exitedAtMs: Date.now() } });
  }

  async listen(): Promise<void> {
    const server = new grpc.Server();
    const ok = <T>(name: string, res: T) => (call: { request: unknown }, cb: grpc.sendUnaryData<T>) => {
      this.calls.push(`${name} ${JSON.stringify(call.request)}`);
      cb(null, res);
    };
    const handlers = {
      Connect: ok('Connect', { shimPid: 4242, ids: this.ids }),
      Delete: ok('Delete', {}),
      Shutdown: ok('Shutdown', {}),
      Stats: ok('Stats', { statsJson: '{"cpu":{"usage":1}}' }),
      Kill: (call: grpc.ServerUnaryCall<shim.KillRequest__Output, shim.Empty>, cb: grpc.sendUnaryData<shim.Empty>) => {
        const { id, signal } = call.request;
        this.calls.push(`Kill ${id} ${signal}`);
        cb(null, {});
        if (!(this.ignoreTerm && signal === 15)) setTimeout(() => this.exit(id, 128 + signal), 10);
      },
      Ack: (call: grpc.ServerUnaryCall<shim.AckRequest__Output, shim.Empty>, cb: grpc.sendUnaryData<shim.Empty>) => {
        this.ackCalls++;
        setTimeout(() => {
          this.acked = Math.max(this.acked, call.request.seq);
          cb(null, {});
        }, this.ackDelayMs);
      },
      Subscribe: (call: grpc.ServerWritableStream<shim.SubscribeRequest__Output, shim.Envelope>) => {
        for (const e of this.events) if (e.seq > call.request.after) call.write(e);
        this.subs.add(call);
        call.on('cancelled', () => this.subs.delete(call));
      },
    };
    server.addService(shimApi().Task.service, handlers as unknown as grpc.UntypedServiceImplementation);
    await new Promise<void>((res, rej) => server.bindAsync(`unix://${this.socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    this.server = server;
  }

  /** As a kill -9 would: streams cut, socket gone. */
  kill(): void {
    for (const s of this.subs) s.destroy();
    this.subs.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }
}
