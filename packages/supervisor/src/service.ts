// The Containers gRPC service: one thin handler per RPC over the Daemon;
// logs and attach are relayed to and from the container's shim.
import type { grpc, shim, supervisor } from '@runts/proto';
import type { Daemon } from './daemon';
import { toStatus } from './errors';
import { toContainer } from './records';

type Output = grpc.ServerWritableStream<supervisor.LogsRequest__Output, shim.AttachOutput> | grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>;
type Upstream = grpc.ClientDuplexStream<shim.AttachInput, shim.AttachOutput__Output>;

const CANCELLED = 1;

function unaryHandler<Req, Res>(fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    fn(call.request).then(
      (res) => cb(null, res),
      (e) => cb(toStatus(e)),
    );
  };
}

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
    Create: unaryHandler(async (req) => toContainer(await d.create(req))),
    Start: unaryHandler(async (req) => toContainer(await d.start(req.id))),
    Run: unaryHandler(async (req) => {
      const rec = await d.create(req);
      try {
        return toContainer(await d.start(rec.id));
      } catch (e) {
        await d.remove(rec.id, true).catch(() => {});
        throw e;
      }
    }),
    Get: unaryHandler(async (req) => toContainer(d.get(req.id))),
    List: unaryHandler(async () => ({ containers: d.list().map(toContainer) })),
    Kill: unaryHandler(async (req) => (await d.kill(req), {})),
    Stop: unaryHandler(async (req) => toContainer(await d.stop(req))),
    Delete: unaryHandler(async (req) => toContainer(await d.remove(req.id, req.force))),
    Wait: unaryHandler(async (req) => d.wait(req)),
    Exec: unaryHandler(async (req) => ({ pid: await d.exec(req) })),
    Stats: unaryHandler(async (req) => d.stats(req.id)),
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
