// runtsd + runts-shim + runtsctl with real containers (needs root): the
// lifecycle, --rm, live-restore after kill -9 of runtsd, a shim killed under
// its containers, and the order of events. Each test has its own daemon,
// state dir and socket, and removes every container, shim and cgroup it made.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Env, baseConfig, cgroupsOf } from './lib/harness';
import { RUNTSCTL, Supervisor, readText } from './lib/supervisor';

t.setTimeout(10 * 60 * 1000);

const sh = (script: string) => baseConfig(['sh', '-c', script]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('lifecycle through runtsctl: run -d, ps, logs, exec, stop, wait, rm', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const id = env.id('sv');
  const b = env.bundle(sh('trap "exit 42" TERM; echo hello; while true; do sleep 0.1; done'));
  const run = sv.runDetached(id, b);
  t.equal(run.code, 0, run.stderr);
  t.equal(run.stdout, `${id}\n`);

  const c = sv.inspect(id);
  t.match(c, { id, status: 'running', group: '' });
  t.ok(c.pid > 0 && c.shimPid > 0, 'pids recorded');
  const table = sv.ctl(['ps']);
  t.match(table.stdout, /^CONTAINER ID +STATUS +PID +GROUP +CREATED\n/);
  t.match(table.stdout, new RegExp(`\\n${id} +Running +${c.pid} +- `));

  t.ok(await sv.until(() => sv.ctl(['logs', id]).stdout === 'hello\n'), 'logs');
  const ex = sv.ctl(['exec', id, 'sh', '-c', 'echo from-exec; exit 3']);
  t.equal(ex.code, 3, ex.stderr);
  t.equal(ex.stdout, 'from-exec\n');
  const stats = sv.ctl(['stats', id]);
  // runts-shim's Stats calls the runtime's events with interval 0, which the runtime refuses.
  t.equal(stats.code, 0, stats.stderr);
  t.ok(stats.code === 0 && typeof JSON.parse(stats.stdout) === 'object', 'stats is JSON');
  // No memory limit: cgroup v1 reads 9223372036854771712, which a JS number prints as ...772000.
  if (existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes')) t.match(stats.stdout, /"limit": 9223372036854771712,/, 'a 64-bit counter, digit for digit');

  const stop = sv.ctl(['stop', '-t', '10', id]);
  t.equal(stop.code, 0, stop.stderr);
  t.match(sv.inspect(id), { status: 'stopped', exitStatus: 42 });
  t.equal(sv.ctl(['wait', id]).stdout, '42\n');
  t.match(sv.ctl(['ps']).stdout, /^CONTAINER ID[^\n]*\n$/, 'ps without -a hides stopped containers');

  const rm = sv.ctl(['rm', id]);
  t.equal(rm.code, 0, rm.stderr);
  const gone = sv.ctl(['inspect', id]);
  t.equal(gone.code, 1);
  t.equal(gone.stderr, `runtsctl: no such container: ${id}\n`);
  t.ok(await sv.until(() => sv.shimDirs().length === 0), "the shim and its dir are gone with its last container");
  t.same(cgroupsOf(id), [], 'no cgroup left');
});

t.test('a new container takes the shim runtsd keeps warm, and a new warm one is booted after', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const warmPid = (d: string) => (existsSync(join(d, 'warm')) ? Number(readText(join(d, 'shim.pid'))) : 0);
  const warmPids = () => sv.allShimDirs().map(warmPid).filter((p) => p > 0);
  // The nice value of each thread (field 19 of its stat).
  const nices = (pid: number) => readdirSync(`/proc/${pid}/task`).map((tid) => Number(readText(`/proc/${pid}/task/${tid}/stat`).split(') ')[1]!.split(' ')[16]));
  t.ok(await sv.until(() => warmPids().length === 1), 'one shim waits, booted');
  const [before] = warmPids();
  t.same(new Set(nices(before!)), new Set([10]), 'at a lower priority while it waits');
  const id = env.id('warm');
  const run = sv.runDetached(id, env.bundle(sh('sleep 60')));
  t.equal(run.code, 0, run.stderr);
  t.equal(sv.inspect(id).shimPid, before, 'the container runs in the warm shim');
  t.same(new Set(nices(before!)), new Set([0]), 'back at normal priority once taken');
  t.same(nices(sv.inspect(id).pid), [0], 'and so is its container');
  t.ok(await sv.until(() => warmPids().length === 1 && warmPids()[0] !== before), 'another warm shim replaces it');
  t.equal(sv.ctl(['rm', '-f', id]).code, 0);
});

t.test('a shim whose container is removed while the warm pool has room waits for the next one', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  // A warm dir is marked before its shim writes its pid.
  const warmPids = () => sv.allShimDirs().filter((d) => existsSync(join(d, 'warm'))).map((d) => Number(readText(join(d, 'shim.pid')))).filter((p) => p > 0);
  t.ok(await sv.until(() => warmPids().length === 1), 'one shim waits, booted');
  const [first] = warmPids();
  const id = env.id('again');
  const run = sv.ctl(['run', '--rm', '--name', id, env.bundle(sh('echo one'))]);
  t.same([run.code, run.stdout], [0, 'one\n'], run.stderr);
  t.ok(await sv.until(() => warmPids()[0] === first), 'its shim is the warm one again');
  await sleep(1000);
  t.same(warmPids(), [first], 'and no other was booted');
  const dir = sv.allShimDirs().find((d) => existsSync(join(d, 'warm')))!;
  t.same(readdirSync(join(dir, 'logs')), [], 'the removed container left no log');
  // The same id again: the shim's earlier events (that id's exit and delete) are not replayed onto it.
  const again = sv.runDetached(id, env.bundle(sh('echo two; sleep 60')));
  t.equal(again.code, 0, again.stderr);
  t.match(sv.inspect(id), { shimPid: first, status: 'running' });
  t.ok(await sv.until(() => sv.ctl(['logs', id]).stdout === 'two\n'), 'its own log');
  await sleep(300);
  t.match(sv.inspect(id), { status: 'running' }, 'still running');
  t.equal(sv.ctl(['rm', '-f', id]).code, 0);
});

t.test('run in the foreground: output and exit code; --rm removes it', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const kept = env.id('sv');
  sv.ids.add(kept);
  const r = sv.ctl(['run', '--name', kept, env.bundle(sh('echo out; exit 5'))]);
  t.equal(r.code, 5, r.stderr);
  t.equal(r.stdout, 'out\n');
  t.match(sv.inspect(kept), { status: 'stopped', exitStatus: 5 });

  const gone = env.id('sv');
  sv.ids.add(gone);
  const rm = sv.ctl(['run', '--rm', '--name', gone, env.bundle(sh('echo bye; exit 7'))]);
  t.equal(rm.code, 7, rm.stderr);
  t.equal(rm.stdout, 'bye\n');
  t.ok(await sv.until(() => !sv.ps().some((c) => c.id === gone)), '--rm: the record is gone');
  t.same(cgroupsOf(gone), []);
  t.equal(sv.ctl(['rm', kept]).code, 0);

  // Output larger than a pipe holds, to a reader that is slow to start: every byte, in order.
  const big = env.id('sv');
  sv.ids.add(big);
  const slow = spawnSync('sh', ['-c', `"$0" --address "$1" run --rm --name "$2" "$3" | (sleep 0.5; wc -c)`, RUNTSCTL, sv.address, big, env.bundle(sh('dd if=/dev/zero bs=1024 count=2048 2>/dev/null; echo end >&2'))], { encoding: 'utf8', timeout: 30000 });
  t.equal(slow.stdout.trim(), '2097152', '2 MiB through a full pipe');
  t.equal(slow.stderr, 'end\n', 'stderr beside it');

  // -i: our stdin is the container's, to its end; input sent before the container exists waits for it.
  const fed = env.id('sv');
  sv.ids.add(fed);
  const cat = spawnSync(RUNTSCTL, ['--address', sv.address, 'run', '-i', '--rm', '--name', fed, env.bundle(sh('cat; echo done'))], { input: 'hello\nworld\n', encoding: 'utf8', timeout: 30000 });
  t.equal(cat.status, 0, cat.stderr);
  t.equal(cat.stdout, 'hello\nworld\ndone\n');
  t.ok(await sv.until(() => !sv.ps().some((c) => c.id === fed)), '-i --rm: the record is gone');

  // A signal to a foreground runtsctl goes to the container, whose exit code it returns.
  const proxied = env.id('sv');
  sv.ids.add(proxied);
  const fg = spawn(RUNTSCTL, ['--address', sv.address, 'run', '--name', proxied, env.bundle(sh('trap "exit 42" TERM; while true; do sleep 0.1; done'))], { stdio: 'ignore' });
  const fgCode = new Promise<number | null>((res) => fg.on('exit', (code) => res(code)));
  // Running, not only listed: before runtsctl hears that the container exists, a signal ends runtsctl itself.
  t.ok(await sv.until(() => sv.ps().some((c) => c.id === proxied && c.status === 'running')), 'running');
  await sleep(300);
  fg.kill('SIGTERM');
  t.equal(await fgCode, 42, 'SIGTERM forwarded');
  t.equal(sv.ctl(['rm', proxied]).code, 0);

  // logs -f follows a detached container until it exits.
  const ticks = env.id('sv');
  t.equal(sv.runDetached(ticks, env.bundle(sh('for i in 1 2 3; do echo tick $i; sleep 0.3; done'))).code, 0);
  const f = sv.ctl(['logs', '-f', ticks], 20000);
  t.equal(f.code, 0, f.stderr);
  t.equal(f.stdout, 'tick 1\ntick 2\ntick 3\n');
  t.equal(sv.ctl(['rm', ticks]).code, 0);
});

t.test('errors are one line', async (t) => {
  const sv = new Supervisor(t);
  const down = sv.ctl(['ps']);
  t.equal(down.code, 1);
  t.equal(down.stderr, `runtsctl: cannot reach runtsd at ${sv.address}: is it running?\n`);
  await sv.start();
  const missing = sv.ctl(['stop', 'nope']);
  t.equal(missing.stderr, 'runtsctl: no such container: nope\n');
  t.equal(sv.ctl(['run', '/nonexistent']).stderr, 'runtsctl: no config.json in bundle /nonexistent\n');
  t.equal(sv.ctl(['frob']).code, 2);

  // A run whose start fails: its error, and no record or shim hold left.
  const env = new Env(t);
  const cfg = sh('true');
  cfg.process.args = ['/no/such/binary'];
  for (const args of [['run'], ['run', '--rm'], ['run', '-t']]) {
    const id = env.id('sv');
    sv.ids.add(id);
    const r = sv.ctl([...args, '--name', id, env.bundle(cfg)]);
    t.equal(r.code, 1, `${args.join(' ')}: fails`);
    t.match(r.stderr, /^runtsctl: [^\n]*no\/such\/binary[^\n]*\n$/, `${args.join(' ')}: one line, naming the binary`);
    t.notOk(sv.ps().some((c) => c.id === id), `${args.join(' ')}: no record left`);
    t.same(cgroupsOf(id), []);
  }
});

t.test('20 containers survive kill -9 of runtsd; exits while it was down keep their codes', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const trigger = `go-${process.pid}-${Date.now()}`;
  const waiting = (code: number) => sh(`while [ ! -e /tmp/${trigger} ]; do sleep 0.1; done; exit ${code}`);
  const long: string[] = [];
  const exiting = new Map<string, number>();
  const g = `pod-${process.pid}`;
  for (let i = 0; i < 20; i++) {
    const id = env.id('sv');
    // Half in one group shim, half alone: both kinds of shim are reconnected.
    const extra = i % 2 === 0 ? ['--group', `${g}-${i % 4}`] : [];
    const r = i < 10 ? sv.runDetached(id, env.bundle(sh('sleep 1000')), extra) : sv.runDetached(id, env.bundle(waiting(i)), extra);
    t.equal(r.code, 0, r.stderr);
    if (i < 10) long.push(id);
    else exiting.set(id, i);
  }
  t.equal(sv.ps().length, 20);
  await sv.stop('SIGKILL');

  // The exiting ten end while no runtsd is there to hear it.
  const rootfs = JSON.parse(readFileSync(join(env.bundle(sh('true')), 'config.json'), 'utf8')).root.path as string;
  writeFileSync(join(rootfs, 'tmp', trigger), '');
  t.teardown(() => rmSync(join(rootfs, 'tmp', trigger), { force: true }));
  await sleep(1500);

  await sv.start();
  const all = sv.ps();
  t.equal(all.length, 20, 'all listed after the restart');
  for (const id of long) t.match(all.find((c) => c.id === id), { status: 'running' }, `${id} still running`);
  for (const [id, code] of exiting) t.match(all.find((c) => c.id === id), { status: 'stopped', exitStatus: code }, `${id} exited ${code} while runtsd was down`);
  t.equal(sv.ctl(['wait', [...exiting.keys()][0]!]).stdout, '10\n', 'wait answers from the record');

  // The restarted runtsd still drives the old shims.
  const stop = sv.ctl(['stop', '-t', '1', long[0]!]);
  t.equal(stop.code, 0, stop.stderr);
  t.match(sv.inspect(long[0]!), { status: 'stopped', exitStatus: 137 });
  const rm = sv.ctl(['rm', '-f', ...sv.ps().map((c) => c.id)]);
  t.equal(rm.code, 0, rm.stderr);
  t.equal(sv.ps().length, 0);
  t.ok(await sv.until(() => sv.shimDirs().length === 0), 'every shim shut down');
});

t.test('kill -9 of a shim: its containers are marked with the reason, others untouched', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const group = `pod-${process.pid}`;
  const [a, b, solo] = [env.id('sv'), env.id('sv'), env.id('sv')];
  for (const [id, extra] of [[a, ['--group', group]], [b, ['--group', group]], [solo, []]] as const) {
    const r = sv.runDetached(id, env.bundle(sh('sleep 1000')), [...extra]);
    t.equal(r.code, 0, r.stderr);
  }
  const shimPid = sv.inspect(a).shimPid;
  t.equal(sv.inspect(b).shimPid, shimPid, 'one shim for the group');
  t.not(sv.inspect(solo).shimPid, shimPid);
  const initPid = sv.inspect(a).pid;
  process.kill(shimPid, 'SIGKILL');
  t.ok(await sv.until(() => sv.inspect(a).status === 'unknown'), 'runtsd noticed');
  t.match(sv.inspect(a), { status: 'unknown', reason: 'shim exited' });
  t.match(sv.inspect(b), { status: 'unknown', reason: 'shim exited' });
  t.match(sv.inspect(solo), { status: 'running', reason: '' });
  t.match(sv.ctl(['ps']).stdout, new RegExp(`${a} +Unknown \\(shim exited\\)`));
  t.match(sv.ctl(['rm', a]).stderr, /shim exited; force the removal/);
  const rm = sv.ctl(['rm', '-f', a, b, solo]);
  t.equal(rm.code, 0, rm.stderr);
  t.ok(await sv.until(() => !existsSync(`/proc/${initPid}`) || readText(`/proc/${initPid}/stat`).includes(') Z')), 'rm -f killed what the dead shim left');
  t.same([a, b, solo].flatMap(cgroupsOf), []);
});

t.test('runtsctl events: create, start, exit in order, with the exit code', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const events = spawn(RUNTSCTL, ['--address', sv.address, 'events'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void events.kill('SIGKILL'));
  let text = '';
  events.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  await sleep(300);
  const id = env.id('sv');
  sv.ids.add(id);
  t.equal(sv.ctl(['run', '--name', id, env.bundle(sh('exit 4'))]).code, 4);
  const mine = () => text.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.id === id);
  t.ok(await sv.until(() => mine().some((e) => e.topic === '/tasks/exit')));
  const seen = mine();
  t.same(seen.map((e) => e.topic).slice(0, 3), ['/tasks/create', '/tasks/start', '/tasks/exit']);
  t.match(seen[2], { event: { containerId: id, exitStatus: 4 } });
  t.same([...seen.map((e) => e.seq)].sort((x, y) => x - y), seen.map((e) => e.seq), 'in seq order');
  t.equal(sv.ctl(['rm', id]).code, 0);
});

t.test('SIGTERM stops runtsd cleanly and leaves containers running; concurrent creates share a group shim', async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const group = `pod-${process.pid}`;
  const ids = [1, 2, 3, 4, 5].map(() => env.id('sv'));
  const runs = ids.map((id) => {
    sv.ids.add(id);
    const p = spawn(RUNTSCTL, ['--address', sv.address, 'run', '-d', '--group', group, '--name', id, env.bundle(sh('sleep 1000'))], { stdio: 'ignore' });
    return new Promise<number | null>((res) => p.on('exit', (code) => res(code)));
  });
  t.same(await Promise.all(runs), [0, 0, 0, 0, 0], 'five concurrent creates');
  t.equal(new Set(sv.ps().map((c) => c.shimPid)).size, 1, 'one shim for the group');
  t.equal(sv.shimDirs().length, 1);

  t.equal(await sv.stop('SIGTERM'), 0, 'runtsd exits 0 on SIGTERM');
  t.notOk(existsSync(sv.address), 'its socket is removed');
  const log = sv.log();
  t.match(log, new RegExp(`^runtsd: starting: version \\d+\\.\\d+\\.\\d+, commit \\S+, pid \\d+, address ${sv.address}, state dir ${sv.state}$`, 'm'), 'its start is logged');
  t.match(log, /^runtsd: SIGTERM: stopping the warm shims; containers and their shims keep running\nruntsd: stopped \(pid \d+\)$/m, 'and its stop');
  await sv.start();
  t.same(sv.ps().map((c) => c.status), ['running', 'running', 'running', 'running', 'running']);
  t.equal(sv.ctl(['rm', '-f', ...ids]).code, 0);
  t.ok(await sv.until(() => sv.shimDirs().length === 0), 'the group shim exits with its last container');
});

t.test("run -t -i: the container gets a terminal of the caller's size", async (t) => {
  const env = new Env(t);
  const sv = new Supervisor(t);
  await sv.start();
  const id = env.id('sv');
  sv.ids.add(id);
  const cfg = sh('stty size; tty; exit 3');
  cfg.process.terminal = true;
  const b = env.bundle(cfg);
  // script(1) gives runtsctl a pty of its own to put in raw mode.
  const cmd = `stty rows 33 cols 77; ${RUNTSCTL} --address ${sv.address} run -t -i --name ${id} ${b}; echo "rc=$?"`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'], input: '' });
  // Both ptys (the container's and script's) turn \n into \r\n; script may add a NUL for its EOF.
  t.match(r.stdout, /33 77\r+\n/, 'the caller\'s terminal size');
  // Input the terminal echoes (script's EOF as a NUL, raw or as ^@ once the container's
  // pty echoes control characters) may land before the tty's line.
  t.match(r.stdout, /\n(?:\0|\^@)*\/dev\/pts\/\d+\r+\n/, 'stdin is a tty');
  t.match(r.stdout, /rc=3/, 'exit code of the container');
  t.match(sv.inspect(id), { status: 'stopped', exitStatus: 3, terminal: true });
  t.equal(sv.ctl(['rm', id]).code, 0);

  // The caller's window changes while it runs: SIGWINCH reaches the container's pty.
  const resized = env.bundle({ ...cfg, process: { ...cfg.process, args: ['sh', '-c', 'sleep 2; stty size'] } });
  const winch = `stty rows 33 cols 77; ${RUNTSCTL} --address ${sv.address} run -t -i --rm ${resized} & sleep 1; stty rows 40 cols 90; kill -WINCH $!; wait $!`;
  const w = spawnSync('script', ['-qec', winch, '/dev/null'], { encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'], input: '' });
  t.match(w.stdout, /40 90/, 'resized');

  const bg = env.id('sv');
  t.equal(sv.runDetached(bg, env.bundle(sh('sleep 1000'))).code, 0);
  const ex = spawnSync('script', ['-qec', `stty rows 20 cols 60; ${RUNTSCTL} --address ${sv.address} exec -t -i ${bg} sh -c 'stty size; exit 6'; echo "rc=$?"`, '/dev/null'], { encoding: 'utf8', timeout: 30000, stdio: ['pipe', 'pipe', 'pipe'], input: '' });
  t.match(ex.stdout, /20 60\r+\n/, 'exec -t: a terminal of the caller\'s size');
  t.match(ex.stdout, /rc=6/, 'exec -t: its exit code');
  t.equal(sv.ctl(['rm', '-f', bg]).code, 0);
});
