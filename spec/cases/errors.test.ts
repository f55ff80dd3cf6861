// Invalid configs: a non-zero exit, and nothing left behind (runtime.md: create MUST error; no container).
import t from 'tap';
import { Runtime, config } from '../lib/runtime';

const cases: [string, (c: any) => void][] = [
  ['empty process.args', (c) => (c.process.args = [])],
  ['relative process.cwd', (c) => (c.process.cwd = 'tmp')],
  ['missing root', (c) => delete c.root],
  ['unknown namespace type', (c) => c.linux.namespaces.push({ type: 'bogus' })],
  ['hostname without a UTS namespace', (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts'))],
  ['uid mappings without a user namespace', (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])],
  ['non-namespaced sysctl', (c) => (c.linux.sysctl = { 'vm.swappiness': '1' })],
  ['executable not found', (c) => (c.process.args = ['/no/such/binary'])],
  ['wrong type for process.user.uid', (c) => (c.process.user.uid = 'root')],
];

for (const [name, patch] of cases) {
  t.test(name, async (t) => {
    const rt = new Runtime(t);
    const cfg = config(['true']);
    patch(cfg);
    const id = rt.id();
    const r = rt.run(['create', '--bundle', rt.bundle(cfg), id]);
    t.not(r.code, 0, 'create fails');
    t.not(rt.run(['state', id]).code, 0, 'no container exists');
    t.same(rt.ids(), [], 'list is empty');
  });
}
