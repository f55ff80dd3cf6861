import { openSync, closeSync } from 'node:fs';
import { RuntsError } from '@runts/errors';
import type { LinuxResources } from '@runts/oci';
import { DEFAULT_DEVICE_RULES } from './v1';

// cgroup v2 has no devices files: access is decided by an eBPF program of type
// BPF_PROG_TYPE_CGROUP_DEVICE attached to the container's cgroup directory.

/** One eBPF instruction: opcode, registers, 16-bit offset, 32-bit immediate. */
export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

// Instruction classes, operations and sources (linux/bpf.h).
export const BPF = {
  LDX_MEM_W: 0x61,
  ALU64_AND_K: 0x57,
  ALU64_RSH_K: 0x77,
  ALU64_MOV_K: 0xb7,
  ALU64_MOV_X: 0xbf,
  JMP_JA: 0x05,
  JMP_JEQ_K: 0x15,
  JMP_JNE_K: 0x55,
  JMP_EXIT: 0x95,
} as const;

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;
// bpf_cgroup_dev_ctx.access_type = access << 16 | type.
export const DEV_BLOCK = 1;
export const DEV_CHAR = 2;
export const ACC_MKNOD = 1;
export const ACC_READ = 2;
export const ACC_WRITE = 4;

/** A tiny assembler: instructions and jumps to named labels, resolved at the end. */
export class Assembler {
  private readonly insns: (Insn & { target?: string })[] = [];
  private readonly labels = new Map<string, number>();

  emit(code: number, dst = 0, src = 0, off = 0, imm = 0): this {
    this.insns.push({ code, dst, src, off, imm });
    return this;
  }

  /** A conditional or plain jump whose offset is filled in when the label is placed. */
  jump(code: number, dst: number, imm: number, target: string): this {
    this.insns.push({ code, dst, src: 0, off: 0, imm, target });
    return this;
  }

  label(name: string): this {
    if (this.labels.has(name)) throw new Error(`label ${name} placed twice`);
    this.labels.set(name, this.insns.length);
    return this;
  }

  program(): Insn[] {
    return this.insns.map((i, pc) => {
      if (i.target === undefined) return { code: i.code, dst: i.dst, src: i.src, off: i.off, imm: i.imm };
      const at = this.labels.get(i.target);
      if (at === undefined) throw new Error(`label ${i.target} never placed`);
      // Offsets count from the instruction after the jump.
      const off = at - pc - 1;
      if (off < 0 || off > 0x7fff) throw new Error(`jump to ${i.target} out of range`);
      return { code: i.code, dst: i.dst, src: i.src, off, imm: i.imm };
    });
  }
}

/** 8 bytes per instruction, little endian, as bpf(BPF_PROG_LOAD) takes them. */
export function encode(prog: Insn[]): Uint8Array {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((i, n) => {
    b.writeUInt8(i.code, n * 8);
    b.writeUInt8(((i.src & 0xf) << 4) | (i.dst & 0xf), n * 8 + 1);
    b.writeInt16LE(i.off, n * 8 + 2);
    b.writeInt32LE(i.imm, n * 8 + 4);
  });
  return b;
}

export function decode(bytes: Uint8Array): Insn[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Insn[] = [];
  for (let n = 0; n + 8 <= b.length; n += 8) {
    const regs = b.readUInt8(n + 1);
    out.push({ code: b.readUInt8(n), dst: regs & 0xf, src: regs >> 4, off: b.readInt16LE(n + 2), imm: b.readInt32LE(n + 4) });
  }
  return out;
}

type DeviceRule = NonNullable<LinuxResources['devices']>[number];

function accessBits(access: string | undefined, path: string): number {
  let bits = 0;
  for (const ch of access ?? 'rwm') {
    if (ch === 'r') bits |= ACC_READ;
    else if (ch === 'w') bits |= ACC_WRITE;
    else if (ch === 'm') bits |= ACC_MKNOD;
    else throw new RuntsError('ERR_CONFIG_INVALID', `${path}.access: "${access}" has "${ch}"; only r, w and m are allowed`, { path: `${path}.access` });
  }
  return bits;
}

/** The rules v1 writes to devices.allow, as OCI device entries: the same defaults on v2. */
function defaultRules(): DeviceRule[] {
  return DEFAULT_DEVICE_RULES.map((r) => {
    const [type, nums, access] = r.split(' ') as [string, string, string];
    const [maj, min] = nums.split(':');
    const n = (s: string | undefined) => (s === '*' || s === undefined ? undefined : Number(s));
    const rule: DeviceRule = { allow: true, type, access };
    const major = n(maj);
    const minor = n(min);
    if (major !== undefined) rule.major = major;
    if (minor !== undefined) rule.minor = minor;
    return rule;
  });
}

/** The device program for linux.resources.devices: the last rule that matches
 * decides (as v1's allow/deny files do); nothing matching means deny. An allow
 * rule matches when it grants every access asked for, a deny rule when it
 * forbids any of them. */
export function deviceProgram(devices: DeviceRule[], withDefaults = true): Insn[] {
  const rules = withDefaults ? [...devices, ...defaultRules()] : devices;
  const a = new Assembler();
  // r2 = type, r3 = access, r4 = major, r5 = minor; r1 holds the context.
  a.emit(BPF.LDX_MEM_W, 2, 1, 0)
    .emit(BPF.ALU64_AND_K, 2, 0, 0, 0xffff)
    .emit(BPF.LDX_MEM_W, 3, 1, 0)
    .emit(BPF.ALU64_RSH_K, 3, 0, 0, 16)
    .emit(BPF.LDX_MEM_W, 4, 1, 4)
    .emit(BPF.LDX_MEM_W, 5, 1, 8);
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    const path = `linux.resources.devices[${i}]`;
    const next = `rule${i}`;
    const bits = accessBits(r.access, path);
    const type = r.type === undefined || r.type === 'a' ? undefined : r.type === 'c' || r.type === 'u' ? DEV_CHAR : r.type === 'b' ? DEV_BLOCK : -1;
    if (type === -1) throw new RuntsError('ERR_CONFIG_INVALID', `${path}.type: "${r.type}" is not a, b or c`, { path: `${path}.type` });
    if (type !== undefined) a.jump(BPF.JMP_JNE_K, 2, type, next);
    a.emit(BPF.ALU64_MOV_X, 6, 3);
    if (r.allow) {
      // Asked-for bits the rule does not grant: no match.
      a.emit(BPF.ALU64_AND_K, 6, 0, 0, ~bits & 7).jump(BPF.JMP_JNE_K, 6, 0, next);
    } else {
      a.emit(BPF.ALU64_AND_K, 6, 0, 0, bits).jump(BPF.JMP_JEQ_K, 6, 0, next);
    }
    if (r.major !== undefined && r.major >= 0) a.jump(BPF.JMP_JNE_K, 4, r.major, next);
    if (r.minor !== undefined && r.minor >= 0) a.jump(BPF.JMP_JNE_K, 5, r.minor, next);
    a.emit(BPF.ALU64_MOV_K, 0, 0, 0, r.allow ? 1 : 0).emit(BPF.JMP_EXIT);
    a.label(next);
  }
  a.emit(BPF.ALU64_MOV_K, 0, 0, 0, 0).emit(BPF.JMP_EXIT);
  return a.program();
}

/** The syscalls loading needs; packages/sys's LinuxSys has them. */
export interface BpfSys {
  bpfProgLoad(progType: number, insns: Uint8Array, license: string): number;
  bpfProgAttach(progFd: number, targetFd: number, attachType: number, flags: number): void;
  close(fd: number): void;
}

/** Loads the program and attaches it to a cgroup v2 directory. */
export function attachDeviceProgram(sys: BpfSys, dir: string, prog: Insn[]): void {
  let dirFd: number;
  try {
    dirFd = openSync(dir, 'r');
  } catch (e) {
    throw new RuntsError('ERR_CGROUP', `linux.resources.devices: open ${dir}: ${(e as NodeJS.ErrnoException).code}`, { path: 'linux.resources.devices', file: dir });
  }
  try {
    const progFd = sys.bpfProgLoad(BPF_PROG_TYPE_CGROUP_DEVICE, encode(prog), 'Apache');
    try {
      sys.bpfProgAttach(progFd, dirFd, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI);
    } finally {
      sys.close(progFd);
    }
  } finally {
    closeSync(dirFd);
  }
}
