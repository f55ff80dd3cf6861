import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Hook, Spec, State } from '@runts/oci';
import { RuntsError } from '@runts/errors';
import { NOT_EXIST } from './wording';
import { privateDir } from '@runts/sys/privdir';
import { appendRecord, lastRecord } from '@runts/sys/journal';

export type Status = State['status'];

/** What runts keeps about a container in `<root>/<id>/state.jsonl`. */
export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat at create: tells our process from a reused pid. */
  startTime: string;
  created: string;
  owner: string;
  annotations: Record<string, string>;
  /** Set while create runs; cleared once the init waits on the exec fifo. */
  creating: boolean;
  /** The process running that create (pid, start time): a delete waits for it rather than race its undo. */
  creator?: { pid: number; start: string };
  /** Controller → host cgroup directory, resolved at create. */
  cgroupPaths: Record<string, string>;
  /** Directories create made (parents included), removed again by delete. */
  cgroupCreated: string[];
  /** The init shares the host's (or another's) pid namespace: kill and delete reach every process in the cgroup. */
  sharedPidNs: boolean;
  poststart: Hook[];
  poststop: Hook[];
  /** Without a mount namespace of its own, the container's mounts are in ours: the topmost
   * mount at rootfs before create (null: none), so delete detaches what create put over it. */
  rootMountBase?: number | null;
  /** Created with --no-new-keyring: the init and its exec'd processes keep the caller's session keyring. */
  noNewKeyring?: boolean;
  /** The init's steps after the exec fifo, from plan index `first`: one that fails reports to start through the fifo. */
  lateSteps?: { first: number; steps: { op: string; path: string; what: string; name: string }[] };
}

const ID_RE = /^[\w+.-]+$/;

export function validateId(id: string): void {
  if (!id) throw new RuntsError('ERR_INVALID_ID', 'container id cannot be empty');
  if (!ID_RE.test(id) || id === '.' || id === '..' || id.length > 1024) {
    throw new RuntsError('ERR_INVALID_ID', `invalid container id "${id}": only letters, digits, '_', '+', '-' and '.' are allowed`);
  }
}

/** One directory per container under the runtime's --root, each 0700. */
export class StateStore {
  private trusted = false;

  constructor(readonly root: string) {}

  /** Refuses a root another user could change (see privateDir); a create makes it.
   * False when there is none yet. */
  private trust(create: boolean): boolean {
    if (this.trusted) return true;
    if (!create && !existsSync(this.root)) return false;
    privateDir(this.root, '--root', { create });
    this.trusted = true;
    return true;
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  /** The state file (see save). */
  file(id: string): string {
    return join(this.dir(id), 'state.jsonl');
  }

  fifo(id: string): string {
    return join(this.dir(id), 'exec.fifo');
  }

  /** Claims the id: mkdir is atomic, so only one create wins. */
  claim(id: string): string {
    validateId(id);
    this.trust(true);
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new RuntsError('ERR_EXISTS', `container with id "${id}" already exists`);
      }
      throw new RuntsError('ERR_IO', `create state directory ${dir}: ${(e as Error).message}`, { file: dir });
    }
    return dir;
  }

  /** Appends the record to the state's journal (@runts/sys/journal). */
  save(rec: ContainerRecord): void {
    appendRecord(this.file(rec.id), rec);
  }

  load(id: string): ContainerRecord {
    validateId(id);
    this.trust(false);
    let text: string;
    try {
      text = readFileSync(this.file(id), 'utf8');
    } catch {
      throw new RuntsError('ERR_NOT_FOUND', NOT_EXIST);
    }
    const rec = lastRecord<ContainerRecord>(text);
    if (rec) return rec;
    throw new RuntsError('ERR_IO', `container "${id}": state file is damaged`, { file: this.file(id) });
  }

  /** The config.json the container was created from. */
  config(id: string): Spec {
    return JSON.parse(readFileSync(join(this.dir(id), 'config.json'), 'utf8')) as Spec;
  }

  /** The id's dir exists but holds no state: its create died before saving any. */
  isBare(id: string): boolean {
    validateId(id);
    return this.trust(false) && existsSync(this.dir(id)) && !existsSync(this.file(id));
  }

  ids(): string[] {
    if (!this.trust(false)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(this.file(d.name)))
      .map((d) => d.name)
      .sort();
  }

  remove(id: string): void {
    rmSync(this.dir(id), { recursive: true, force: true });
  }
}
