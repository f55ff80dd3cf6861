// The pipe-handle socket against a node:net server: it must behave as
// node:net's socket does for h2.ts (connect, data both ways, half-close,
// errors by errno name, one close).
import t from 'tap';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipeSocket, connectUnix, type ByteStream } from '../src/pipe';

async function serve(t: { teardown(fn: () => void): void }, onConn: (s: Socket) => void): Promise<{ path: string; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), 'runts-pipe-'));
  const server = createServer(onConn);
  await new Promise<void>((r) => server.listen(join(dir, 's.sock'), r));
  t.teardown(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { path: join(dir, 's.sock'), server };
}

/** Events of a socket in order, with all its data, once it closes. */
function record(s: ByteStream): Promise<{ events: string[]; data: Buffer; errors: NodeJS.ErrnoException[] }> {
  const events: string[] = [];
  const data: Buffer[] = [];
  const errors: NodeJS.ErrnoException[] = [];
  s.on('connect', () => events.push('connect'));
  s.on('data', (d: Buffer) => data.push(d));
  s.on('error', (e: NodeJS.ErrnoException) => (events.push('error'), errors.push(e)));
  return new Promise((r) => s.on('close', () => (events.push('close'), r({ events, data: Buffer.concat(data), errors }))));
}

t.test('the one-shot client gets the pipe handle on this Node', async (t) => {
  const { path } = await serve(t, (s) => s.end());
  const s = connectUnix(path);
  t.ok(s instanceof PipeSocket);
  await record(s);
});

t.test('writes before the connection, an echo both ways, then a half-close', async (t) => {
  const { path } = await serve(t, (c) => c.pipe(c));
  const s = connectUnix(path);
  const done = record(s);
  // 8 MiB: more than one read, and writes that finish later than they are made.
  const big = Buffer.alloc(8 << 20, 'x');
  s.write(Buffer.from('hello '));
  s.write(big);
  s.on('connect', () => {
    s.write(Buffer.from(' bye'));
    s.end();
  });
  const { events, data, errors } = await done;
  t.same(events, ['connect', 'close']);
  t.same(errors, []);
  t.equal(data.length, 6 + big.length + 4);
  t.equal(data.subarray(0, 6).toString(), 'hello ');
  t.equal(data.subarray(-4).toString(), ' bye');
});

t.test('the peer closing ends the socket; later writes are dropped', async (t) => {
  const { path } = await serve(t, (c) => c.end('last words'));
  const s = connectUnix(path);
  const { events, data } = await record(s);
  t.same(events, ['connect', 'close']);
  t.equal(data.toString(), 'last words');
  s.write(Buffer.from('too late'));
  s.end();
  s.destroy();
});

t.test('no socket, or not a socket: the errno name as code, then close', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-pipe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = await record(connectUnix(join(dir, 'none.sock')));
  t.same(missing.events, ['error', 'close']);
  t.equal(missing.errors[0]?.code, 'ENOENT');
  t.equal(missing.errors[0]?.syscall, 'connect');
  writeFileSync(join(dir, 'file'), '');
  const file = await record(connectUnix(join(dir, 'file')));
  t.same(file.events, ['error', 'close']);
  t.equal(file.errors[0]?.code, 'ECONNREFUSED');
});

t.test('destroyed while connecting: one close, no error', async (t) => {
  const { path } = await serve(t, () => undefined);
  const s = connectUnix(path);
  const done = record(s);
  s.write(Buffer.from('never sent'));
  s.destroy();
  s.destroy();
  t.same((await done).events, ['close']);
});

t.test('no deprecation warning, even under --pending-deprecation', async (t) => {
  const { path } = await serve(t, (c) => c.end());
  const script = `require(${JSON.stringify(join(__dirname, '..', 'dist', 'pipe.js'))}).connectUnix(${JSON.stringify(path)}).on('close', () => console.log('closed'))`;
  // Not spawnSync: the server answering it runs in this process. env -i: a
  // Node free of tap's hooks, which call process.binding themselves (and
  // Node warns once per process).
  const r = await promisify(execFile)('/usr/bin/env', ['-i', process.execPath, '--pending-deprecation', '-e', script], { encoding: 'utf8', timeout: 10000 });
  t.equal(r.stdout, 'closed\n');
  t.notMatch(r.stderr, /DEP0111|DeprecationWarning/);
});
