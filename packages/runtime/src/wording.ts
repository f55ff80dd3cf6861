// Error words engines look for in what runts prints, worded exactly as runc
// 1.1.5 prints them. An engine that finds none of its words treats a routine
// case (a kill after exit) as a failure, so change none of these without
// packages/runtime/test/wording.test.ts, which names the engine code matching each one.

/** kill, pause: the container has exited (containerd checkKillError). */
export const NOT_RUNNING = 'container not running';
/** Any command on an unknown id (containerd Init.delete and checkKillError, podman's state check). */
export const NOT_EXIST = 'container does not exist';
/** A signal to a process that exited meanwhile (containerd checkKillError, case-insensitive). */
export const NO_SUCH_PROCESS = 'no such process';
/** resume of a container that is not paused. */
export const NOT_PAUSED = 'container not paused';
/** start of a running or paused container. */
export const START_RUNNING = 'cannot start an already running container';
/** start of a stopped container. */
export const START_STOPPED = 'cannot start a container that has stopped';

/** delete without --force of a running or paused container. */
export function deleteNotStopped(id: string, status: string): string {
  return `cannot delete container ${id} that is not stopped: ${status}`;
}
