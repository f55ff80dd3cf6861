import type { LinuxResources } from '@runts/oci';

// Engines fill every numeric field, with 0 meaning "not set" (docker sends
// blockIO.weight 0, cpu.shares 0, cpu.period 0 on every create and update).
// Writing those zeros fails (blkio weight ERANGE, cfs period EINVAL) or clamps
// (cpu.shares → 2), so like runc we treat 0 as absent for these fields.

type Obj = Record<string, unknown>;

const ZERO_IS_UNSET: Record<string, readonly string[]> = {
  memory: ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'],
  cpu: ['shares', 'quota', 'period', 'realtimePeriod', 'realtimeRuntime'],
  blockIO: ['weight', 'leafWeight'],
};

function dropZeros(o: Obj, keys: readonly string[]): Obj {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => !(keys.includes(k) && v === 0)));
}

/** The resources without the zero fields that mean "leave it as it is". */
export function withoutUnset(r: LinuxResources): LinuxResources {
  const out: Obj = { ...r };
  for (const [section, keys] of Object.entries(ZERO_IS_UNSET)) {
    const s = out[section] as Obj | undefined;
    if (s) out[section] = dropZeros(s, keys);
  }
  if (r.blockIO?.weightDevice) {
    (out['blockIO'] as Obj)['weightDevice'] = r.blockIO.weightDevice
      .map((d) => dropZeros(d as Obj, ['weight', 'leafWeight']))
      .filter((d) => d['weight'] !== undefined || d['leafWeight'] !== undefined);
  }
  return out as LinuxResources;
}
