import { readFileSync } from 'node:fs';
import { unaryHandler, type grpc, type shim } from '@runts/proto';
import { toStatus } from '@runts/proto/status';
import type { Outbox } from './outbox';
import type { Tasks } from './service';

const unary = <Req, Res>(fn: (req: Req) => Res | Promise<Res>) => unaryHandler(fn, toStatus);

const CHUNK = 64 * 1024;

/** The Task service's handlers, one line each over Tasks where it can be. */
export function taskHandlers(tasks: Tasks, outbox: Outbox, shutdown: (now: boolean) => Promise<void>, version: string): shim.TaskHandlers {
  // A create, with start when asked; a throw becomes a rejection.
  const make = async (r: shim.CreateTaskRequest__Output, size?: { width: number; height: number }) => (r.start ? tasks.run(r, size) : tasks.create(r));
  return {
    Create: unary(async (r: shim.CreateTaskRequest__Output) => ({ pid: await make(r) })),
    Start: unary(async (r: shim.StartRequest__Output) => ({ pid: await tasks.start(r) })),
    State: unary((r: shim.StateRequest__Output) => tasks.state(r)),
    Pids: unary((r: shim.PidsRequest__Output) => ({ processes: tasks.pids(r) })),
    Kill: unary((r: shim.KillRequest__Output) => (tasks.kill(r), {})),
    Exec: unary((r: shim.ExecProcessRequest__Output) => (tasks.exec(r), {})),
    ResizePty: unary((r: shim.ResizePtyRequest__Output) => (tasks.resize(r), {})),
    CloseIO: unary((r: shim.CloseIORequest__Output) => (tasks.closeIO(r), {})),
    Pause: unary((r: shim.PauseRequest__Output) => (tasks.pause(r.id), {})),
    Resume: unary((r: shim.ResumeRequest__Output) => (tasks.resume(r.id), {})),
    Update: unary((r: shim.UpdateTaskRequest__Output) => (tasks.update(r), {})),
    Wait: unary((r: shim.WaitRequest__Output) => tasks.wait(r)),
    Stats: unary(async (r: shim.StatsRequest__Output) => ({ statsJson: await tasks.stats(r.id) })),
    Delete: unary((r: shim.DeleteRequest__Output) => tasks.delete(r)),
    Connect: unary(() => ({ shimPid: process.pid, taskPid: 0, version, ids: tasks.ids() })),
    Shutdown: unary(async (r: shim.ShutdownRequest__Output) => (await shutdown(r.now), {})),
    Ack: unary((r: shim.AckRequest__Output) => (outbox.ack(r.seq), {})),

    Subscribe(call: grpc.ServerWritableStream<shim.SubscribeRequest__Output, shim.Envelope>) {
      for (const e of outbox.since(call.request.after)) call.write(e);
      const stop = outbox.listen((e) => call.write(e));
      call.on('cancelled', stop);
      call.on('close', stop);
    },

    Attach(call: grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>) {
      let detach: (() => void) | undefined;
      let cancelled = false;
      const attach = (m: shim.AttachInput__Output) => {
        try {
          if (!cancelled) detach = open(tasks, call, m);
        } catch (e) {
          call.emit('error', toStatus(e));
        }
      };
      call.once('data', (m: shim.AttachInput__Output) => {
        const r = m.create;
        if (!r) return attach(m);
        // Created (and started) first: the log replay below holds whatever it wrote meanwhile.
        make(r, m).then(
          (pid) => {
            call.write({ created: { pid } });
            attach({ ...m, id: r.id, execId: '' });
          },
          (e: unknown) => call.emit('error', toStatus(e)),
        );
      });
      // A client that half-closes still reads output; only a cancel detaches.
      call.on('cancelled', () => {
        cancelled = true;
        detach?.();
      });
    },
  };
}

/** The first Attach message: replay the log (logs), stream live output (follow
 * or attach), forward later messages' input and resizes. Returns the detach. */
function open(tasks: Tasks, call: grpc.ServerDuplexStream<shim.AttachInput__Output, shim.AttachOutput>, first: shim.AttachInput__Output): () => void {
  const { io, detach, done } = tasks.attach(first.id, first.execId, (o) => call.write(o));
  if (first.logs) {
    // Synchronous with attaching: nothing is written to the log in between.
    const log = readFileSync(io.logPath);
    for (let off = 0; off < log.length; off += CHUNK) call.write({ stdout: log.subarray(off, off + CHUNK) });
  }
  let ended = false;
  const end = (status?: number) => {
    if (ended) return;
    ended = true;
    detach();
    if (status !== undefined) call.write({ exited: true, exitStatus: status });
    call.end();
  };
  if (first.logs && !first.follow) {
    end();
    return detach;
  }
  if (first.width && first.height) io.resize(first.width, first.height);
  if (first.stdin.length) io.write(first.stdin);
  call.on('data', (m: shim.AttachInput__Output) => {
    try {
      if (m.stdin.length) io.write(m.stdin);
      if (m.width && m.height) io.resize(m.width, m.height);
      if (m.closeStdin) io.closeStdin();
    } catch {
      // Input for a process that has just gone: its end comes as the last message.
    }
  });
  void done.then((status) => end(status));
  return () => end();
}
