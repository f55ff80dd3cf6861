// Invalid configs: a non-zero exit, and nothing left behind (runtime.md "Errors":
// the environment as if the operation were never attempted): no container,
// and no directory under any cgroup hierarchy for the config's cgroupsPath.
import { Runtime, cgroupDirs, config, removeCgroup, suite } from '../lib/runtime';

const test = suite(__filename);

const cases: [string, (c: any) => void][] = [
  ['empty process.args', (c) => (c.process.args = [])],
  ['relative process.cwd', (c) => (c.process.cwd = 'tmp')],
  ['missing root', (c) => delete c.root],
  ['unknown namespace type', (c) => c.linux.namespaces.push({ type: 'bogus' })],
  ['duplicate namespace type', (c) => c.linux.namespaces.push({ type: 'ipc' })],
  ['namespace path of another type', (c) => c.linux.namespaces.push({ type: 'cgroup', path: `/proc/${process.pid}/ns/net` })],
  ['hostname without a UTS namespace', (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: any) => n.type !== 'uts'))],
  ['uid mappings without a user namespace', (c) => (c.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }])],
  ['non-namespaced sysctl', (c) => (c.linux.sysctl = { 'vm.swappiness': '1' })],
  ['executable not found', (c) => (c.process.args = ['/no/such/binary'])],
  ['wrong type for process.user.uid', (c) => (c.process.user.uid = 'root')],
];

for (const [name, patch] of cases) {
  test(name, async (t) => {
    const rt = new Runtime(t);
    const cfg = config(['true']);
    const id = rt.id();
    const cgroupsPath = `/${id}`;
    cfg.linux.cgroupsPath = cgroupsPath;
    cfg.linux.resources = { pids: { limit: 64 } };
    patch(cfg);
    t.teardown(() => removeCgroup(cgroupsPath));
    const r = rt.run(['create', '--bundle', rt.bundle(cfg), id]);
    t.not(r.code, 0, 'runtime.md "Create": a config the runtime cannot apply MUST generate an error');
    t.not(rt.run(['state', id]).code, 0, 'runtime.md "Create": a new container MUST NOT be created (state fails)');
    t.same(rt.ids(), [], 'no container is listed');
    t.same(cgroupDirs(cgroupsPath), [], 'runtime.md "Errors": no cgroup directory is left for linux.cgroupsPath');
  });
}
