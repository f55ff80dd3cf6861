// The v2 device program: assembled in TypeScript, checked here by running it
// in a small eBPF interpreter on sample devices (no kernel, no root).
import t from 'tap';
import { MemFs } from './memfs';
import { newManager, ACC_MKNOD, ACC_READ, ACC_WRITE, Assembler, BPF, DEV_BLOCK, DEV_CHAR, decode, deviceProgram, encode, attachDeviceProgram, type BpfSys, type Insn } from '../src/index';

/** Runs a program over a bpf_cgroup_dev_ctx {access_type, major, minor}; returns r0. */
function run(prog: Insn[], ctx: { type: number; access: number; major: number; minor: number }): number {
  const mem = Buffer.alloc(12);
  mem.writeUInt32LE((ctx.access << 16) | ctx.type, 0);
  mem.writeUInt32LE(ctx.major, 4);
  mem.writeUInt32LE(ctx.minor, 8);
  const r = new Array<bigint>(11).fill(0n);
  const CTX = 1n << 40n; // a pointer value; only loads through r1 + off are allowed
  r[1] = CTX;
  const u64 = (v: bigint) => BigInt.asUintN(64, v);
  for (let pc = 0, steps = 0; pc < prog.length; pc++) {
    if (++steps > 100_000) throw new Error('no exit');
    const i = prog[pc]!;
    const imm = u64(BigInt(i.imm)); // sign-extended, as the kernel does
    const cls = i.code & 0x07;
    if (cls === 0x01) {
      // LDX MEM: only 32-bit words of the context
      if (i.code !== BPF.LDX_MEM_W) throw new Error(`bad load ${i.code}`);
      const off = Number(r[i.src]! - CTX) + i.off;
      if (r[i.src]! < CTX || off < 0 || off + 4 > 12) throw new Error(`load out of the context at ${pc}`);
      r[i.dst] = BigInt(mem.readUInt32LE(off));
      continue;
    }
    if (cls === 0x07) {
      const src = i.code & 0x08 ? r[i.src]! : imm;
      const op = i.code & 0xf0;
      if (op === 0x50) r[i.dst] = r[i.dst]! & src;
      else if (op === 0x70) r[i.dst] = r[i.dst]! >> (src & 63n);
      else if (op === 0xb0) r[i.dst] = src;
      else throw new Error(`bad alu ${i.code}`);
      continue;
    }
    if (cls === 0x05) {
      const op = i.code & 0xf0;
      if (op === 0x90) return Number(r[0]);
      const src = i.code & 0x08 ? r[i.src]! : imm;
      const take = op === 0x00 ? true : op === 0x10 ? r[i.dst] === src : op === 0x50 ? r[i.dst] !== src : undefined;
      if (take === undefined) throw new Error(`bad jump ${i.code}`);
      if (take) pc += i.off;
      continue;
    }
    throw new Error(`bad class ${cls} at ${pc}`);
  }
  throw new Error('fell off the end');
}

const c = (major: number, minor: number, access = ACC_READ | ACC_WRITE) => ({ type: DEV_CHAR, access, major, minor });
const b = (major: number, minor: number, access = ACC_READ) => ({ type: DEV_BLOCK, access, major, minor });

t.test('assembler: labels become forward offsets; encode and decode agree', async (t) => {
  const prog = new Assembler()
    .emit(BPF.ALU64_MOV_K, 0, 0, 0, 7)
    .jump(BPF.JMP_JEQ_K, 0, 7, 'out')
    .emit(BPF.ALU64_MOV_K, 0, 0, 0, 1)
    .label('out')
    .emit(BPF.JMP_EXIT)
    .program();
  t.equal(prog[1]!.off, 1);
  t.equal(run(prog, c(0, 0)), 7);
  const bytes = encode(prog);
  t.equal(bytes.byteLength, 32);
  t.same(Array.from(bytes.subarray(8, 16)), [0x15, 0x00, 0x01, 0x00, 0x07, 0x00, 0x00, 0x00], 'jeq r0, 7, +1');
  t.same(decode(bytes), prog);
  t.throws(() => new Assembler().jump(BPF.JMP_JA, 0, 0, 'nowhere').program(), /never placed/);
});

t.test('deny all, then allow one device (the default spec plus a GPU-like rule)', async (t) => {
  const prog = deviceProgram([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }]);
  t.equal(run(prog, c(10, 229)), 1, 'c 10:229 rw allowed');
  t.equal(run(deviceProgram([{ allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }], false), c(10, 229, ACC_MKNOD)), 0, 'without the defaults, no mknod');
  t.equal(run(prog, c(10, 230)), 0, 'another minor denied');
  t.equal(run(prog, b(8, 0)), 0, 'block devices denied');
  t.equal(run(prog, c(1, 3)), 1, '/dev/null allowed by the defaults');
  t.equal(run(prog, c(136, 5)), 1, 'pty slaves allowed by the defaults (136:*)');
  t.equal(run(prog, c(1, 1, ACC_MKNOD)), 1, 'mknod of any char device (c *:* m)');
  t.equal(run(prog, c(1, 1, ACC_READ)), 0, 'but not reading /dev/mem');
});

t.test('the last matching rule wins; deny rules match any overlap', async (t) => {
  const rules = [
    { allow: true, access: 'rwm' },
    { allow: false, type: 'b', major: 8, access: 'w' },
  ];
  const prog = deviceProgram(rules, false);
  t.equal(run(prog, b(8, 1, ACC_READ)), 1, 'read of sd* still allowed');
  t.equal(run(prog, b(8, 1, ACC_READ | ACC_WRITE)), 0, 'read+write denied: the deny rule overlaps');
  t.equal(run(prog, b(9, 1, ACC_WRITE)), 1, 'other majors untouched');
  const again = deviceProgram([...rules, { allow: true, type: 'b', major: 8, minor: 1, access: 'rw' }], false);
  t.equal(run(again, b(8, 1, ACC_READ | ACC_WRITE)), 1, 'a later allow overrides');
  t.equal(run(again, b(8, 2, ACC_WRITE)), 0);
  t.equal(run(deviceProgram([], false), c(1, 3)), 0, 'no rules: deny');
});

t.test('wildcards and type a', async (t) => {
  const prog = deviceProgram([{ allow: true, type: 'c', major: 4, access: 'r' }, { allow: true, type: 'a', minor: 7, access: 'w' }], false);
  t.equal(run(prog, c(4, 99, ACC_READ)), 1, 'c 4:* r');
  t.equal(run(prog, c(4, 99, ACC_WRITE)), 0);
  t.equal(run(prog, b(3, 7, ACC_WRITE)), 1, 'a *:7 w matches block too');
  t.equal(run(prog, c(4, 7, ACC_READ | ACC_WRITE)), 0, 'neither rule grants both');
});

t.test('bad rules name the JSON path', async (t) => {
  t.throws(() => deviceProgram([{ allow: true, access: 'rx' }]), { code: 'ERR_CONFIG_INVALID', message: /linux\.resources\.devices\[0\]\.access/ });
  t.throws(() => deviceProgram([{ allow: true, type: 'p', access: 'r' }]), { message: /devices\[0\]\.type/ });
});

t.test('the loader loads, attaches to the cgroup dir fd, and closes the program', async (t) => {
  const calls: unknown[][] = [];
  const sys: BpfSys = {
    bpfProgLoad: (type, insns, lic) => (calls.push(['load', type, insns.byteLength % 8, lic]), 99),
    bpfProgAttach: (prog, target, attach, flags) => void calls.push(['attach', prog, typeof target, attach, flags]),
    close: (fd) => void calls.push(['close', fd]),
  };
  attachDeviceProgram(sys, '/', deviceProgram([]));
  t.same(calls, [['load', 15, 0, 'Apache'], ['attach', 99, 'number', 6, 2], ['close', 99]]);
  t.throws(() => attachDeviceProgram(sys, '/nonexistent-runts-dir', []), { code: 'ERR_CGROUP', message: /open \/nonexistent-runts-dir: ENOENT/ });
});

t.test('a v2 manager attaches the device program on set; without bpf only deny-all passes', async (t) => {
  const fs = new MemFs(true, { '/sys/fs/cgroup': ['cgroup.procs'] });
  const loaded: number[] = [];
  const bpf: BpfSys = { bpfProgLoad: (_t, insns) => (loaded.push(insns.byteLength / 8), 5), bpfProgAttach: () => undefined, close: () => undefined };
  const m = newManager({ cgroupsPath: '/', id: 'c', fs, ownCgroup: '0::/', bpf });
  m.set({ devices: [{ allow: false, access: 'rwm' }] });
  t.equal(loaded.length, 1);
  t.equal(loaded[0], deviceProgram([{ allow: false, access: 'rwm' }]).length);
  const bare = newManager({ cgroupsPath: '/', id: 'c', fs, ownCgroup: '0::/' });
  bare.set({ devices: [{ allow: false, access: 'rwm' }] });
  t.throws(() => bare.set({ devices: [{ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' }] }), { code: 'ERR_UNSUPPORTED', message: /linux\.resources\.devices/ });
});
