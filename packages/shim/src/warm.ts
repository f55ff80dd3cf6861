// The warm shim: one idle containerd-shim-runts-v1 per containerd, with the
// runtime already loaded. containerd runs `start` and `delete` as short
// processes on each task's critical path; the front (bindings/shim-front.c)
// hands those calls to this process instead of starting Node. At `start` the
// warm shim becomes the task's resident shim itself and spawns a successor;
// it keeps answering the front until the successor takes the socket's name
// (a rename over it), so no call meets a shim still starting. Wire: see shim-front.c.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { existsSync, lstatSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { privateDir } from '@runts/sys/privdir';

/** The shims' own files: each resident's outbox by socket name, and the warm shims' sockets. Root's only. */
export const SHIM_ROOT = '/run/containerd/runts-shim';

/** The warm shim's socket for one containerd address (FNV-1a 64, as the front computes it). */
export function warmSocket(address: string): string {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(address)) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return join(SHIM_ROOT, `warm-${h.toString(16).padStart(16, '0')}.sock`);
}

/** One call the front handed over: what the process would have been given. */
export interface Call {
  args: string[];
  env: Record<string, string>;
  cwd: string;
  stdin: Buffer;
}

export interface Answer {
  code: number;
  stdout: Buffer | string;
  stderr: string;
}

export function decodeCall(b: Buffer): Call {
  let at = 0;
  const u32 = () => {
    if (at + 4 > b.length) throw new Error('truncated call');
    const v = b.readUInt32LE(at);
    at += 4;
    return v;
  };
  const bytes = () => {
    const n = u32();
    if (at + n > b.length) throw new Error('truncated call');
    const v = b.subarray(at, at + n);
    at += n;
    return v;
  };
  const args = Array.from({ length: u32() }, () => bytes().toString());
  const env: Record<string, string> = {};
  for (let n = u32(); n > 0; n--) {
    const kv = bytes().toString();
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const cwd = bytes().toString();
  const stdin = Buffer.from(bytes());
  if (at !== b.length) throw new Error('trailing bytes after the call');
  return { args, env, cwd, stdin };
}

export function encodeAnswer(a: Answer): Buffer {
  const out = Buffer.from(a.stdout);
  const err = Buffer.from(a.stderr);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(a.code >>> 0, 0);
  head.writeUInt32LE(out.length, 4);
  const errLen = Buffer.alloc(4);
  errLen.writeUInt32LE(err.length, 0);
  return Buffer.concat([head, out, errLen, err]);
}

/** Every this many watch ticks (of 200 ms), containerd's socket is tried. */
const PROBE_EVERY = 25;

/** The largest call the front sends: 4 MiB of stdin plus argv and environment. */
const MAX_CALL = 5 << 20;

/** Serves the front's calls on the warm socket of `address`, one at a time,
 * taking the name from any warm shim before it. `handle` answers a call.
 * Once another shim takes the name, or containerd's socket is gone, it
 * stops serving and calls `lost`. Returns `stop`: no more calls are taken,
 * and it resolves once those taken are answered. */
export async function serveWarm(address: string, handle: (c: Call) => Promise<Answer>, lost: () => void): Promise<() => Promise<void>> {
  privateDir(SHIM_ROOT, 'the shims\' dir', { create: true });
  const path = warmSocket(address);
  const server = createServer({ allowHalfOpen: true });
  await listen(server, path);
  const ino = statSync(path).ino;
  let queue = Promise.resolve();
  const open = new Set<Socket>();
  let drained: (() => void) | undefined;
  let stopping: Promise<void> | undefined;
  // Calls taken are answered before the process may go: a front whose call
  // was never taken falls back to the Node shim (shim-front.c).
  const stop = () => {
    if (stopping) return stopping;
    clearInterval(watch);
    server.close();
    // Only our own socket: a successor may have bound the name already.
    if (sameSocket(path, ino)) rmSync(path, { force: true });
    stopping = open.size ? new Promise<void>((res) => (drained = res)) : Promise.resolve();
    return stopping;
  };
  server.on('connection', (s: Socket) => {
    open.add(s);
    s.on('close', () => {
      open.delete(s);
      if (!open.size) drained?.();
    });
    const chunks: Buffer[] = [];
    let size = 0;
    s.on('error', () => s.destroy());
    s.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CALL) s.destroy();
      else chunks.push(c);
    });
    s.on('end', () => {
      queue = queue.then(async () => {
        let answer: Answer;
        try {
          answer = await handle(decodeCall(Buffer.concat(chunks)));
        } catch (e) {
          answer = { code: 1, stdout: '', stderr: `containerd-shim-runts-v1: ${(e as Error).message}\n` };
        }
        s.end(encodeAnswer(answer));
      });
    });
  });
  // containerd's socket gone or refusing (a killed containerd leaves it), or the name taken.
  let ticks = 0;
  const watch = setInterval(() => {
    const gone = () => void stop().then(lost);
    if (!existsSync(address) || !sameSocket(path, ino)) return gone();
    if (++ticks % PROBE_EVERY === 0) {
      const c = connect(address);
      c.once('connect', () => c.destroy());
      c.once('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? gone() : undefined));
    }
  }, 200);
  watch.unref();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      void stop();
      process.exit(0);
    });
  }
  return stop;
}

function sameSocket(path: string, ino: number): boolean {
  try {
    return lstatSync(path).ino === ino;
  } catch {
    return false;
  }
}

/** Binds a private name under umask 0177 (root's only), then renames it over path. */
async function listen(server: Server, path: string): Promise<void> {
  const mine = `${path}.${process.pid}`;
  rmSync(mine, { force: true });
  await new Promise<void>((res, rej) => {
    const old = process.umask(0o177);
    server.once('error', rej);
    server.listen(mine, () => {
      server.off('error', rej);
      res();
    });
    process.umask(old);
  });
  renameSync(mine, path);
}
