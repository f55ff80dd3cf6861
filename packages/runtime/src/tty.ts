import { closeSync, createReadStream, createWriteStream } from 'node:fs';
import type { Sys } from '@runts/sys';

/** The size of the user's terminal (stdout), if it is one. */
export function terminalSize(): { rows: number; cols: number } | undefined {
  const out = process.stdout;
  return out.isTTY && out.rows > 0 && out.columns > 0 ? { rows: out.rows, cols: out.columns } : undefined;
}

/** Connects the user's terminal to a container's pty master until `done`
 * settles: raw mode, window size kept in step, terminal restored after. */
export async function attachTerminal(sys: Sys, master: number, done: Promise<number>): Promise<number> {
  const stdin = process.stdin;
  const stdout = process.stdout;
  const raw = stdin.isTTY === true;
  const resize = () => {
    if (stdout.isTTY) sys.setWinsize(master, stdout.rows, stdout.columns);
  };
  resize();
  process.on('SIGWINCH', resize);
  if (raw) stdin.setRawMode(true);
  const output = createReadStream('', { fd: master, autoClose: false });
  // EIO on the master means the container closed its side: the end of output.
  const drained = new Promise<void>((res) => {
    output.on('end', res);
    output.on('error', () => res());
  });
  output.pipe(stdout, { end: false });
  const input = createWriteStream('', { fd: master, autoClose: false });
  input.on('error', () => undefined);
  stdin.pipe(input);
  try {
    const code = await done;
    await Promise.race([drained, new Promise((res) => setTimeout(res, 200))]);
    return code;
  } finally {
    process.off('SIGWINCH', resize);
    stdin.unpipe(input);
    if (raw) stdin.setRawMode(false);
    stdin.pause();
    output.destroy();
    try {
      closeSync(master);
    } catch {
      // the read stream may have closed it already
    }
  }
}
