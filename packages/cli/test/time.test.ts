// UTC timestamps without Date's toISOString() (which needs a time zone).
import t from 'tap';
import { isoTime } from '../src/time';

t.test('isoTime writes what toISOString writes', async (t) => {
  for (const ms of [0, 1, 951782400000, 1765000000123, Date.now(), -1, -62198755200000, 253402300799999, 253402300800000, 8.64e15]) {
    t.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
});
