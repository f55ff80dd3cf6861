// The one-line logger every program writes its errors with.
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '../src/log';

t.test("each line is led by the program's name; --log gets JSON lines with the level", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'log.json');
  let err = '';
  const log = new Logger(file, 'json', false, (s) => (err += s), 'runtsd');
  log.info('starting');
  log.warn('odd');
  log.error('x'.repeat(1500));
  log.debug('not without --debug');
  const lines = err.split('\n');
  t.equal(lines[0], 'runtsd: starting');
  t.equal(lines[1], 'runtsd: warning: odd');
  t.match(lines[2], /^runtsd: x{1000}… \(500 more bytes\)$/, 'clipped');
  const json = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  t.same(json.map((j) => j.level), ['info', 'warning', 'error']);
  t.equal(json[0]!.msg, 'starting');
  t.match(json[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.equal(new Logger(undefined, 'text', false, (s) => (err = s)).error('e') ?? err, 'runts: e\n', 'runts by default');
});
