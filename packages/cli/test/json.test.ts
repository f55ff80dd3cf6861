import t from 'tap';
import { parseJson, toJson } from '../src/json';

t.test('bigints are written as their exact digits, as JSON numbers', async (t) => {
  t.equal(toJson({ limit: 9223372036854771712n, n: 1, s: 'x' }), '{"limit":9223372036854771712,"n":1,"s":"x"}');
  t.equal(toJson({ a: [18446744073709551615n] }, 2), '{\n  "a": [\n    18446744073709551615\n  ]\n}');
  t.equal(JSON.stringify(JSON.parse(toJson({ limit: 9223372036854771712n }))), '{"limit":9223372036854772000}', 'what a plain parse would have made of it');
});

t.test('parsing keeps integers past 2^53 exact, and a round trip keeps the text', async (t) => {
  const text = '{"limit":9223372036854771712,"small":5,"f":1.5,"big":1e300,"neg":-9223372036854775808}';
  const v = parseJson(text) as Record<string, unknown>;
  t.equal(v['limit'], 9223372036854771712n);
  t.equal(v['small'], 5);
  t.equal(v['f'], 1.5);
  t.equal(v['big'], 1e300, 'a float in exponent form stays a number');
  t.equal(v['neg'], -9223372036854775808n);
  t.equal(toJson(v), text.replace('1e300', '1e+300'));
});
