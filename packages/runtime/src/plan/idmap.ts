import { isAbsolute, join } from 'node:path';
import type { LinuxIdMapping, Spec } from '@runts/oci';
import { configError } from '@runts/errors';
import { MS } from './flags';
import { parseMountOptions } from './mountopts';

/** An idmapped bind mount the runtime prepares before the clone: a detached
 * copy of `source` (open_tree) made idmapped with a user namespace holding the
 * mappings; the container then only attaches it (MOVE_MOUNT_IN_ROOT). */
export interface IdmapMount {
  /** Index in config.json's mounts. */
  index: number;
  source: string;
  /** rbind: the copy takes the submounts along. */
  tree: boolean;
  /** ridmap: the submounts are idmapped too. */
  recursive: boolean;
  uidMappings: LinuxIdMapping[];
  gidMappings: LinuxIdMapping[];
}

/** The idmapped mounts of a config (mount uidMappings/gidMappings, or the
 * idmap/ridmap options with the container's own mappings, as runtime-spec 1.2 says). */
export function idmapMounts(spec: Spec, bundle: string): IdmapMount[] {
  const out: IdmapMount[] = [];
  (spec.mounts ?? []).forEach((m, index) => {
    const path = `mounts[${index}]`;
    const opts = parseMountOptions(m.options);
    const hasMaps = m.uidMappings !== undefined || m.gidMappings !== undefined;
    if (!opts.idmap && !hasMaps) return;
    const bind = m.type === 'bind' || (opts.flags & MS.BIND) !== 0;
    if (!bind) throw configError(`${path}.type`, 'idmapped mounts are only supported for bind mounts');
    if (!m.source) throw configError(`${path}.source`, 'a bind mount needs a source');
    if (hasMaps && (!m.uidMappings?.length || !m.gidMappings?.length)) {
      throw configError(path, 'an idmapped mount needs both uidMappings and gidMappings');
    }
    const uid = m.uidMappings?.length ? m.uidMappings : spec.linux?.uidMappings;
    const gid = m.gidMappings?.length ? m.gidMappings : spec.linux?.gidMappings;
    if (!uid?.length || !gid?.length) {
      throw configError(`${path}.options`, 'idmap without the mount\'s uidMappings and gidMappings uses linux.uidMappings and linux.gidMappings, and the config has none');
    }
    out.push({
      index,
      source: isAbsolute(m.source) ? m.source : join(bundle, m.source),
      tree: (opts.flags & MS.REC) !== 0,
      recursive: opts.idmap?.recursive ?? false,
      uidMappings: uid,
      gidMappings: gid,
    });
  });
  return out;
}
