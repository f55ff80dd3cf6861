// containerd's rootfs mounts on the bundle: overlay with more lowerdirs than
// a page of mount data holds (relative to their common parent), bind, ro.
import t from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxSys } from '@runts/sys';
import { compactOverlay, mountRootfs, unmountAll } from '../src/containerd';

t.test('compactOverlay: short data as is, long lowerdirs relative to their common parent', async (t) => {
  t.same(compactOverlay(['index=off', 'lowerdir=/a/1:/a/2']), { data: ['index=off', 'lowerdir=/a/1:/a/2'] });
  const lowers = Array.from({ length: 80 }, (_, i) => `/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${i + 1}/fs`);
  const { data, dir } = compactOverlay(['index=off', 'workdir=/w', 'upperdir=/u', `lowerdir=${lowers.join(':')}`]);
  t.equal(dir, '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/');
  t.equal(data[3], `lowerdir=${lowers.map((_, i) => `${i + 1}/fs`).join(':')}`);
  t.same(data.slice(0, 3), ['index=off', 'workdir=/w', 'upperdir=/u'], 'upperdir and workdir stay absolute');
  t.ok(data.join(',').length < 4096 - 512);
});

const root = process.getuid?.() === 0;
t.test('a real overlay of 60 long-named layers, then unmounted', { skip: root ? false : 'needs root' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-mounts-'));
  const sys = new LinuxSys();
  const target = join(dir, 'bundle', 'rootfs');
  t.teardown(() => {
    unmountAll(sys, target);
    rmSync(dir, { recursive: true, force: true });
  });
  const snaps = join(dir, 'a-rather-long-snapshotter-directory-name-to-fill-the-page', 'snapshots');
  const lowers: string[] = [];
  for (let i = 60; i >= 1; i--) {
    const fs = join(snaps, String(i), 'fs');
    mkdirSync(fs, { recursive: true });
    writeFileSync(join(fs, `layer${i}`), String(i));
    lowers.push(fs);
  }
  for (const d of ['upper', 'work']) mkdirSync(join(dir, d));
  const options = ['index=off', `workdir=${join(dir, 'work')}`, `upperdir=${join(dir, 'upper')}`, `lowerdir=${lowers.join(':')}`];
  t.ok(options.join(',').length > 4096, 'more than a page of mount data');
  const cwd = process.cwd();
  mountRootfs(sys, [{ type: 'overlay', source: 'overlay', target: '', options }], target);
  t.equal(process.cwd(), cwd, 'the cwd is back');
  t.equal(readFileSync(join(target, 'layer1'), 'utf8'), '1');
  t.equal(readFileSync(join(target, 'layer60'), 'utf8'), '60');
  unmountAll(sys, target);
  t.notOk(existsSync(join(target, 'layer1')), 'unmounted');
});

t.test('a read-only bind mount', { skip: root ? false : 'needs root' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-mounts-'));
  const sys = new LinuxSys();
  const target = join(dir, 'rootfs');
  t.teardown(() => {
    unmountAll(sys, target);
    rmSync(dir, { recursive: true, force: true });
  });
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'f'), 'x');
  mountRootfs(sys, [{ type: 'bind', source: join(dir, 'src'), target: '', options: ['rbind', 'ro'] }], target);
  t.equal(readFileSync(join(target, 'f'), 'utf8'), 'x');
  t.throws(() => writeFileSync(join(target, 'g'), 'y'), { code: 'EROFS' });
  unmountAll(sys, target);
  t.notOk(existsSync(join(target, 'f')), 'unmounted');
});
