// The Containers gRPC service: one thin handler per RPC over the Daemon;
// logs and attach are relayed to and from the container's shim.
import { unaryHandler, type grpc, type shim, type supervisor } from '@runts/proto';
import type { Daemon } from './daemon';
import { toStatus } from './errors';
import { toContainer } from './records';

type Output = grpc.ServerWritableStream<supervisor.LogsRequest__Output, shim.AttachOutput> | grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>;
type Upstream = grpc.ClientDuplexStream<shim.AttachInput, shim.AttachOutput__Output>;

const CANCELLED = 1;

const unary = <Req, Res>(fn: (req: Req) => Promise<Res>) => unaryHandler(fn, toStatus);

/** Copies a shim's output stream to a client until either side ends. */
function relay(upstream: Upstream, done: () => void, call: Output): void {
  upstream.on('data', (out: shim.AttachOutput__Output) => call.write(out));
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
    Run: unary(async (req) => {
      const rec = await d.create(req);
      try {
        return toContainer(await d.start(rec.id));
      } catch (e) {
        await d.remove(rec.id, true).catch(() => {});
        throw e;
      }
    }),
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
        relay(upstream, done, call);
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
          relay(upstream, a.done, call);
        } catch (e) {
          call.emit('error', toStatus(e));
        }
      });
      call.on('end', () => upstream?.end());
    },
  };
}
