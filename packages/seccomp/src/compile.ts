import { configError } from '@runts/errors';
import type { LinuxSeccomp } from '@runts/oci';
import { Assembler, BPF, encode, type Label } from './bpf';
import { SYSCALLS } from './gen/syscalls';

const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0x00000000,
  TRAP: 0x00030000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  TRACE: 0x7ff00000,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
} as const;

export const FILTER_FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 8,
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 16,
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 32,
};

export const ACTIONS = [
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
] as const;

export const OPERATORS = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'] as const;

interface ArchInfo {
  audit: number;
  table: string;
  /** x86_64 and x32 share AUDIT_ARCH_X86_64; the x32 bit tells them apart. */
  x32?: boolean;
}

const ARCHES: Record<string, ArchInfo> = {
  SCMP_ARCH_X86_64: { audit: 0xc000003e, table: 'x86_64' },
  SCMP_ARCH_X86: { audit: 0x40000003, table: 'x86' },
  SCMP_ARCH_X32: { audit: 0xc000003e, table: 'x32', x32: true },
  SCMP_ARCH_AARCH64: { audit: 0xc00000b7, table: 'aarch64' },
};
export const SUPPORTED_ARCHES = Object.keys(ARCHES);

// libseccomp's other architectures: valid in a profile, but no process of
// theirs can run on this machine, so they need no rules (podman lists them).
const KNOWN_ARCHES = new Set(
  ['ARM', 'LOONGARCH64', 'M68K', 'MIPS', 'MIPS64', 'MIPS64N32', 'MIPSEL', 'MIPSEL64', 'MIPSEL64N32', 'PPC', 'PPC64', 'PPC64LE', 'S390', 'S390X', 'PARISC', 'PARISC64', 'RISCV64', 'SH', 'SHEB'].map((a) => `SCMP_ARCH_${a}`),
);

const NATIVE: Record<string, string> = { x64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };

/** The number of a syscall on this machine (for raw calls the runtime makes). */
export function syscallNumber(name: string, machine: string = process.arch): number {
  const table = ARCHES[NATIVE[machine] ?? '']?.table;
  const nr = table ? SYSCALLS[table]?.[name] : undefined;
  if (nr === undefined) throw new Error(`no syscall ${name} on ${machine}`);
  return nr;
}
const X32_BIT = 0x40000000;
const EPERM = 1;

// struct seccomp_data: nr, arch, instruction_pointer, args[6] (u64 each).
const OFF_NR = 0;
const OFF_ARCH = 4;
const argLo = (i: number) => 16 + i * 8;
const argHi = (i: number) => 16 + i * 8 + 4;

export interface Compiled {
  /** struct sock_filter[], ready for seccomp(SECCOMP_SET_MODE_FILTER). */
  program: Uint8Array;
  instructions: number;
  flags: number;
  /** The filter returns SECCOMP_RET_USER_NOTIF somewhere: a listener fd is wanted. */
  notify: boolean;
}

type Arg = NonNullable<NonNullable<LinuxSeccomp['syscalls']>[number]['args']>[number];

function action(name: string, errnoRet: number | undefined, defaultErrno: number, path: string): number {
  switch (name) {
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD':
      return RET.KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS':
      return RET.KILL_PROCESS;
    case 'SCMP_ACT_TRAP':
      return RET.TRAP;
    case 'SCMP_ACT_ERRNO':
      return RET.ERRNO | ((errnoRet ?? defaultErrno) & 0xffff);
    case 'SCMP_ACT_TRACE':
      return RET.TRACE | ((errnoRet ?? defaultErrno) & 0xffff);
    case 'SCMP_ACT_ALLOW':
      return RET.ALLOW;
    case 'SCMP_ACT_LOG':
      return RET.LOG;
    case 'SCMP_ACT_NOTIFY':
      return RET.USER_NOTIF;
    default:
      throw configError(path, `unknown seccomp action "${name}"`);
  }
}

function split64(v: number | bigint): [number, number] {
  const b = BigInt.asUintN(64, BigInt(v));
  return [Number(b >> 32n), Number(b & 0xffffffffn)];
}

/** Emits a check of one argument; jumps to `fail` when it does not hold, falls through when it does. */
function emitArg(a: Assembler, arg: Arg, fail: Label, path: string): void {
  const i = arg.index;
  if (i < 0 || i > 5) throw configError(`${path}.index`, 'must be between 0 and 5');
  const [hi, lo] = split64(arg.value);
  const ok = a.label();
  switch (arg.op) {
    case 'SCMP_CMP_EQ':
      a.load(argHi(i));
      a.jump(BPF.JEQ_K, hi, null, fail);
      a.load(argLo(i));
      a.jump(BPF.JEQ_K, lo, null, fail);
      break;
    case 'SCMP_CMP_NE':
      a.load(argHi(i));
      a.jump(BPF.JEQ_K, hi, null, ok);
      a.load(argLo(i));
      a.jump(BPF.JEQ_K, lo, fail, null);
      break;
    case 'SCMP_CMP_MASKED_EQ': {
      const [vhi, vlo] = split64(arg.valueTwo ?? 0);
      a.load(argHi(i));
      a.and(hi);
      a.jump(BPF.JEQ_K, vhi, null, fail);
      a.load(argLo(i));
      a.and(lo);
      a.jump(BPF.JEQ_K, vlo, null, fail);
      break;
    }
    case 'SCMP_CMP_GT':
    case 'SCMP_CMP_GE':
    case 'SCMP_CMP_LT':
    case 'SCMP_CMP_LE': {
      // Unsigned 64-bit: the high words decide unless equal, then the low words.
      const greater = arg.op === 'SCMP_CMP_GT' || arg.op === 'SCMP_CMP_GE';
      const inclusive = arg.op === 'SCMP_CMP_GE' || arg.op === 'SCMP_CMP_LE';
      a.load(argHi(i));
      a.jump(BPF.JGT_K, hi, greater ? ok : fail, null);
      a.jump(BPF.JEQ_K, hi, null, greater ? fail : ok);
      a.load(argLo(i));
      if (greater) a.jump(inclusive ? BPF.JGE_K : BPF.JGT_K, lo, null, fail);
      else a.jump(inclusive ? BPF.JGT_K : BPF.JGE_K, lo, fail, null);
      break;
    }
    default:
      throw configError(`${path}.op`, `unknown seccomp operator "${String(arg.op)}"`);
  }
  a.place(ok);
}

/** Compiles an OCI seccomp profile into classic BPF for the given machine (`process.arch` names). */
export function compile(profile: LinuxSeccomp, machine: string = process.arch): Compiled {
  const base = 'linux.seccomp';
  const defaultErrno = profile.defaultErrnoRet ?? EPERM;
  const defaultRet = action(profile.defaultAction, profile.defaultErrnoRet, EPERM, `${base}.defaultAction`);
  const native = NATIVE[machine];
  if (!native) throw configError(base, `seccomp is not supported on ${machine}`);
  const archNames = new Set<string>([native, ...(profile.architectures ?? [])]);
  (profile.architectures ?? []).forEach((n, i) => {
    if (!ARCHES[n] && !KNOWN_ARCHES.has(n)) throw configError(`${base}.architectures[${i}]`, `unknown architecture "${n}"`);
  });
  let flags = 0;
  (profile.flags ?? []).forEach((f, i) => {
    const v = FILTER_FLAGS[f];
    if (v === undefined) throw configError(`${base}.flags[${i}]`, `unknown seccomp flag "${f}"`);
    flags |= v;
  });

  const arches = [...archNames].map((n) => ({ name: n, info: ARCHES[n] })).filter((x): x is { name: string; info: ArchInfo } => !!x.info);
  const a = new Assembler();
  let notify = profile.defaultAction === 'SCMP_ACT_NOTIFY';
  const badArch = a.label();
  const byAudit = new Map<number, { name: string; info: ArchInfo }[]>();
  for (const x of arches) byAudit.set(x.info.audit, [...(byAudit.get(x.info.audit) ?? []), x]);

  a.load(OFF_ARCH);
  const blocks = [...byAudit].map(([audit, list]) => ({ audit, list, label: a.label() }));
  for (const b of blocks) a.jump(BPF.JEQ_K, b.audit, b.label, null);
  a.goto(badArch);

  for (const b of blocks) {
    a.place(b.label);
    a.load(OFF_NR);
    const hasX32 = b.list.some((x) => x.info.x32);
    const hasX64 = b.list.some((x) => !x.info.x32);
    if (b.audit === ARCHES['SCMP_ARCH_X86_64']!.audit && !(hasX32 && hasX64)) {
      // Only one of x86_64 / x32 allowed: the other ABI is a bad architecture.
      a.jump(BPF.JGE_K, X32_BIT, hasX32 ? null : badArch, hasX32 ? badArch : null);
    }
    (profile.syscalls ?? []).forEach((rule, ri) => {
      const path = `${base}.syscalls[${ri}]`;
      const ret = action(rule.action, rule.errnoRet, defaultErrno, `${path}.action`);
      if (rule.action === 'SCMP_ACT_NOTIFY') notify = true;
      // Rules whose action is the default need no code.
      if (ret === defaultRet) return;
      const nrs: number[] = [];
      for (const name of rule.names ?? []) {
        for (const arch of b.list) {
          const nr = SYSCALLS[arch.info.table]?.[name];
          if (nr !== undefined) nrs.push(nr); // unknown here: skipped, as runc does
        }
      }
      const args = rule.args ?? [];
      if (args.length === 0) {
        // Many syscalls, one action: each match jumps to one shared return.
        const hit = a.label();
        const next = a.label();
        for (const nr of nrs) a.jump(BPF.JEQ_K, nr, hit, null);
        a.goto(next);
        a.place(hit);
        a.ret(ret);
        a.place(next);
        return;
      }
      for (const nr of nrs) {
        const next = a.label();
        a.jump(BPF.JEQ_K, nr, null, next);
        args.forEach((arg, ai) => emitArg(a, arg, next, `${path}.args[${ai}]`));
        a.ret(ret);
        a.place(next);
        a.load(OFF_NR);
      }
    });
    a.ret(defaultRet);
  }
  a.place(badArch);
  a.ret(RET.KILL_PROCESS);

  const prog = a.assemble();
  if (prog.length > 4096) throw configError(base, `the filter has ${prog.length} instructions; the kernel takes at most 4096`);
  if (notify) flags |= FILTER_FLAGS['SECCOMP_FILTER_FLAG_NEW_LISTENER']!;
  return { program: encode(prog), instructions: prog.length, flags, notify };
}
