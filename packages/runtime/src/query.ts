// state and list: the state dir and /proc, read only. Apart from the runtime,
// so that these commands load nothing that makes containers (config checks,
// cgroups, the plan, syscalls): what a poll by an engine or a monitor costs.
import { existsSync } from 'node:fs';
import { OCI_VERSION } from '@runts/oci/defaults';
import type { State } from '@runts/oci';
import { isAlive } from './proc';
import type { Queries } from './options';
import { StateStore, type ContainerRecord, type Status } from './state';

export function createQueries(store: StateStore): Queries {
  return {
    state: (id) => stateOf(store, store.load(id)),
    list: () => {
      const out: State[] = [];
      for (const id of store.ids()) {
        try {
          out.push(stateOf(store, store.load(id)));
        } catch {
          // A container deleted while listing is simply not listed.
        }
      }
      return out;
    },
  };
}

function stateOf(store: StateStore, rec: ContainerRecord): State {
  return ociState(rec, statusOf(store, rec));
}

export function statusOf(store: StateStore, rec: ContainerRecord): Status {
  if (rec.creating) return rec.pid > 0 && isAlive(rec.pid, rec.startTime) ? 'creating' : 'stopped';
  if (!isAlive(rec.pid, rec.startTime)) return 'stopped';
  if (existsSync(store.fifo(rec.id))) return 'created';
  try {
    const { newManager } = require('@runts/cgroups') as typeof import('@runts/cgroups');
    if (newManager({ paths: rec.cgroupPaths }).isFrozen()) return 'paused';
  } catch {
    /* no freezer: not paused */
  }
  return 'running';
}

export function ociState(rec: ContainerRecord, status: Status): State {
  const s: State = {
    ociVersion: OCI_VERSION,
    id: rec.id,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
  };
  if (status !== 'stopped' && rec.pid > 0) s.pid = rec.pid;
  if (Object.keys(rec.annotations).length > 0) s.annotations = rec.annotations;
  return s;
}
