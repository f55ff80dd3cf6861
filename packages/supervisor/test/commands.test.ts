// runtsctl's commands against a fake runtsd client: no daemon needed.
import t from 'tap';
import { EventEmitter } from 'node:events';
import type { Client } from '../src/ctl/client';
import { runCommand } from '../src/ctl/commands';

/** A RunAttached stream that the test drives; it never sends trailers. */
function fakeRun(): { client: Client; stream: EventEmitter; written: unknown[]; ended: () => boolean } {
  const stream = new EventEmitter();
  const written: unknown[] = [];
  let ended = false;
  Object.assign(stream, { write: (m: unknown) => written.push(m), end: () => (ended = true) });
  const client = { RunAttached: () => stream } as unknown as Client;
  return { client, stream, written, ended: () => ended };
}

const run = { name: 'run', bundle: '/b', id: '', detach: false, rm: true, tty: false, interactive: false, group: '' } as const;

t.test('run ends at the exited message, without waiting for the stream to end', async (t) => {
  const f = fakeRun();
  const done = runCommand(f.client, run);
  t.match(f.written[0], { create: { bundle: '/b', autoRemove: true } });
  f.stream.emit('data', { container: { id: 'c1' } });
  f.stream.emit('data', { output: { exited: true, exitStatus: 7 } });
  t.equal(await done, 7);
  t.ok(f.ended(), 'our side of the stream is closed');
});

t.test('signals are forwarded only once the container exists, and no longer after', async (t) => {
  const f = fakeRun();
  const before = process.listenerCount('SIGUSR2');
  const done = runCommand(f.client, run);
  await new Promise((res) => setImmediate(res));
  t.equal(process.listenerCount('SIGUSR2'), before, 'no handler before the container is made');
  f.stream.emit('data', { container: { id: 'c1' } });
  await new Promise((res) => setImmediate(res));
  t.equal(process.listenerCount('SIGUSR2'), before + 1, 'forwarding once it exists');
  f.stream.emit('data', { output: { exited: true, exitStatus: 0 } });
  t.equal(await done, 0);
  t.equal(process.listenerCount('SIGUSR2'), before, 'handlers removed at the end');
});

t.test('a run that ends before the container is made is an error', async (t) => {
  const f = fakeRun();
  const done = runCommand(f.client, run);
  f.stream.emit('end');
  await t.rejects(done, /before the container was created/);
});
