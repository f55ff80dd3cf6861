// Shared by the unit tests: a record with every field set.
import type { ContainerRecord } from '../src/records';

export function record(id: string, over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id, bundle: '/b', group: '', terminal: false, stdin: false, autoRemove: false, shimDir: '/s', shimSocket: '/s/task.sock', shimPid: 1,
    status: 'created', pid: 0, exitStatus: 0, exitedAtMs: 0, createdAtMs: 1000, startedAtMs: 0, lastSeq: 0, reason: '', ...over,
  };
}
