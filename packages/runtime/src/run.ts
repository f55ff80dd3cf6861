// run: create and start in one, then (in the foreground) wait, relay a terminal, and delete.
import type { RunOptions } from './options';
import { attachTerminal, terminalSize } from './tty';
import { safeClose, type Ctx } from './context';
import { waitForwarding } from './child';
import { createInit } from './create';
import { start } from './start';
import { deleteContainer } from './delete';

export async function run(ctx: Ctx, id: string, opts: RunOptions): Promise<number> {
  const { pidfd, master } = await createInit(ctx, id, opts, !opts.detach);
  try {
    // The init waits on the exec fifo: the pty gets our terminal's size before the process runs.
    const size = master !== undefined ? terminalSize() : undefined;
    if (size) ctx.sys.setWinsize(master!, size.rows, size.cols);
    await start(ctx, id);
  } catch (e) {
    await deleteContainer(ctx, id, { force: true }).catch(() => undefined);
    safeClose(ctx, pidfd);
    if (master !== undefined) safeClose(ctx, master);
    throw e;
  }
  if (opts.detach) {
    safeClose(ctx, pidfd);
    return 0;
  }
  const code = master !== undefined ? await attachTerminal(ctx.sys, master, waitForwarding(ctx, pidfd, ['SIGWINCH'])) : await waitForwarding(ctx, pidfd);
  ctx.pidfds.delete(id);
  if (!opts.keep) await deleteContainer(ctx, id, { force: true });
  return code;
}
