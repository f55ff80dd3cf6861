// The Containers gRPC service: one thin handler per RPC over the daemon
// (which implements Containers below, and imports this file, not the reverse);
// logs and attach are relayed to and from the container's shim.
import { StatusError, grpc, unaryHandler, type shim, type supervisor } from '@runts/proto';
import { toStatus as statusOf } from '@runts/proto/status';
import { toContainer, type ContainerRecord } from './records';
import type { Upstream } from './shims';

/** What the service asks of the daemon. */
export interface Containers {
  create(req: supervisor.CreateRequest__Output, opts?: { start?: boolean }): Promise<ContainerRecord>;
  runAttached(req: supervisor.CreateRequest__Output, first: shim.AttachInput): Promise<{ rec: ContainerRecord; upstream: Upstream; done: () => void }>;
  start(id: string): Promise<ContainerRecord>;
  get(id: string): ContainerRecord;
  list(): ContainerRecord[];
  kill(req: supervisor.KillRequest__Output): Promise<void>;
  stop(req: supervisor.StopRequest__Output): Promise<ContainerRecord>;
  remove(id: string, force: boolean): Promise<ContainerRecord>;
  wait(req: supervisor.WaitRequest__Output): Promise<shim.WaitResponse>;
  exec(req: supervisor.ExecRequest__Output): Promise<number>;
  stats(id: string): Promise<shim.StatsResponse__Output>;
  /** Events from now on, to sink, until the returned function is called. */
  subscribe(sink: { write(m: supervisor.Event): boolean }): () => void;
  /** A new Attach stream to the process's shim; done once the client is gone. */
  attach(id: string): { upstream: Upstream; done: () => void };
}

type Output = grpc.ServerWritableStream<supervisor.LogsRequest__Output, shim.AttachOutput> | grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>;
type RunCall = grpc.ServerDuplexStream<supervisor.RunInput__Output, supervisor.RunOutput>;

const CANCELLED = 1;

/** What a client gets for an error: a shim that does not answer is named as such. */
const toStatus = (e: unknown) => statusOf(e, "the container's shim");

const unary = <Req, Res>(fn: (req: Req) => Promise<Res>) => unaryHandler(fn, toStatus);

/** Copies a shim's output stream to a client (each message through write) until either side ends. */
function relay(upstream: Upstream, done: () => void, call: Output | RunCall, write: (out: shim.AttachOutput__Output) => void, cancel = () => upstream.cancel()): void {
  upstream.on('data', write);
  upstream.on('end', () => {
    done();
    call.end();
  });
  upstream.on('error', (e: grpc.ServiceError) => {
    done();
    if (e.code !== CANCELLED) call.emit('error', toStatus(e));
  });
  call.on('cancelled', () => {
    done();
    cancel();
  });
}

export function containersService(d: Containers): supervisor.ContainersHandlers {
  return {
    Create: unary(async (req) => toContainer(await d.create(req))),
    Start: unary(async (req) => toContainer(await d.start(req.id))),
    // Created and started by the shim in one call: a failed start leaves no container.
    Run: unary(async (req) => toContainer(await d.create(req, { start: true }))),
    Get: unary(async (req) => toContainer(d.get(req.id))),
    List: unary(async () => ({ containers: d.list().map(toContainer) })),
    Kill: unary(async (req) => (await d.kill(req), {})),
    Stop: unary(async (req) => toContainer(await d.stop(req))),
    Delete: unary(async (req) => toContainer(await d.remove(req.id, req.force))),
    Wait: unary(async (req) => d.wait(req)),
    Exec: unary(async (req) => ({ pid: await d.exec(req) })),
    Stats: unary(async (req) => d.stats(req.id)),
    Events: (call) => {
      const drop = d.subscribe(call);
      call.on('cancelled', drop);
      call.on('close', drop);
      call.on('error', drop);
    },
    Logs: (call) => {
      try {
        const { upstream, done } = d.attach(call.request.id);
        upstream.write({ id: call.request.id, logs: true, follow: call.request.follow });
        relay(upstream, done, call, (out) => call.write(out));
      } catch (e) {
        call.emit('error', toStatus(e));
      }
    },
    // The first message names the process; the rest (input, resizes) go to the shim as they come.
    Attach: (call) => {
      let upstream: Upstream | undefined;
      call.on('data', (msg: shim.AttachInput__Output) => {
        if (upstream) {
          upstream.write(msg);
          return;
        }
        try {
          const a = d.attach(msg.id);
          upstream = a.upstream;
          upstream.write(msg);
          relay(upstream, a.done, call, (out) => call.write(out));
        } catch (e) {
          call.emit('error', toStatus(e));
        }
      });
      call.on('end', () => upstream?.end());
    },
    RunAttached: (call) => runAttached(d, call),
  };
}

/**
 * Create, start and attach for one client, in one call to the shim: the
 * output is relayed from the start of the log, so none is missed, and
 * auto-removal waits for the stream. Input that comes while the container
 * is made is held until it can go.
 */
function runAttached(d: Containers, call: RunCall): void {
  let upstream: Upstream | undefined;
  let first = true;
  let ended = false;
  let gone = false;
  const held: shim.AttachInput[] = [];
  call.on('data', (msg: supervisor.RunInput__Output) => {
    if (!first) {
      if (!msg.input) return;
      if (upstream) upstream.write(msg.input);
      else held.push(msg.input);
      return;
    }
    first = false;
    const run = async () => {
      if (!msg.create) throw new StatusError(grpc.status.INVALID_ARGUMENT, 'the first message creates the container: create is missing');
      const { create: _, ...input } = msg.input ?? {};
      // An empty id gets one made up by the daemon.
      const a = await d.runAttached(msg.create, input);
      const up = (upstream = a.upstream);
      for (const m of held.splice(0)) up.write(m);
      if (ended) up.end();
      let made = false;
      const created = () => {
        made = true;
        if (!gone) return call.write({ container: toContainer(a.rec) });
        // The client left while the container was made: a --rm one is removed; another stays as made.
        up.cancel();
        if (a.rec.autoRemove) d.remove(a.rec.id, true).catch(() => undefined);
      };
      relay(up, a.done, call, (out) => (out.created ? created() : call.write({ output: out })), () => made && up.cancel());
    };
    run().catch((e: unknown) => call.emit('error', toStatus(e)));
  });
  call.on('end', () => {
    ended = true;
    upstream?.end();
  });
  call.on('cancelled', () => (gone = true));
}
