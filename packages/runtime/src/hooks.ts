import type { Hook } from '@runts/oci';
import { RuntsError } from '@runts/errors';

/** Runs hooks in the runtime's namespaces with the state JSON on stdin. Throws on the first failure. */
export function runHooks(hooks: readonly Hook[] | undefined, kind: string, stateJson: string): void {
  if (!hooks?.length) return;
  // Loaded only when there are hooks: child_process and its streams cost ~5 ms at every start.
  const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
  hooks.forEach((h, i) => {
    const path = `hooks.${kind}[${i}]`;
    const args = h.args && h.args.length > 0 ? h.args : [h.path];
    const r = spawnSync(h.path, args.slice(1), {
      argv0: args[0]!,
      env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=') >>> 0), e.slice(e.indexOf('=') + 1)])),
      input: stateJson,
      stdio: ['pipe', 'inherit', 'inherit'],
      ...(h.timeout ? { timeout: h.timeout * 1000, killSignal: 'SIGKILL' as const } : {}),
    });
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    // A hook may exit without reading its stdin; its exit status still decides.
    if (r.error && !(code === 'EPIPE' && r.status !== null)) {
      if (code === 'ETIMEDOUT') throw new RuntsError('ERR_HOOK', `${path}: hook ${h.path} timed out after ${h.timeout}s`, { path });
      throw new RuntsError('ERR_HOOK', `${path}: hook ${h.path} could not run: ${code ?? r.error.message}`, { path, file: h.path });
    }
    if (r.status !== 0) {
      const how = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.status}`;
      throw new RuntsError('ERR_HOOK', `${path}: hook ${h.path} ${how}`, { path, file: h.path });
    }
  });
}

/** Like runHooks, but a failure is only reported (poststart, poststop: the lifecycle goes on). */
export function runHooksWarn(hooks: readonly Hook[] | undefined, kind: string, stateJson: string, warn: (msg: string) => void): void {
  (hooks ?? []).forEach((h, i) => {
    try {
      runHooks([h], kind, stateJson);
    } catch (e) {
      warn((e as Error).message.replace(`hooks.${kind}[0]`, `hooks.${kind}[${i}]`));
    }
  });
}
