import type { Hook } from '@runts/oci';
import { RuntsError } from '@runts/errors';

/** Children that Node's child_process waits for (hooks running now, the shim's
 * loggers): a subreaper sweeping zombies (the shim) must leave them to it. */
export const nodeChildren = new Set<number>();

/** Runs hooks in the runtime's namespaces with the state JSON on stdin, one
 * after another, off the event loop (a shim serves others meanwhile). Rejects
 * with the first failure. */
export async function runHooks(hooks: readonly Hook[] | undefined, kind: string, stateJson: string): Promise<void> {
  if (!hooks?.length) return;
  for (const [i, h] of hooks.entries()) await runHook(h, `hooks.${kind}[${i}]`, stateJson);
}

function runHook(h: Hook, path: string, stateJson: string): Promise<void> {
  // Loaded only when there are hooks: child_process and its streams would slow every start (bench/NOTES.md).
  const { spawn } = require('node:child_process') as typeof import('node:child_process');
  const args = h.args && h.args.length > 0 ? h.args : [h.path];
  const child = spawn(h.path, args.slice(1), {
    argv0: args[0]!,
    env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=') >>> 0), e.slice(e.indexOf('=') + 1)])),
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  if (child.pid) nodeChildren.add(child.pid);
  // A hook may exit without reading its stdin; its exit status still decides.
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(stateJson);
  return new Promise((resolve, reject) => {
    let timedOut = false;
    const timer = h.timeout
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, h.timeout * 1000)
      : undefined;
    child.once('error', (e: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      reject(new RuntsError('ERR_HOOK', `${path}: hook ${h.path} could not run: ${e.code ?? e.message}`, { path, file: h.path }));
    });
    child.once('exit', (code, signal) => {
      if (child.pid) nodeChildren.delete(child.pid);
      if (timer) clearTimeout(timer);
      if (timedOut) return reject(new RuntsError('ERR_HOOK', `${path}: hook ${h.path} timed out after ${h.timeout}s`, { path }));
      if (code === 0) return resolve();
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      reject(new RuntsError('ERR_HOOK', `${path}: hook ${h.path} ${how}`, { path, file: h.path }));
    });
  });
}

/** Like runHooks, but a failure is only reported (poststart, poststop: the lifecycle goes on). */
export async function runHooksWarn(hooks: readonly Hook[] | undefined, kind: string, stateJson: string, warn: (msg: string) => void): Promise<void> {
  for (const [i, h] of (hooks ?? []).entries()) {
    try {
      await runHook(h, `hooks.${kind}[${i}]`, stateJson);
    } catch (e) {
      warn((e as Error).message);
    }
  }
}
