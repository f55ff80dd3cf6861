// One function per runtsctl command; each returns the process exit code.
import { EventEmitter } from 'node:events';
import { parseJson, toJson, writeAll } from '@runts/cli';
import type { grpc, shim, supervisor } from '@runts/proto';
import type { Command } from './args';
import { call, type Client } from './client';
import { eventLine, psTable } from './format';

/** A process's attach stream, as follow() uses it. */
interface Session {
  write(m: shim.AttachInput): unknown;
  end(): unknown;
  on(ev: 'data', f: (o: shim.AttachOutput__Output) => void): unknown;
  on(ev: 'end', f: () => void): unknown;
  on(ev: 'error', f: (e: grpc.ServiceError) => void): unknown;
}

/** The process a session follows. */
interface Target {
  id: string;
  execId: string;
}

const UNAVAILABLE = 14;
const FORWARDED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

const print = (s: string) => writeAll(1, s);

/** Copies a process's output to ours; resolves with its exit status once the stream says it exited. */
function drain(stream: Pick<Session, 'on'>): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    let status: number | undefined;
    stream.on('data', (o: shim.AttachOutput__Output) => {
      if (o.stdout?.length) writeAll(1, o.stdout);
      if (o.stderr?.length) writeAll(2, o.stderr);
      // The last message: no need to wait for the stream's trailers, a relay away.
      if (o.exited) resolve((status = o.exitStatus));
    });
    stream.on('end', () => resolve(status));
    stream.on('error', (e: grpc.ServiceError) => (status !== undefined ? resolve(status) : reject(e)));
  });
}

/**
 * Wires the user's terminal to an attach stream: stdin forwarded, raw mode
 * for a tty (restored by the returned function), SIGWINCH sent as a resize.
 */
function wire(stream: Session, tty: boolean, interactive: boolean): () => void {
  const resize = () => stream.write({ width: process.stdout.columns ?? 80, height: process.stdout.rows ?? 24 });
  if (tty && process.stdout.isTTY) process.on('SIGWINCH', resize);
  // process.stdin is made on first use, which takes time: only an interactive session touches it.
  if (!interactive) return () => process.off('SIGWINCH', resize);
  const stdin = process.stdin;
  const raw = tty && stdin.isTTY;
  if (raw) stdin.setRawMode(true);
  const onData = (b: Buffer) => stream.write({ stdin: b });
  const onEnd = () => stream.write({ closeStdin: true });
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  return () => {
    process.off('SIGWINCH', resize);
    if (raw) stdin.setRawMode(false);
    stdin.off('data', onData);
    stdin.off('end', onEnd);
    stdin.pause();
  };
}

function size(tty: boolean): { width?: number; height?: number } {
  return tty && process.stdout.isTTY ? { width: process.stdout.columns, height: process.stdout.rows } : {};
}

/** RunAttached as a session: input wrapped, the container reported once created. */
function runSession(raw: grpc.ClientDuplexStream<supervisor.RunInput, supervisor.RunOutput__Output>, created: (ctr: supervisor.Container__Output) => void): Session {
  const s = new EventEmitter();
  raw.on('data', (o: supervisor.RunOutput__Output) => {
    if (o.container) created(o.container);
    if (o.output) s.emit('data', o.output);
  });
  raw.on('end', () => s.emit('end'));
  raw.on('error', (e: grpc.ServiceError) => s.emit('error', e));
  return Object.assign(s, { write: (m: shim.AttachInput) => raw.write({ input: m }), end: () => raw.end() });
}

/** Follows a process's output (and input when interactive) from the start of its log until it exits. */
async function follow(c: Client, stream: Session, target: Promise<Target>, tty: boolean, interactive: boolean): Promise<number> {
  const unwire = wire(stream, tty, interactive);
  let known: Target | undefined;
  let over = false;
  // As docker's sig-proxy: a signal to runtsctl goes to the process (in raw mode ^C is input
  // instead). Armed once the process exists: before, a signal ends runtsctl as it would have,
  // and installing six handlers stays off the path of the request to runtsd.
  const forward = (sig: NodeJS.Signals) => c.Kill({ ...known!, signal: (require('node:os') as typeof import('node:os')).constants.signals[sig] }, () => {});
  void target.then((t) => {
    if (over) return;
    known = t;
    for (const sig of FORWARDED) process.on(sig, forward);
  });
  try {
    const status = await drain(stream);
    if (status !== undefined) return status;
    const t = known;
    if (!t) throw new Error('runtsd ended the run before the container was created');
    const w = await call<shim.WaitResponse__Output>((cb) => c.Wait(t, cb));
    return w.exitStatus;
  } finally {
    over = true;
    for (const sig of FORWARDED) process.off(sig, forward);
    unwire();
    stream.end();
  }
}

export async function runCommand(c: Client, cmd: Command): Promise<number> {
  switch (cmd.name) {
    case 'run': {
      const req: supervisor.CreateRequest = { id: cmd.id, bundle: cmd.bundle, terminal: cmd.tty, stdin: cmd.interactive, group: cmd.group, autoRemove: cmd.rm };
      if (cmd.detach) {
        const ctr = await call<supervisor.Container__Output>((cb) => c.Run(req, cb));
        print(`${ctr.id}\n`);
        return 0;
      }
      // One call: runtsd attaches before it starts, so no output is missed and --rm waits for this stream.
      let created!: (t: Target) => void;
      const target = new Promise<Target>((res) => (created = res));
      const raw = c.RunAttached();
      raw.write({ create: req, input: size(cmd.tty) });
      return follow(c, runSession(raw, (ctr) => created({ id: ctr.id, execId: '' })), target, cmd.tty, cmd.interactive);
    }
    case 'exec': {
      // node:crypto is slow to load: only exec needs it.
      const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
      const execId = `exec-${randomBytes(4).toString('hex')}`;
      // The exec runs at once: it gets the caller's window size from the start.
      const { width, height } = size(cmd.tty);
      const specJson = JSON.stringify({ args: cmd.args, ...(width && height ? { consoleSize: { width, height } } : {}) });
      await call((cb) => c.Exec({ id: cmd.id, execId, terminal: cmd.tty, stdin: cmd.interactive, specJson }, cb));
      const stream = c.Attach();
      stream.write({ id: cmd.id, execId, logs: true, follow: true, ...size(cmd.tty) });
      return follow(c, stream, Promise.resolve({ id: cmd.id, execId }), cmd.tty, cmd.interactive);
    }
    case 'ps': {
      const { containers } = await call<supervisor.ListResponse__Output>((cb) => c.List({}, cb));
      const shown = cmd.all ? containers : containers.filter((x) => x.status !== 'stopped');
      print(cmd.format === 'json' ? JSON.stringify(shown, null, 2) + '\n' : psTable(shown));
      return 0;
    }
    case 'inspect': {
      const out = [];
      for (const id of cmd.ids) out.push(await call<supervisor.Container__Output>((cb) => c.Get({ id }, cb)));
      print(JSON.stringify(out, null, 2) + '\n');
      return 0;
    }
    case 'logs':
      await drain(c.Logs({ id: cmd.id, follow: cmd.follow }));
      return 0;
    case 'kill':
      await call((cb) => c.Kill({ id: cmd.id, signal: cmd.signal }, cb));
      return 0;
    case 'stop':
      await call((cb) => c.Stop({ id: cmd.id, timeoutS: cmd.timeout }, cb));
      print(`${cmd.id}\n`);
      return 0;
    case 'rm': {
      let code = 0;
      for (const id of cmd.ids) {
        try {
          await call((cb) => c.Delete({ id, force: cmd.force }, cb));
          print(`${id}\n`);
        } catch (e) {
          // One missing id does not stop the others; no runtsd stops all.
          const se = e as grpc.ServiceError;
          if (se.code === UNAVAILABLE || !se.details) throw e;
          writeAll(2, `runtsctl: ${se.details}\n`);
          code = 1;
        }
      }
      return code;
    }
    case 'events':
      return new Promise((resolve, reject) => {
        const stream = c.Events({});
        stream.on('data', (e: supervisor.Event__Output) => print(eventLine(e)));
        stream.on('end', () => resolve(0));
        stream.on('error', reject);
      });
    case 'stats': {
      const s = await call<shim.StatsResponse__Output>((cb) => c.Stats({ id: cmd.id }, cb));
      print(toJson(parseJson(s.statsJson || '{}'), 2) + '\n');
      return 0;
    }
    case 'wait': {
      const w = await call<shim.WaitResponse__Output>((cb) => c.Wait({ id: cmd.id }, cb));
      print(`${w.exitStatus}\n`);
      return 0;
    }
    case 'help':
    case 'version':
      return 0;
  }
}
