// Every (state, event) pair of a shim process: the move the table allows, or a
// refusal that names the process, the state it is in and the states it needs.
import t from 'tap';
import { MOVES, ProcessState, type ProcEvent, type ProcState } from '../src/state';

const STATES: ProcState[] = ['created', 'starting', 'running', 'paused', 'stopped', 'deleted'];
const EVENTS = Object.keys(MOVES) as ProcEvent[];

/** A process brought to `state` through allowed moves only. */
function at(state: ProcState): ProcessState {
  const path: Record<ProcState, ProcEvent[]> = {
    created: [],
    starting: ['start'],
    running: ['start', 'started'],
    paused: ['start', 'started', 'pause'],
    stopped: ['start', 'started', 'exit'],
    deleted: ['start', 'started', 'exit', 'delete'],
  };
  const p = new ProcessState('container "c1"');
  for (const e of path[state]) p.transition(e);
  t.equal(p.state, state, `reached ${state}`);
  return p;
}

// The whole table, written out: [state, event] -> next state, or null for refused.
const EXPECT: Record<ProcState, Partial<Record<ProcEvent, ProcState>>> = {
  created: { start: 'starting', exit: 'stopped', delete: 'deleted', forceDelete: 'deleted' },
  starting: { started: 'running', startFailed: 'created' },
  running: { exit: 'stopped', pause: 'paused', forceDelete: 'deleted' },
  paused: { exit: 'stopped', resume: 'running', forceDelete: 'deleted' },
  stopped: { delete: 'deleted', forceDelete: 'deleted' },
  deleted: {},
};

for (const state of STATES) {
  for (const event of EVENTS) {
    const to = EXPECT[state][event];
    t.test(`${state} + ${event}`, async (t) => {
      const p = at(state);
      if (to) {
        t.ok(p.can(event), 'allowed');
        t.equal(p.transition(event), to, `goes to ${to}`);
        t.equal(p.state, to);
      } else {
        t.notOk(p.can(event), 'refused');
        t.throws(() => p.transition(event), { code: 9, message: new RegExp(`^cannot [a-z ]+ container "c1": it is ${state}, and only a process that is [a-z ]+ can go to [a-z]+$`) });
        t.equal(p.state, state, 'and stays');
      }
    });
  }
}

t.test('the Task API status of each state', async (t) => {
  t.same(STATES.map((s) => at(s).status), ['CREATED', 'CREATED', 'RUNNING', 'PAUSED', 'STOPPED', 'STOPPED']);
});
