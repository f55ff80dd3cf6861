// The Containers gRPC service: one thin handler per RPC over the Daemon;
// logs and attach are relayed to and from the container's shim.
import { StatusError, grpc, unaryHandler, type shim, type supervisor } from '@runts/proto';
import { newId, type Daemon } from './daemon';
import { toStatus } from './errors';
import { toContainer } from './records';

type Output = grpc.ServerWritableStream<supervisor.LogsRequest__Output, shim.AttachOutput> | grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>;
type RunCall = grpc.ServerDuplexStream<supervisor.RunInput__Output, supervisor.RunOutput>;
type Upstream = grpc.ClientDuplexStream<shim.AttachInput, shim.AttachOutput__Output>;

const CANCELLED = 1;

const unary = <Req, Res>(fn: (req: Req) => Promise<Res>) => unaryHandler(fn, toStatus);

/** Copies a shim's output stream to a client (each message through write) until either side ends. */
function relay(upstream: Upstream, done: () => void, call: Output | RunCall, write: (out: shim.AttachOutput__Output) => void): void {
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
    upstream.cancel();
  });
}

export function containersService(d: Daemon): supervisor.ContainersHandlers {
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
 * Create, start and attach for one client: the output is relayed from the
 * start of the log, so none is missed, and auto-remove waits for the stream.
 * Input that comes while the container is made is held until it can go.
 */
function runAttached(d: Daemon, call: RunCall): void {
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
      const req = { ...msg.create, id: msg.create.id || newId() };
      // Without a terminal the shim starts the container with its create, in
      // one round trip; the attach below replays the log from its start, so no
      // output is missed, and auto-removal waits for it even if the process
      // has already exited. A terminal's window size comes with the attach,
      // and its process must see it from the start: that one starts after.
      const startNow = !req.terminal;
      const release = d.holdRemoval(req.id);
      try {
        const rec = await d.create(req, { start: startNow });
        const discard = () => (rec.autoRemove ? d.remove(rec.id, true).then(() => {}, () => {}) : Promise.resolve());
        // The client left while the container was made: a --rm one is removed;
        // another stays as made (started, without a terminal).
        if (gone) return await discard();
        const a = d.attach(rec.id);
        upstream = a.upstream;
        upstream.write({ ...msg.input, id: rec.id, execId: '', logs: true, follow: true });
        for (const m of held.splice(0)) upstream.write(m);
        if (ended) upstream.end();
        call.write({ container: toContainer(rec) });
        relay(upstream, a.done, call, (out) => call.write({ output: out }));
        if (startNow) return;
        try {
          await d.start(rec.id);
        } catch (e) {
          upstream.cancel();
          await discard();
          throw e;
        }
      } finally {
        release();
      }
    };
    run().catch((e: unknown) => call.emit('error', toStatus(e)));
  });
  call.on('end', () => {
    ended = true;
    upstream?.end();
  });
  call.on('cancelled', () => (gone = true));
}
