// Files that a writer killed mid-write (kill -9, a crash) never leaves
// half-read, in the two shapes the stack keeps its state in:
// - a journal: each change appended as one JSON line; the last whole line
//   that parses is the state, so a line cut short leaves the one before;
// - a file replaced whole: written aside, then renamed over the old one.
// Neither is fsynced. The data must outlive the process that wrote it, which
// the page cache sees to; only a host crash loses an unsynced write, and that
// takes the containers with it (containerd's shims keep their events in
// memory only). An fsync per write would slow every container operation for
// no case that matters. Appending is preferred where it can be: on ext4 a
// rename over a file starts the writeback of the new one (auto_da_alloc).
import { appendFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Appends rec to the journal as one line; a new journal is made 0600. */
export function appendRecord(file: string, rec: unknown): void {
  appendFileSync(file, JSON.stringify(rec) + '\n', { mode: 0o600 });
}

/** The last line of a journal that parses (and that `valid` accepts), or undefined. */
export function lastRecord<T>(text: string, valid: (v: unknown) => boolean = () => true): T | undefined {
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (!line) continue;
    try {
      const v: unknown = JSON.parse(line);
      if (valid(v)) return v as T;
    } catch {
      // Cut short by a crash: the line before holds the state.
    }
  }
  return undefined;
}

/** Replaces file with data so that a reader sees the old content or the new,
 * never a mix. The temporary file is made with O_EXCL: a symlink left in its
 * place is not followed. */
export function writeAtomic(file: string, data: string | Uint8Array, mode = 0o600): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  rmSync(tmp, { force: true });
  try {
    writeFileSync(tmp, data, { mode, flag: 'wx' });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
