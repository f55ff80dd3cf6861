import { HEADER_SIZE, OP_SIZE, Op, PLAN_MAGIC, PLAN_VERSION, type OpName } from './ops';

/** An argument: a number (or bigint for 64-bit masks), a string, a string
 * array, raw bytes, or null. Strings and arrays go to the data area. */
export type Arg = number | bigint | string | readonly string[] | Uint8Array | null;

export interface PlanOp {
  op: OpName;
  args: Arg[];
  /** Where in config.json this op comes from, for error messages. */
  path: string;
  /** What the op does, in words: `mount proc on /proc`. */
  what: string;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Bytes an argument takes in the data area, each piece padded to 8. */
function dataSize(a: Arg): number {
  if (typeof a === 'string') return align8(Buffer.byteLength(a) + 1);
  if (a instanceof Uint8Array) return align8(a.length);
  if (a === null || typeof a !== 'object') return 0;
  return (a as readonly string[]).reduce((n, s) => n + align8(Buffer.byteLength(s) + 1), (a.length + 1) * 8);
}

/** A 64-bit argument. Numbers are written as two halves: BigInt conversions
 * are slow in a CLI's cold start (bench/NOTES.md). DataView's setters are V8
 * builtins, where Buffer's are JS that a cold start interprets. */
function write64(view: DataView, off: number, v: number | bigint, op: string): void {
  if (typeof v === 'bigint') {
    view.setBigInt64(off, BigInt.asIntN(64, v), true);
    return;
  }
  if (!Number.isSafeInteger(v)) throw new Error(`plan op ${op}: argument ${v} is not an integer`);
  const high = Math.floor(v / 0x1_0000_0000);
  view.setUint32(off, v - high * 0x1_0000_0000, true);
  view.setInt32(off + 4, high, true);
}

/** Encodes ops into the native stage's buffer (layout in bindings/stage.h):
 * one zeroed allocation, strings written in place (their NUL is the zero). */
export function encodePlan(ops: readonly PlanOp[], syncFd: number, scratchLen: number, closeFd = -1): Buffer {
  const dataStart = HEADER_SIZE + ops.length * OP_SIZE;
  const dataLen = ops.reduce((n, o) => o.args.reduce<number>((m, a) => m + dataSize(a), n), 0);
  const buf = Buffer.alloc(dataStart + dataLen + scratchLen);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = dataStart;
  const putString = (s: string): number => {
    const off = end;
    end = align8(off + buf.write(s, off, 'utf8') + 1);
    return off;
  };
  const putBytes = (b: Uint8Array): number => {
    const off = end;
    buf.set(b, off);
    end = align8(off + b.length);
    return off;
  };

  ops.forEach((o, i) => {
    const base = HEADER_SIZE + i * OP_SIZE;
    view.setUint32(base, Op[o.op], true);
    if (o.args.length > 6) throw new Error(`plan op ${o.op}: too many arguments`);
    o.args.forEach((a, j) => {
      let v: number | bigint;
      if (a === null) v = -1;
      else if (typeof a === 'number' || typeof a === 'bigint') v = a;
      else if (typeof a === 'string') v = putString(a);
      else if (a instanceof Uint8Array) v = putBytes(a);
      else {
        // String arrays: the strings, then offsets to each, then -1.
        const offs = (a as readonly string[]).map(putString);
        const at = end;
        offs.forEach((off, k) => write64(view, at + k * 8, off, o.op));
        write64(view, at + offs.length * 8, -1, o.op);
        end = at + (offs.length + 1) * 8;
        v = at;
      }
      write64(view, base + 8 + j * 8, v, o.op);
    });
  });
  view.setUint32(0, PLAN_MAGIC, true);
  view.setUint32(4, PLAN_VERSION, true);
  view.setUint32(8, ops.length, true);
  view.setUint32(12, HEADER_SIZE, true);
  view.setInt32(16, syncFd, true);
  view.setUint32(20, end, true);
  view.setUint32(24, scratchLen, true);
  view.setInt32(28, closeFd, true);
  return buf;
}
