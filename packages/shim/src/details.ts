// Pids as containerd's runc shim answers them: an exec's process carries a
// containerd.runc.v1.ProcessDetails naming the exec, which ctr task ps prints.
import { codec } from '@runts/proto/light';
import type { Any } from './metrics';

export const PROCESS_DETAILS = 'containerd.runc.v1.ProcessDetails';

/** Tasks.pids' processes as containerd's ProcessInfo list. */
export function processInfos(ps: readonly { pid?: number; execId?: string }[]): { pid: number; info: Any | null }[] {
  return ps.map((p) => ({ pid: p.pid ?? 0, info: p.execId ? { type_url: PROCESS_DETAILS, value: codec(PROCESS_DETAILS).encode({ execId: p.execId }) } : null }));
}
