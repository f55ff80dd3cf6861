// The compiled filters run here on a small BPF interpreter: no kernel needed.
import t from 'tap';
import { compile } from '../src/compile';
import { Assembler, BPF, encode } from '../src/bpf';
import { SYSCALLS } from '../src/gen/syscalls';

const X86_64 = 0xc000003e;
const I386 = 0x40000003;
const AARCH64 = 0xc00000b7;
const ALLOW = 0x7fff0000;
const ERRNO = (e: number) => 0x00050000 | e;
const KILL_PROCESS = 0x80000000;

/** Runs a struct sock_filter[] on seccomp_data {nr, arch, args}. */
function run(prog: Uint8Array, nr: number, arch: number, args: bigint[] = []): number {
  const data = Buffer.alloc(64);
  data.writeInt32LE(nr, 0);
  data.writeUInt32LE(arch, 4);
  args.forEach((v, i) => data.writeBigUInt64LE(BigInt.asUintN(64, v), 16 + i * 8));
  const buf = Buffer.from(prog);
  let A = 0;
  for (let pc = 0, steps = 0; steps < 100000; steps++) {
    const code = buf.readUInt16LE(pc * 8);
    const jt = buf.readUInt8(pc * 8 + 2);
    const jf = buf.readUInt8(pc * 8 + 3);
    const k = buf.readUInt32LE(pc * 8 + 4);
    switch (code) {
      case BPF.LD_W_ABS: A = data.readUInt32LE(k); pc++; break;
      case BPF.ALU_AND_K: A = (A & k) >>> 0; pc++; break;
      case BPF.JA: pc += 1 + k; break;
      case BPF.JEQ_K: pc += 1 + (A === k ? jt : jf); break;
      case BPF.JGT_K: pc += 1 + (A > k ? jt : jf); break;
      case BPF.JGE_K: pc += 1 + (A >= k ? jt : jf); break;
      case BPF.RET_K: return k;
      default: throw new Error(`bad opcode ${code}`);
    }
  }
  throw new Error('no return');
}

const nr = (name: string, table = 'x86_64') => SYSCALLS[table]![name]!;

t.test('default action and an allow list', async (t) => {
  const c = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['read', 'write', 'no_such_syscall'], action: 'SCMP_ACT_ALLOW' }] }, 'x64');
  t.equal(run(c.program, nr('read'), X86_64), ALLOW);
  t.equal(run(c.program, nr('write'), X86_64), ALLOW);
  t.equal(run(c.program, nr('mount'), X86_64), ERRNO(1), 'EPERM by default');
  t.equal(run(c.program, nr('read'), AARCH64), KILL_PROCESS, 'an architecture not listed is killed');
  t.equal(run(c.program, nr('read', 'x32'), X86_64), KILL_PROCESS, 'x32 calls are a different ABI');
  t.equal(c.notify, false);
});

t.test('architectures, defaultErrnoRet and errnoRet', async (t) => {
  const c = compile({
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: 38,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [{ names: ['getpid'], action: 'SCMP_ACT_ALLOW' }, { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 }],
  }, 'x64');
  t.equal(run(c.program, nr('getpid', 'x86'), I386), ALLOW);
  t.equal(run(c.program, nr('getpid', 'x32'), X86_64), ALLOW);
  t.equal(run(c.program, nr('getpid'), X86_64), ALLOW);
  t.equal(run(c.program, nr('mkdir'), X86_64), ERRNO(13));
  t.equal(run(c.program, nr('open'), X86_64), ERRNO(38));
});

t.test('architectures: libseccomp names of other machines pass, unknown names fail', async (t) => {
  t.doesNotThrow(() => compile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_ARM', 'SCMP_ARCH_S390X'] }, 'x64'));
  t.throws(() => compile({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_PDP11'] }, 'x64'), {
    message: /linux\.seccomp\.architectures\[1\]: unknown architecture "SCMP_ARCH_PDP11"/,
  });
});

t.test('64-bit argument comparisons', async (t) => {
  const big = 0x1_0000_0005n;
  const ops = ['SCMP_CMP_EQ', 'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_GE', 'SCMP_CMP_GT'] as const;
  const truth: Record<string, (x: bigint) => boolean> = {
    SCMP_CMP_EQ: (x) => x === big,
    SCMP_CMP_NE: (x) => x !== big,
    SCMP_CMP_LT: (x) => x < big,
    SCMP_CMP_LE: (x) => x <= big,
    SCMP_CMP_GE: (x) => x >= big,
    SCMP_CMP_GT: (x) => x > big,
  };
  const samples = [0n, 5n, big - 1n, big, big + 1n, 0x2_0000_0000n, 0xffff_ffff_ffff_ffffn, 0x1_0000_0000n];
  for (const op of ops) {
    const c = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: Number(big), op }] }] }, 'x64');
    for (const x of samples) {
      const want = truth[op]!(x) ? ERRNO(1) : ALLOW;
      t.equal(run(c.program, nr('personality'), X86_64, [0n, x]), want, `${op} ${x}`);
    }
  }
  const m = compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0x7e020000, valueTwo: 0x20000, op: 'SCMP_CMP_MASKED_EQ' }] }] }, 'x64');
  t.equal(run(m.program, nr('clone'), X86_64, [0x20000n | 0x100n]), ERRNO(1));
  t.equal(run(m.program, nr('clone'), X86_64, [0x10000000n | 0x20000n]), ALLOW);
  t.equal(run(m.program, nr('clone'), X86_64, [0x100n]), ALLOW);
});

t.test('several argument rules for one syscall: all args of a rule must hold', async (t) => {
  const c = compile({
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }, { index: 1, value: 1, op: 'SCMP_CMP_EQ' }] },
      { names: ['socket'], action: 'SCMP_ACT_LOG', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
    ],
  }, 'x64');
  t.equal(run(c.program, nr('socket'), X86_64, [1n, 1n]), ALLOW);
  t.equal(run(c.program, nr('socket'), X86_64, [1n, 2n]), ERRNO(1));
  t.equal(run(c.program, nr('socket'), X86_64, [2n, 9n]), 0x7ffc0000);
});

t.test('actions, flags, notify', async (t) => {
  const c = compile({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG'], listenerPath: '/run/l.sock', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }, { names: ['kill'], action: 'SCMP_ACT_KILL_PROCESS' }, { names: ['tkill'], action: 'SCMP_ACT_TRAP' }, { names: ['ptrace'], action: 'SCMP_ACT_TRACE', errnoRet: 7 }] }, 'x64');
  t.equal(run(c.program, nr('mount'), X86_64), 0x7fc00000);
  t.equal(run(c.program, nr('kill'), X86_64), KILL_PROCESS);
  t.equal(run(c.program, nr('tkill'), X86_64), 0x00030000);
  t.equal(run(c.program, nr('ptrace'), X86_64), 0x7ff00007);
  t.ok(c.notify);
  t.equal(c.flags, 2 | 8, 'LOG and NEW_LISTENER');
});

t.test('errors name the JSON path', async (t) => {
  t.throws(() => compile({ defaultAction: 'SCMP_ACT_NOPE' } as any, 'x64'), { message: /linux\.seccomp\.defaultAction/ });
  t.throws(() => compile({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['BOGUS'] } as any, 'x64'), { message: /linux\.seccomp\.flags\[0\]/ });
  t.throws(() => compile({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 9, value: 1, op: 'SCMP_CMP_EQ' }] }] } as any, 'x64'), { message: /syscalls\[0\]\.args\[0\]\.index/ });
});

t.test('long programs: far jumps go through trampolines', async (t) => {
  const names = Object.keys(SYSCALLS['x86_64']!);
  const c = compile({ defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] }, 'x64');
  t.ok(c.instructions > 300);
  for (const n of ['read', 'io_uring_setup', names[names.length - 1]!]) t.equal(run(c.program, nr(n), X86_64), ALLOW, n);
  t.equal(run(c.program, 5000, X86_64), ERRNO(1));
});

t.test('assembler: a conditional whose target is far away', async (t) => {
  const a = new Assembler();
  const far = a.label();
  a.load(0);
  a.jump(BPF.JEQ_K, 1, far, null);
  for (let i = 0; i < 300; i++) a.load(0);
  a.ret(0);
  a.place(far);
  a.ret(42);
  const prog = encode(a.assemble());
  t.equal(run(prog, 1, 0), 42);
  t.equal(run(prog, 2, 0), 0);
});
