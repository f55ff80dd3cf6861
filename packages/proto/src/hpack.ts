// HPACK (RFC 7541) for the light client's HTTP/2. The decoder is complete
// (static and dynamic tables, Huffman strings) since servers compress; the
// encoder only indexes the static table and sends plain literals, which every
// decoder accepts and which keeps no state to keep in step.
import { HUFFMAN } from './gen/huffman';

export type Header = readonly [name: string, value: string];

const STATIC: readonly Header[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

export class HpackError extends Error {}

/** HPACK's code as a map from (1 << bits) | code to the byte: codes of
 * different lengths never share a key. Made at the first Huffman string, which
 * comes with the server's answer, not before the request; 224 entries, where a
 * decoding trie took many times the steps to build (and V8 compiled the loop). */
let codes: Map<number, number> | undefined;
let longest = 0;

function huffmanCodes(): Map<number, number> {
  if (!codes) {
    codes = new Map();
    for (const [byte, code, bits] of HUFFMAN) {
      codes.set((1 << bits) | code, byte);
      longest = Math.max(longest, bits);
    }
  }
  return codes;
}

export function huffmanDecode(buf: Uint8Array): string {
  const table = huffmanCodes();
  let s = '';
  let code = 0;
  let bits = 0;
  for (const byte of buf) {
    for (let i = 7; i >= 0; i--) {
      code = (code << 1) | ((byte >>> i) & 1);
      const b = table.get((1 << ++bits) | code);
      if (b !== undefined) {
        s += String.fromCharCode(b);
        code = bits = 0;
      } else if (bits === longest) {
        throw new HpackError('hpack: a Huffman code for no header character');
      }
    }
  }
  // What is left is padding: under a byte of the end-of-string code's 1s.
  if (bits > 7 || code !== (1 << bits) - 1) throw new HpackError('hpack: bad Huffman padding');
  return s;
}

interface Reader {
  buf: Uint8Array;
  pos: number;
}

function byteAt(r: Reader): number {
  const b = r.buf[r.pos++];
  if (b === undefined) throw new HpackError('hpack: truncated header block');
  return b;
}

function readInt(r: Reader, prefix: number): number {
  const max = (1 << prefix) - 1;
  let n = byteAt(r) & max;
  if (n < max) return n;
  for (let shift = 0; ; shift += 7) {
    if (shift > 28) throw new HpackError('hpack: integer too large');
    const b = byteAt(r);
    n += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return n;
  }
}

function readString(r: Reader): string {
  const huffman = (r.buf[r.pos] ?? 0) & 0x80;
  const len = readInt(r, 7);
  if (r.pos + len > r.buf.length) throw new HpackError('hpack: truncated header block');
  const bytes = r.buf.subarray(r.pos, r.pos + len);
  r.pos += len;
  return huffman ? huffmanDecode(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('latin1');
}

/** One connection's decoding side: the dynamic table persists across header blocks. */
export class Decoder {
  private readonly table: Header[] = [];
  private size = 0;
  private max: number;

  /** limit: our SETTINGS_HEADER_TABLE_SIZE, the most the peer may use. */
  constructor(private readonly limit = 4096) {
    this.max = limit;
  }

  decode(block: Uint8Array): Header[] {
    const r = { buf: block, pos: 0 };
    const out: Header[] = [];
    while (r.pos < block.length) {
      const b = block[r.pos]!;
      if (b & 0x80) {
        out.push(this.entry(readInt(r, 7)));
      } else if (b & 0x40) {
        const h = this.literal(r, 6);
        this.add(h);
        out.push(h);
      } else if (b & 0x20) {
        const max = readInt(r, 5);
        if (max > this.limit) throw new HpackError(`hpack: table size ${max} over the ${this.limit} allowed`);
        this.max = max;
        this.evict();
      } else {
        out.push(this.literal(r, 4));
      }
    }
    return out;
  }

  private entry(index: number): Header {
    const h = index <= STATIC.length ? STATIC[index - 1] : this.table[index - STATIC.length - 1];
    if (!h || index === 0) throw new HpackError(`hpack: no table entry ${index}`);
    return h;
  }

  private literal(r: Reader, prefix: number): Header {
    const index = readInt(r, prefix);
    const name = index ? this.entry(index)[0] : readString(r);
    return [name, readString(r)];
  }

  private add(h: Header): void {
    this.table.unshift(h);
    this.size += h[0].length + h[1].length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.max) {
      const h = this.table.pop()!;
      this.size -= h[0].length + h[1].length + 32;
    }
  }
}

const FULL = new Map(STATIC.map(([n, v], i) => [`${n}\0${v}`, i + 1]));
const NAME = new Map([...STATIC].reverse().map(([n], i) => [n, STATIC.length - i]));

function writeInt(out: number[], n: number, prefix: number, flags: number): void {
  const max = (1 << prefix) - 1;
  if (n < max) {
    out.push(flags | n);
    return;
  }
  out.push(flags | max);
  for (n -= max; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  out.push(n);
}

function writeString(out: number[], s: string): void {
  writeInt(out, s.length, 7, 0);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i) & 0xff);
}

/** A header block: static-table hits indexed, the rest literals never added to a table. */
export function encode(headers: readonly Header[]): Buffer {
  const out: number[] = [];
  for (const [name, value] of headers) {
    const full = FULL.get(`${name}\0${value}`);
    if (full) {
      writeInt(out, full, 7, 0x80);
      continue;
    }
    const index = NAME.get(name) ?? 0;
    writeInt(out, index, 4, 0);
    if (!index) writeString(out, name);
    writeString(out, value);
  }
  return Buffer.from(out);
}
