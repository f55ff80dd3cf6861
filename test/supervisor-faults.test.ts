// Supervisor faults (needs root): runtsd killed with -9 in the middle of 50
// creates, exits that happen while it is down, and a flood on its socket.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { grpc, supervisorApi } from '@runts/proto';
import { Env, baseConfig } from './lib/harness';
import { RUNTSCTL, Supervisor } from './lib/supervisor';

t.setTimeout(10 * 60 * 1000);
const sh = (script: string) => baseConfig(['sh', '-c', script]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** runtsctl without waiting for it; resolves to its exit code. */
function ctlAsync(sv: Supervisor, args: string[]): Promise<number> {
  return new Promise((res) => {
    const p = spawn(RUNTSCTL, ['--address', sv.address, ...args], { stdio: 'ignore' });
    p.on('exit', (code) => res(code ?? 255));
  });
}

t.test('kill -9 of runtsd during 50 creates: nothing lost, no exit code lost', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const N = 50;
  const ids = Array.from({ length: N }, (_, i) => `${env.id('flt')}-${i}`);
  ids.forEach((id) => sv.ids.add(id));
  // Odd ones exit with their own code 3 s after start, mostly while runtsd is down.
  const bundles = [env.bundle(sh('sleep 1000')), ...Array.from({ length: N }, (_, i) => env.bundle(sh(`sleep 3; exit ${i}`)))];
  const bundleOf = (i: number) => (i % 2 ? bundles[i + 1]! : bundles[0]!);
  const results = new Map<string, number>();
  let next = 0;
  const worker = async () => {
    while (next < N) {
      const i = next++;
      results.set(ids[i]!, await ctlAsync(sv, ['run', '-d', '--group', `flt-${i % 5}`, '--name', ids[i]!, bundleOf(i)]));
    }
  };
  const creating = Promise.all(Array.from({ length: 8 }, worker));
  while (results.size < N / 2) await sleep(20);
  await sv.stop('SIGKILL');
  await creating;
  const made = ids.filter((id) => results.get(id) === 0);
  t.ok(made.length >= N / 2 && made.length < N, `${made.length} creates answered before the kill, the rest refused`);

  // Every container a shim holds is one runtsd knows: none is left behind unlisted.
  await sleep(4000);
  await sv.start();
  const listed = new Map(sv.ps().map((c) => [c.id, c]));
  for (const id of made) t.ok(listed.has(id), `${id} listed after the restart`);
  const inShims = sv.shimDirs().flatMap((d) => (existsSync(join(d, 'runtime')) ? readdirSync(join(d, 'runtime')) : []));
  t.same(inShims.filter((id) => !listed.has(id)), [], 'no container runs that runtsd does not list');

  const lost: string[] = [];
  for (const id of made) {
    const i = ids.indexOf(id);
    const ok = await sv.until(() => {
      const c = sv.inspect(id);
      return i % 2 ? c.status === 'stopped' && c.exitStatus === i : c.status === 'running';
    }, 10000);
    if (!ok) lost.push(`${id}: ${JSON.stringify(sv.inspect(id))}`);
  }
  t.same(lost, [], 'the long ones run; the short ones have their real exit codes');
  t.equal(sv.ctl(['rm', '-f', ...listed.keys()]).code, 0, 'all removed');
  t.ok(await sv.until(() => sv.shimDirs().length === 0), 'every group shim exits with its last container');
});

t.test('a flood on the socket: runtsd keeps answering, within a bounded RSS', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${sv.pid()}/status`, 'utf8'))?.[1]) / 1024;
  const before = rss();
  // 200 connections that send garbage, then hang.
  const socks = Array.from({ length: 200 }, () => {
    const s = connect(sv.address);
    s.on('error', () => undefined);
    s.write('GET / HTTP/1.1\r\n\r\n' + 'x'.repeat(4096));
    return s;
  });
  // 5000 requests from one client, 200 in flight.
  const api = supervisorApi();
  const client = new api.Containers(`unix://${sv.address}`, grpc.credentials.createInsecure());
  let sent = 0;
  let notFound = 0;
  const worker = async () => {
    while (sent < 5000) {
      sent++;
      await new Promise<void>((res) => client.Get({ id: `nope-${sent}` }, (e) => {
        if (e?.code === grpc.status.NOT_FOUND) notFound++;
        res();
      }));
    }
  };
  const flood = Promise.all(Array.from({ length: 200 }, worker));
  // A real client during the flood.
  const id = env.id('fl');
  sv.ids.add(id);
  const t0 = Date.now();
  const r = sv.ctl(['run', '--rm', '--name', id, env.bundle(sh('echo during; exit 9'))]);
  t.equal(r.code, 9, `a run during the flood: exit code (${Date.now() - t0} ms)`);
  await flood;
  t.equal(notFound, 5000, 'every flood request answered NOT_FOUND');
  client.close();
  socks.forEach((s) => s.destroy());
  t.equal(sv.ctl(['ps']).code, 0, 'still serving');
  t.ok(rss() - before < 64, `runtsd RSS ${before.toFixed(0)} -> ${rss().toFixed(0)} MiB (bound +64 MiB)`);
});
