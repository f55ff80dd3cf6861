import { RuntsError, configError } from '@runts/errors';
import { checkProcess as processValid, checkSpec as specValid } from './gen/check';
import { CAPABILITIES, HOOK_KINDS, NAMESPACE_TYPES, PROPAGATIONS, RLIMITS } from './names';
import type { Process, Spec } from './schema';

/** `/process/args/0` → `process.args[0]`. */
export function jsonPath(pointer: string, prefix = ''): string {
  let out = prefix;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(key)) out += `[${key}]`;
    else out += out ? `.${key}` : key;
  }
  return out || prefix || '(root)';
}

function say(message: string): string {
  if (message === 'Expected required property') return 'is required';
  const m = /^Expected (?:an? )?(\w+)$/.exec(message);
  if (m) return `must be ${/^[aeiou]/.test(m[1]!) ? 'an' : 'a'} ${m[1]}`;
  return message.replace(/^Expected /, 'must be ');
}

/** The precompiled check decides; TypeBox is loaded only to explain a failure. */
function schemaCheck<T>(valid: (v: unknown) => boolean, which: 'SpecSchema' | 'ProcessSchema', value: unknown, prefix: string): T {
  if (valid(value)) return value as T;
  const { Value } = require('@sinclair/typebox/value') as typeof import('@sinclair/typebox/value');
  const schema = (require('./schema') as typeof import('./schema'))[which];
  // The deepest error names the field best: a wrong type inside an array beats "array invalid".
  const first = [...Value.Errors(schema, value)].sort((a, b) => b.path.length - a.path.length)[0];
  const path = first ? jsonPath(first.path, prefix) : prefix || 'config.json';
  throw configError(path, first ? say(first.message) : 'is invalid');
}

export function parseConfig(text: string): Spec {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RuntsError('ERR_CONFIG_INVALID', `config.json: invalid JSON: ${(e as Error).message}`, { path: 'config.json' });
  }
  return validateConfig(value);
}

export function validateConfig(value: unknown): Spec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw configError('config.json', 'must be a JSON object');
  const spec = schemaCheck<Spec>(specValid, 'SpecSchema', value, '');
  if (spec.process) checkProcess(spec.process, 'process');
  checkLinux(spec);
  checkHooks(spec);
  (spec.mounts ?? []).forEach((m, i) => {
    if (m.destination === '') throw configError(`mounts[${i}].destination`, 'must not be empty');
  });
  return spec;
}

/** For `exec --process`: the same rules as config.json's process. */
export function validateProcess(value: unknown, path = 'process'): Process {
  const p = schemaCheck<Process>(processValid, 'ProcessSchema', value, path);
  checkProcess(p, path);
  return p;
}

const abs = (p: string) => p.startsWith('/');

function checkProcess(p: Process, path: string): void {
  if (!p.args || p.args.length === 0) throw configError(`${path}.args`, 'must be a non-empty array');
  if (!abs(p.cwd)) throw configError(`${path}.cwd`, `must be an absolute path, not "${p.cwd}"`);
  for (const [set, names] of Object.entries(p.capabilities ?? {})) {
    (names ?? []).forEach((n, i) => {
      if (CAPABILITIES[n] === undefined) throw configError(`${path}.capabilities.${set}[${i}]`, `unknown capability "${n}"`);
    });
  }
  const seen = new Set<string>();
  (p.rlimits ?? []).forEach((r, i) => {
    if (RLIMITS[r.type] === undefined) throw configError(`${path}.rlimits[${i}].type`, `unknown rlimit "${r.type}"`);
    if (seen.has(r.type)) throw configError(`${path}.rlimits[${i}].type`, `${r.type} is given twice`);
    if (r.soft > r.hard) throw configError(`${path}.rlimits[${i}]`, 'soft limit is above the hard limit');
    seen.add(r.type);
  });
  if (p.oomScoreAdj !== undefined && (p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)) {
    throw configError(`${path}.oomScoreAdj`, 'must be between -1000 and 1000');
  }
}

function checkLinux(spec: Spec): void {
  const linux = spec.linux;
  if (!linux) return;
  const types = new Map<string, { index: number; path?: string }>();
  (linux.namespaces ?? []).forEach((ns, i) => {
    const p = `linux.namespaces[${i}]`;
    if (!(NAMESPACE_TYPES as readonly string[]).includes(ns.type)) throw configError(`${p}.type`, `unknown namespace type "${ns.type}"`);
    if (types.has(ns.type)) throw configError(`${p}.type`, `namespace "${ns.type}" is given twice`);
    if (ns.path !== undefined && !abs(ns.path)) throw configError(`${p}.path`, `must be an absolute path, not "${ns.path}"`);
    types.set(ns.type, { index: i, ...(ns.path !== undefined ? { path: ns.path } : {}) });
  });
  if ((linux.uidMappings?.length || linux.gidMappings?.length) && !types.has('user')) {
    throw configError(linux.uidMappings?.length ? 'linux.uidMappings' : 'linux.gidMappings', 'needs a user namespace');
  }
  // The runtime-spec asks for a UTS namespace entry, new or joined by path; with none they would rename the host.
  if (spec.hostname !== undefined && spec.hostname !== '' && !types.has('uts')) throw configError('hostname', 'needs a UTS namespace (new or joined)');
  if (spec.domainname !== undefined && spec.domainname !== '' && !types.has('uts')) throw configError('domainname', 'needs a UTS namespace (new or joined)');
  if (linux.rootfsPropagation !== undefined && !(PROPAGATIONS as readonly string[]).includes(linux.rootfsPropagation)) {
    throw configError('linux.rootfsPropagation', `unknown propagation "${linux.rootfsPropagation}"`);
  }
  for (const clock of Object.keys(linux.timeOffsets ?? {})) {
    if (clock !== 'monotonic' && clock !== 'boottime') throw configError(`linux.timeOffsets.${clock}`, 'only monotonic and boottime have offsets');
  }
  (linux.devices ?? []).forEach((d, i) => {
    const p = `linux.devices[${i}]`;
    if (!['c', 'b', 'u', 'p'].includes(d.type)) throw configError(`${p}.type`, `unknown device type "${d.type}"`);
    if (!abs(d.path)) throw configError(`${p}.path`, `must be an absolute path, not "${d.path}"`);
    if (d.type !== 'p' && (d.major === undefined || d.minor === undefined)) throw configError(p, 'major and minor are required for this device type');
  });
  for (const list of ['maskedPaths', 'readonlyPaths'] as const) {
    (linux[list] ?? []).forEach((p, i) => {
      if (!abs(p)) throw configError(`linux.${list}[${i}]`, `must be an absolute path, not "${p}"`);
    });
  }
}

function checkHooks(spec: Spec): void {
  for (const kind of HOOK_KINDS) {
    (spec.hooks?.[kind] ?? []).forEach((h, i) => {
      const p = `hooks.${kind}[${i}]`;
      if (!abs(h.path)) throw configError(`${p}.path`, `must be an absolute path, not "${h.path}"`);
      if (h.timeout !== undefined && h.timeout <= 0) throw configError(`${p}.timeout`, 'must be greater than zero');
    });
  }
}
