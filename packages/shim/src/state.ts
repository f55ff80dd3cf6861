// The life of a process the shim serves (a container's init or an exec), as
// one state and the events that move it. Every move goes through transition(),
// which refuses one that is not in the table in a sentence naming both states.
import { Status } from '@runts/proto/light';
import { StatusError } from '@runts/proto/status';
import type { shim } from '@runts/proto';

export type ProcState = 'created' | 'starting' | 'running' | 'paused' | 'stopped' | 'deleted';
export type ProcEvent = 'start' | 'started' | 'startFailed' | 'exit' | 'pause' | 'resume' | 'delete' | 'forceDelete';

/** Each event: the states it may come in, and the state it leads to. */
export const MOVES: Record<ProcEvent, { from: readonly ProcState[]; to: ProcState }> = {
  start: { from: ['created'], to: 'starting' },
  started: { from: ['starting'], to: 'running' },
  // A start that failed leaves the process as it was: it may be deleted, or exit.
  startFailed: { from: ['starting'], to: 'created' },
  // An exit while starting waits for the start's outcome (TaskStart goes first): see Tasks.
  exit: { from: ['created', 'running', 'paused'], to: 'stopped' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  delete: { from: ['created', 'stopped'], to: 'deleted' },
  forceDelete: { from: ['created', 'running', 'paused', 'stopped'], to: 'deleted' },
};

/** What the Task API reports for each state (the one vocabulary, from proto/). */
const STATUS: Record<ProcState, shim.Status__Output> = {
  created: 'CREATED',
  // containerd's runc shim says CREATED until the start has returned.
  starting: 'CREATED',
  running: 'RUNNING',
  paused: 'PAUSED',
  stopped: 'STOPPED',
  deleted: 'STOPPED',
};

const VERB: Record<ProcEvent, string> = {
  start: 'start', started: 'mark started', startFailed: 'mark not started', exit: 'mark exited',
  pause: 'pause', resume: 'resume', delete: 'delete', forceDelete: 'delete',
};

export class ProcessState {
  private current: ProcState = 'created';

  /** who: how errors name the process, e.g. `container "c1"` or `exec "e1" in container "c1"`. */
  constructor(private readonly who: string) {}

  get state(): ProcState {
    return this.current;
  }

  get status(): shim.Status__Output {
    return STATUS[this.current];
  }

  is(...states: ProcState[]): boolean {
    return states.includes(this.current);
  }

  /** Whether event may come now. */
  can(event: ProcEvent): boolean {
    return MOVES[event].from.includes(this.current);
  }

  /** Refuses, as FAILED_PRECONDITION, an event that may not come now. */
  check(event: ProcEvent): void {
    if (this.can(event)) return;
    const m = MOVES[event];
    throw new StatusError(Status.FAILED_PRECONDITION,
      `cannot ${VERB[event]} ${this.who}: it is ${this.current}, and only a process that is ${m.from.join(' or ')} can go to ${m.to}`);
  }

  transition(event: ProcEvent): ProcState {
    this.check(event);
    this.current = MOVES[event].to;
    return this.current;
  }
}
