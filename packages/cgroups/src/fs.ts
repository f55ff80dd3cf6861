import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';

/** The file operations cgroup management needs; tests give an in-memory one. */
export interface CgroupFs {
  read(path: string): string;
  write(path: string, data: string): void;
  mkdirp(path: string): void;
  rmdir(path: string): void;
  exists(path: string): boolean;
  list(path: string): string[];
  /** statfs(2) f_type of the filesystem holding path. */
  fsType(path: string): number;
}

export const realFs: CgroupFs = {
  read: (p) => readFileSync(p, 'utf8'),
  write: (p, d) => writeFileSync(p, d),
  mkdirp: (p) => {
    mkdirSync(p, { recursive: true });
  },
  rmdir: (p) => rmdirSync(p),
  exists: (p) => existsSync(p),
  list: (p) => readdirSync(p, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name),
  fsType: (p) => Number(statfsSync(p).type),
};
