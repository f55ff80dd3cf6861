// Pids' answer to containerd: exec details as containerd's runc shim gives them.
import t from 'tap';
import { codec } from '@runts/proto/light';
import { processInfos, PROCESS_DETAILS } from '../src/details';

t.test('Pids: an exec\'s process carries ProcessDetails with its exec id; the init none', async (t) => {
  const ps = processInfos([{ pid: 100, execId: '' }, { pid: 200, execId: 'e1' }]);
  t.same(ps.map((p) => p.pid), [100, 200]);
  t.equal(ps[0]!.info, null);
  t.equal(ps[1]!.info!.type_url, PROCESS_DETAILS);
  t.equal(ps[1]!.info!.value.toString('hex'), '0a026531', 'exec_id is field 1');
  t.same(codec(PROCESS_DETAILS).decode(ps[1]!.info!.value), { execId: 'e1' });
});
