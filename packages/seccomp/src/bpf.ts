/** A small classic-BPF assembler: conditional jumps take labels, and jumps
 * too far for the 8-bit offsets are routed through a `ja` trampoline. */

export const BPF = {
  LD_W_ABS: 0x20, // BPF_LD | BPF_W | BPF_ABS
  ALU_AND_K: 0x54, // BPF_ALU | BPF_AND | BPF_K
  JA: 0x05, // BPF_JMP | BPF_JA
  JEQ_K: 0x15,
  JGT_K: 0x25,
  JGE_K: 0x35,
  JSET_K: 0x45,
  RET_K: 0x06,
} as const;

export type Label = number;

type Ins =
  | { kind: 'plain'; code: number; k: number }
  | { kind: 'jump'; code: number; k: number; jt: Label | null; jf: Label | null }
  | { kind: 'ja'; target: Label }
  | { kind: 'label'; id: Label };

export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export class Assembler {
  private ins: Ins[] = [];
  private next = 0;

  label(): Label {
    return this.next++;
  }

  place(id: Label): void {
    this.ins.push({ kind: 'label', id });
  }

  load(offset: number): void {
    this.ins.push({ kind: 'plain', code: BPF.LD_W_ABS, k: offset });
  }

  and(k: number): void {
    this.ins.push({ kind: 'plain', code: BPF.ALU_AND_K, k: k >>> 0 });
  }

  ret(k: number): void {
    this.ins.push({ kind: 'plain', code: BPF.RET_K, k: k >>> 0 });
  }

  /** Conditional jump: null means fall through to the next instruction. */
  jump(code: number, k: number, jt: Label | null, jf: Label | null): void {
    this.ins.push({ kind: 'jump', code, k: k >>> 0, jt, jf });
  }

  goto(target: Label): void {
    this.ins.push({ kind: 'ja', target });
  }

  /** Lays out the program; far conditional targets get a `ja` each. */
  assemble(): SockFilter[] {
    // Expand until every conditional target fits in 8 bits.
    let ins = this.ins;
    for (;;) {
      const pos = positions(ins);
      let changed = false;
      const out: Ins[] = [];
      for (let i = 0, at = 0; i < ins.length; i++) {
        const x = ins[i]!;
        if (x.kind === 'label') {
          out.push(x);
          continue;
        }
        if (x.kind === 'jump') {
          const far = (l: Label | null) => l !== null && pos.get(l)! - (at + 1) > 255;
          if (far(x.jt) || far(x.jf)) {
            // cond → two `ja`s, one per branch; a fall-through goes past both.
            const t = this.label();
            const f = this.label();
            const after = this.label();
            out.push({ kind: 'jump', code: x.code, k: x.k, jt: t, jf: f });
            out.push({ kind: 'label', id: t }, { kind: 'ja', target: x.jt ?? after });
            out.push({ kind: 'label', id: f }, { kind: 'ja', target: x.jf ?? after });
            out.push({ kind: 'label', id: after });
            changed = true;
            at += 1;
            continue;
          }
        }
        out.push(x);
        at += 1;
      }
      ins = out;
      if (!changed) break;
    }
    const pos = positions(ins);
    const prog: SockFilter[] = [];
    for (const x of ins) {
      const here = prog.length;
      if (x.kind === 'label') continue;
      if (x.kind === 'plain') prog.push({ code: x.code, jt: 0, jf: 0, k: x.k });
      else if (x.kind === 'ja') prog.push({ code: BPF.JA, jt: 0, jf: 0, k: pos.get(x.target)! - (here + 1) });
      else {
        const off = (l: Label | null) => (l === null ? 0 : pos.get(l)! - (here + 1));
        prog.push({ code: x.code, jt: off(x.jt), jf: off(x.jf), k: x.k });
      }
    }
    for (const p of prog) {
      if (p.jt > 255 || p.jf > 255 || p.jt < 0 || p.jf < 0) throw new Error('bpf: jump out of range');
    }
    return prog;
  }
}

function positions(ins: Ins[]): Map<Label, number> {
  const pos = new Map<Label, number>();
  let at = 0;
  for (const x of ins) {
    if (x.kind === 'label') pos.set(x.id, at);
    else at += 1;
  }
  return pos;
}

/** struct sock_filter[] as the kernel reads it. */
export function encode(prog: SockFilter[]): Uint8Array {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((p, i) => {
    buf.writeUInt16LE(p.code, i * 8);
    buf.writeUInt8(p.jt, i * 8 + 2);
    buf.writeUInt8(p.jf, i * 8 + 3);
    buf.writeUInt32LE(p.k >>> 0, i * 8 + 4);
  });
  return buf;
}
