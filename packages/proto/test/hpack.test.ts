// HPACK against RFC 7541's worked examples, and our encoder against our decoder.
import t from 'tap';
import { Decoder, encode, huffmanDecode } from '../src/hpack';
import { HUFFMAN } from '../src/gen/huffman';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

t.test('RFC 7541 C.3: requests without Huffman, the dynamic table growing', async (t) => {
  const d = new Decoder();
  t.same(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  t.same(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
    'index 62 is the entry the first block added');
});

t.test('RFC 7541 C.4: the same requests with Huffman', async (t) => {
  const d = new Decoder();
  t.same(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  t.same(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')),
    [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
});

t.test('eviction and table size updates', async (t) => {
  const d = new Decoder(64);
  // Two 40-byte entries (32 + name + value) do not both fit in 64 bytes.
  const add = (name: string, value: string) => Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  t.same(d.decode(Buffer.concat([add('a', 'bcdefgh'), add('x', 'yzyzyzy')])), [['a', 'bcdefgh'], ['x', 'yzyzyzy']]);
  t.same(d.decode(hex('be')), [['x', 'yzyzyzy']], 'the newest entry is 62');
  t.throws(() => d.decode(hex('bf')), /no table entry 63/, 'the evicted one is gone');
  t.same(d.decode(hex('20')), [], 'a size update to 0 empties the table');
  t.throws(() => d.decode(hex('be')), /no table entry 62/);
  t.throws(() => d.decode(hex('3f 22')), /table size 65 over the 64 allowed/);
});

t.test('bad blocks are errors, not crashes', async (t) => {
  const d = new Decoder();
  t.throws(() => d.decode(hex('80')), /no table entry 0/);
  t.throws(() => d.decode(hex('04 05 2f')), /truncated/);
  t.throws(() => d.decode(hex('7f ff ff ff ff ff')), /truncated|too large/);
  t.throws(() => huffmanDecode(hex('00')), /padding/, 'padding of 0s');
  t.throws(() => huffmanDecode(hex('1f ff')), /padding/, 'a byte or more of padding');
  t.throws(() => huffmanDecode(hex('ff ff ff ff')), /no header character/, 'a control character (or EOS)');
});

t.test('encode: what our decoder reads back, long strings included', async (t) => {
  const headers = [
    [':method', 'POST'], [':scheme', 'http'], [':path', `/svc/${'m'.repeat(200)}`], [':authority', 'localhost'],
    ['content-type', 'application/grpc'], ['te', 'trailers'], ['x-big', 'v'.repeat(20000)], ['x-latin1', '\tdéjà vu\xff'],
  ] as const;
  const block = encode(headers);
  t.equal(block[0], 0x83, ':method POST is static entry 3');
  t.same(new Decoder().decode(block), headers);
});

t.test('the Huffman table is a prefix code', async (t) => {
  const seen = new Set<string>();
  for (const [, code, bits] of HUFFMAN) seen.add(code.toString(2).padStart(bits, '0'));
  const codes = [...seen];
  t.equal(codes.length, HUFFMAN.length, 'no two bytes share a code');
  t.notOk(codes.some((a) => codes.some((b) => a !== b && b.startsWith(a))), 'no code is a prefix of another');
});
