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

/** Encodes ops into the native stage's buffer (layout in bindings/stage.h). */
export function encodePlan(ops: readonly PlanOp[], syncFd: number, scratchLen: number, closeFd = -1): Buffer {
  const data: Buffer[] = [];
  const dataStart = HEADER_SIZE + ops.length * OP_SIZE;
  let dataLen = 0;
  const put = (b: Buffer): number => {
    const off = dataStart + dataLen;
    data.push(b);
    dataLen += b.length;
    const pad = (8 - (b.length % 8)) % 8;
    if (pad) {
      data.push(Buffer.alloc(pad));
      dataLen += pad;
    }
    return off;
  };
  const putString = (s: string): number => put(Buffer.from(s + '\0', 'utf8'));

  const header = Buffer.alloc(HEADER_SIZE);
  const opsBuf = Buffer.alloc(ops.length * OP_SIZE);
  ops.forEach((o, i) => {
    const base = i * OP_SIZE;
    opsBuf.writeUInt32LE(Op[o.op], base);
    if (o.args.length > 6) throw new Error(`plan op ${o.op}: too many arguments`);
    let flags = 0;
    o.args.forEach((a, j) => {
      // OP_SYSCALL reads this mask to tell buffers from numbers (bit i: argument i+1).
      if (a !== null && typeof a !== 'number' && typeof a !== 'bigint' && j > 0) flags |= 1 << (j - 1);
      let v: bigint;
      if (a === null) v = -1n;
      else if (typeof a === 'number') v = BigInt(a);
      else if (typeof a === 'bigint') v = a;
      else if (typeof a === 'string') v = BigInt(putString(a));
      else if (a instanceof Uint8Array) v = BigInt(put(Buffer.from(a)));
      else {
        // String arrays: offsets to each string, then -1.
        const offs = (a as readonly string[]).map(putString);
        const arr = Buffer.alloc((offs.length + 1) * 8);
        offs.forEach((off, k) => arr.writeBigInt64LE(BigInt(off), k * 8));
        arr.writeBigInt64LE(-1n, offs.length * 8);
        v = BigInt(put(arr));
      }
      opsBuf.writeBigInt64LE(BigInt.asIntN(64, v), base + 8 + j * 8);
    });
    opsBuf.writeUInt32LE(flags, base + 4);
  });
  const scratchOff = dataStart + dataLen;
  header.writeUInt32LE(PLAN_MAGIC, 0);
  header.writeUInt32LE(PLAN_VERSION, 4);
  header.writeUInt32LE(ops.length, 8);
  header.writeUInt32LE(HEADER_SIZE, 12);
  header.writeInt32LE(syncFd, 16);
  header.writeUInt32LE(scratchOff, 20);
  header.writeUInt32LE(scratchLen, 24);
  header.writeInt32LE(closeFd, 28);
  return Buffer.concat([header, opsBuf, ...data, Buffer.alloc(scratchLen)]);
}
