// The front (bindings/shim-front.c) and the warm shim's wire: a listener
// planted at warmSocket(address) gets the front's call, and the front prints
// its answer, so the C and TS sides agree on the name and the framing. A
// socket that is not root's, or in a dir others can write, gets no call.
import t, { type Test } from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeCall, encodeAnswer, SHIM_ROOT, warmSocket, type Call } from '../src/warm';

// As built into bin/: the Node shim it falls back to is beside it.
const FRONT = resolve(__dirname, '..', '..', '..', 'bin', 'containerd-shim-runts-v1');
const root = process.geteuid?.() === 0;

// The host's dirs this test makes for its planted sockets: removed after, if it made them and they are empty.
const made = ['/run/containerd', SHIM_ROOT].filter((d) => !existsSync(d));
t.teardown(() => {
  for (const d of made.reverse()) {
    try {
      rmdirSync(d);
    } catch {
      // Not empty: something else uses it now.
    }
  }
});

t.test('decodeCall reads what encode wrote; truncation is refused', async (t) => {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const str = (s: string) => Buffer.concat([u32(Buffer.byteLength(s)), Buffer.from(s)]);
  const call = Buffer.concat([u32(2), str('-id'), str('x'), u32(1), str('A=b=c'), str('/bundle'), str('opts')]);
  t.same(decodeCall(call), { args: ['-id', 'x'], env: { A: 'b=c' }, cwd: '/bundle', stdin: Buffer.from('opts') });
  t.throws(() => decodeCall(call.subarray(0, call.length - 1)), /truncated call/);
  t.throws(() => decodeCall(Buffer.concat([call, Buffer.from('x')])), /trailing bytes/);
  const a = encodeAnswer({ code: 3, stdout: 'out', stderr: 'err' });
  t.same([a.readUInt32LE(0), a.readUInt32LE(4), a.subarray(8, 11).toString(), a.readUInt32LE(11), a.subarray(15).toString()], [3, 3, 'out', 3, 'err']);
});

t.test('warmSocket: FNV-1a 64 of the address, under the shims\' dir', async (t) => {
  // FNV-1a 64 of the empty string is its offset basis; of "a", a published vector.
  t.equal(warmSocket(''), join(SHIM_ROOT, 'warm-cbf29ce484222325.sock'));
  t.equal(warmSocket('a'), join(SHIM_ROOT, 'warm-af63dc4c8601ec8c.sock'));
});

/** A listener at the warm socket of a made-up address: the calls it got, answered with `answer`. */
async function plant(t: Test, answer: Buffer): Promise<{ address: string; path: string; calls: Call[]; server: Server }> {
  mkdirSync(SHIM_ROOT, { recursive: true, mode: 0o700 });
  const dir = mkdtempSync(join(tmpdir(), 'runts-warm-'));
  const address = join(dir, 'containerd.sock');
  const path = warmSocket(address);
  const calls: Call[] = [];
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      // A connection that says nothing is a liveness probe, not a call.
      if (!chunks.length) return void s.end();
      calls.push(decodeCall(Buffer.concat(chunks)));
      s.end(answer);
    });
  });
  await new Promise<void>((res) => server.listen(path, res));
  t.teardown(() => {
    server.close();
    rmSync(path, { force: true });
    rmSync(dir, { recursive: true, force: true });
  });
  return { address, path, calls, server };
}

/** The front as containerd runs it; asynchronously, since this process answers it. */
function front(args: string[], cwd: string, input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const c = spawn(FRONT, args, { cwd, env: { PATH: process.env['PATH'], TTRPC_ADDRESS: '/x.ttrpc' }, timeout: 20_000 });
  let stdout = '';
  let stderr = '';
  c.stdout.on('data', (b: Buffer) => (stdout += b.toString('latin1')));
  c.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  c.stdin.end(input);
  return new Promise((res) => c.on('close', (status) => res({ status, stdout, stderr })));
}

t.test('the front hands start to the warm shim and prints its answer', { skip: !root || !existsSync(FRONT) ? 'needs root and make build' : false }, async (t) => {
  const { address, calls } = await plant(t, encodeAnswer({ code: 0, stdout: 'unix:///run/containerd/s/abc', stderr: '' }));
  const bundle = mkdtempSync(join(tmpdir(), 'runts-warm-bundle-'));
  t.teardown(() => rmSync(bundle, { recursive: true, force: true }));
  const args = ['-namespace', 'ns1', '-address', address, '-publish-binary', '/usr/bin/containerd', '-id', 'c1', '-debug', 'start'];
  const r = await front(args, bundle, 'options-any');
  t.equal(r.status, 0, 'exit code', { stderr: r.stderr });
  t.equal(r.stdout, 'unix:///run/containerd/s/abc', 'stdout is the warm shim\'s');
  t.equal(calls.length, 1, 'one call');
  t.same(calls[0]?.args, args, 'argv');
  t.equal(calls[0]?.cwd, bundle, 'cwd: the bundle');
  t.equal(calls[0]?.env['TTRPC_ADDRESS'], '/x.ttrpc', 'environment');
  t.equal(calls[0]?.stdin.toString(), 'options-any', 'stdin');

  // delete's answer carries an exit code and stderr too.
  const { address: a2 } = await plant(t, encodeAnswer({ code: 2, stdout: Buffer.from([8, 1]), stderr: 'why\n' }));
  const d = await front(['-namespace', 'ns1', '-address', a2, '-id', 'c1', '-bundle', bundle, 'delete'], bundle);
  t.equal(d.status, 2, 'delete: the exit code');
  t.equal(d.stderr, 'why\n', 'delete: stderr');
});

t.test('the front trusts only root\'s socket in a dir only root can write', { skip: !root || !existsSync(FRONT) ? 'needs root and make build' : false }, async (t) => {
  const bundle = mkdtempSync(join(tmpdir(), 'runts-warm-bundle-'));
  t.teardown(() => rmSync(bundle, { recursive: true, force: true }));
  const answer = encodeAnswer({ code: 0, stdout: 'unix:///planted', stderr: '' });
  // Without -namespace the Node shim the front falls back to refuses at once: it starts nothing.
  const args = (address: string) => ['-address', address, '-id', 'c1', 'start'];

  // A socket another user made (here: handed to nobody) gets no call.
  const p = await plant(t, answer);
  chownSync(p.path, 65534, 65534);
  let r = await front(args(p.address), bundle);
  t.equal(p.calls.length, 0, 'no call to a socket owned by another user');
  t.match(r.stderr, /-namespace is required/, 'the Node shim ran instead');

  // Nor does root's socket once the dir is writable by others.
  const q = await plant(t, answer);
  chmodSync(SHIM_ROOT, 0o777);
  try {
    r = await front(args(q.address), bundle);
  } finally {
    chmodSync(SHIM_ROOT, 0o700);
  }
  t.equal(q.calls.length, 0, 'no call through a dir others can write');
  t.match(r.stderr, /-namespace is required/, 'the Node shim ran instead');
});

t.test('with no warm shim the front runs the Node shim with the same arguments', { skip: !existsSync(FRONT) ? 'needs make build' : false }, async (t) => {
  // Anything but start and delete goes to the Node shim too: its own error proves it ran.
  const r = spawnSync(FRONT, ['-bogus'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(r.status, 1, 'the Node shim\'s exit code');
  t.match(r.stderr, /containerd-shim-runts-v1: unknown flag -bogus/, 'the Node shim\'s one-line error');
});

t.test('-v and -help: the version (as containerd\'s runc shim prints it) and the usage', { skip: !existsSync(FRONT) ? 'needs make build' : false }, async (t) => {
  const v = spawnSync(FRONT, ['-v'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(v.status, 0, v.stderr);
  t.match(v.stdout, /^containerd-shim-runts-v1:\n {2}Version: {2}\d+\.\d+\.\d+\n {2}Revision: \S+\n/);
  const h = spawnSync(FRONT, ['--help'], { encoding: 'utf8', timeout: 20_000 });
  t.equal(h.status, 0, h.stderr);
  t.match(h.stdout, /^usage: containerd-shim-runts-v1 \[flags\] start\|delete\n/);
  for (const flag of ['-namespace', '-address', '-publish-binary', '-id', '-bundle', '-debug']) t.match(h.stdout, `  ${flag} `, `${flag} is explained`);
});

