// start: the go on the exec fifo, then wait for the init to exec the process
// (or report the step after the fifo that failed), then the poststart hooks.
import { unlinkSync, constants as fsc } from 'node:fs';
import { RuntsError } from '@runts/errors';
import { errnoOf } from '@runts/sys';
import { MSG_SIZE } from './plan/ops';
import { isAlive } from './proc';
import { ociState, statusOf } from './query';
import { runHooksWarn } from './hooks';
import { START_RUNNING, START_STOPPED } from './wording';
import type { Ctx } from './context';
import { stageError } from './converse';

// How often start looks whether an init that has not given the go still lives.
const START_POLL_MS = 10;

/** The rest of this turn of the event loop, for a wait that goes on in slices. */
const nextTurn = () => new Promise<void>((r) => setImmediate(r));

export async function start(ctx: Ctx, id: string): Promise<void> {
  const { store, sys } = ctx;
  const rec = store.load(id);
  const status = statusOf(store, rec);
  if (status !== 'created') throw new RuntsError('ERR_BAD_STATE', status === 'stopped' ? START_STOPPED : START_RUNNING);
  const fifo = store.fifo(id);
  const fd = sys.open(fifo, fsc.O_RDONLY | fsc.O_NONBLOCK);
  ctx.debug?.(`start ${id}: exec fifo of init ${rec.pid} opened`);
  try {
    const b = Buffer.alloc(MSG_SIZE);
    // n > 0: bytes; 0: EOF, no writer (yet, or any more); -1: a writer, nothing written.
    const read = (n: number) => {
      try {
        return sys.read(fd, b.subarray(0, n));
      } catch (e) {
        if (errnoOf(e, '') !== 'EAGAIN') throw e;
        return -1;
      }
    };
    while (read(1) !== 1) {
      if (!isAlive(rec.pid, rec.startTime)) {
        // A short process may have taken the go, run and exited between our two looks.
        if (read(1) === 1) break;
        throw new RuntsError('ERR_BAD_STATE', `container "${id}" init exited before start`);
      }
      // Woken by the init's write; a writer that left without one (hang-up) would wake us at once.
      if (!sys.pollIn(fd, START_POLL_MS)) await nextTurn();
    }
    ctx.debug?.(`start ${id}: init took the go; startContainer hooks, then exec`);
    // The init holds its end until it execs the process, after its startContainer
    // hooks and seccomp filter; poststart comes after that (runtime-spec), so wait
    // for the hang-up, in slices: a shim serves its other containers meanwhile. A
    // step that fails before it writes its report here.
    let report = Buffer.alloc(0);
    const take = (n: number) => (report = Buffer.concat([report, b.subarray(0, n)]));
    for (;;) {
      const n = read(MSG_SIZE);
      if (n > 0) take(n);
      else if (n === 0 || !isAlive(rec.pid, rec.startTime)) break;
      else if (!sys.pollIn(fd, START_POLL_MS)) await nextTurn();
    }
    if (report.length >= MSG_SIZE) {
      const late = rec.lateSteps;
      const index = report.readUInt32LE(4);
      const step = late && index >= late.first ? late.steps[index - late.first] : undefined;
      throw stageError(step, index, report.readUInt32LE(0), report.readInt32LE(8), report.readInt32LE(12));
    }
  } finally {
    sys.close(fd);
    try {
      unlinkSync(fifo);
    } catch {
      /* a concurrent start removed it */
    }
  }
  ctx.debug?.(`start ${id}: the process runs; poststart hooks (${rec.poststart.length})`);
  await runHooksWarn(rec.poststart, 'poststart', JSON.stringify(ociState(rec, 'running')), ctx.warn);
}
