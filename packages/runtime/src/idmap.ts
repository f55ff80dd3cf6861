// Idmapped mounts, made by the runtime before the clone: the kernel lets only
// CAP_SYS_ADMIN over the filesystem's user namespace (the host's) idmap a
// mount, so the container's init, inside its own user namespace, cannot.
import type { LinuxIdMapping } from '@runts/oci';
import { RuntsError } from '@runts/errors';
import { errnoOf, type Sys } from '@runts/sys';
import { encodePlan } from './plan/encode';
import { CLONE, MOUNT_ATTR, PR, SIGKILL } from './plan/flags';
import type { IdmapMount } from './plan/idmap';
import { SyncTag } from './plan/ops';
import { sleepMs } from './proc';

const formatMap = (m: LinuxIdMapping[]) => m.map((e) => `${e.containerID} ${e.hostID} ${e.size}\n`).join('');

function fail(path: string, what: string, e: unknown): RuntsError {
  const err = e as NodeJS.ErrnoException & { detail?: { errno?: string } };
  const code = err.detail?.errno ?? err.code ?? 'EIO';
  return new RuntsError('ERR_SYSCALL', `${path}: ${what}: ${err.detail ? err.message : code}`, { path, errno: code });
}

/** A user namespace with the given maps, as an fd: Node cannot unshare one
 * (it is multithreaded), so a stage child is cloned into a new one and waits
 * at a SYNC while its maps are written and its namespace opened, then dies. */
function mappedUserns(sys: Sys, uid: LinuxIdMapping[], gid: LinuxIdMapping[], path: string): number {
  const [mine, theirs] = sys.socketpair();
  let pidfd = -1;
  try {
    const ops = [
      { op: 'PRCTL' as const, args: [PR.SET_PDEATHSIG, SIGKILL, 0, 0, 0], path, what: 'die with the runtime' },
      { op: 'SYNC' as const, args: [SyncTag.SETUP], path, what: 'wait while the runtime opens the user namespace' },
    ];
    const child = sys.spawn(encodePlan(ops, theirs, 4, mine), BigInt(CLONE.NEWUSER));
    pidfd = child.pidfd;
    for (const [file, map, field] of [['uid_map', uid, 'uidMappings'], ['gid_map', gid, 'gidMappings']] as const) {
      try {
        sys.writeFile(`/proc/${child.pid}/${file}`, formatMap(map));
      } catch (e) {
        throw fail(`${path}.${field}`, `write ${file} of the idmap user namespace`, { code: errnoOf(e) });
      }
    }
    return sys.open(`/proc/${child.pid}/ns/user`, 0 /* O_RDONLY */);
  } finally {
    sys.close(mine);
    sys.close(theirs);
    if (pidfd >= 0) {
      try {
        sys.pidfdSendSignal(pidfd, SIGKILL);
        for (let i = 0; i < 5000 && !sys.tryWaitPidfd(pidfd); i++) sleepMs(1);
      } finally {
        sys.close(pidfd);
      }
    }
  }
}

/** Detached idmapped copies of each mount's source, by mount index. The
 * caller closes them once the init has its copies. */
export function openIdmapTrees(sys: Sys, mounts: IdmapMount[]): Map<number, number> {
  const trees = new Map<number, number>();
  if (mounts.length === 0) return trees;
  const first = `mounts[${mounts[0]!.index}]`;
  if (sys.geteuid() !== 0) {
    throw new RuntsError('ERR_UNSUPPORTED', `${first}: idmapped mounts need CAP_SYS_ADMIN in the host's user namespace, which a rootless runtime lacks`, { path: first });
  }
  try {
    for (const m of mounts) {
      const path = `mounts[${m.index}]`;
      const userns = mappedUserns(sys, m.uidMappings, m.gidMappings, path);
      try {
        let tree: number;
        try {
          tree = sys.openTree(m.source, m.tree);
        } catch (e) {
          throw fail(path, `open_tree ${m.source}`, e);
        }
        trees.set(m.index, tree);
        try {
          sys.mountSetattr(tree, m.recursive, { set: MOUNT_ATTR.IDMAP, clr: 0, usernsFd: userns });
        } catch (e) {
          const why = (e as RuntsError).detail?.errno === 'EINVAL' ? ' (does the filesystem support idmapped mounts?)' : '';
          throw fail(path, `idmap ${m.source}${why}`, e);
        }
      } finally {
        sys.close(userns);
      }
    }
  } catch (e) {
    for (const fd of trees.values()) sys.close(fd);
    throw e;
  }
  return trees;
}
