// Kubernetes' node path, one layer below kubelet: CRI calls to containerd's CRI
// plugin, with the pod's RuntimeClass handler choosing the runtime. Every case
// runs for the runts handler (runc v2 shim, options.BinaryName = RUNTIME), the
// runts-shim handler (containerd-shim-runts-v1, no runtime exec at all) and
// runc, the reference. CRI_HANDLERS=runts,runc (say) runs some.
import t from 'tap';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { RUNTIME, ensurePackages, sleep } from '../engines/lib';
import { CriNode, type Handler } from './lib';
import type { cri } from '@runts/proto/cri';

const HANDLERS: Handler[] = [
  { name: 'runts' },
  { name: 'runts-shim', runtimeType: 'io.containerd.runts.v1' },
  { name: 'runc', binary: '/usr/sbin/runc' },
].filter((h) => (process.env['CRI_HANDLERS'] ?? 'runts,runts-shim,runc').split(',').includes(h.name));
const SCALE_PODS = Number(process.env['CRI_SCALE_PODS'] ?? 20);

t.setTimeout(600_000);
const skip = ensurePackages(['containerd', 'runc', 'busybox-static']);
if (skip) {
  t.plan(0, `containerd unavailable: ${skip}`);
} else {
  main();
}

function main(): void {
  const node = new CriNode(t, HANDLERS);
  const rt = () => node.client.runtime;
  const why = () => ({ runtimeCalls: node.e.trace(), runtimeLogs: node.e.runtimeLogs(), containerd: node.log(1500) });
  let podSeq = 0;
  const podName = (h: Handler, what: string) => `${h.name}-${what}-${++podSeq}`;

  /** ExecSync's output as text, failing on a non-zero exit. */
  const exec = async (id: string, cmd: string[], timeout = 10): Promise<string> => {
    const r = await rt().ExecSync({ containerId: id, cmd, timeout });
    if (r.exitCode !== 0) throw new Error(`exec ${cmd.join(' ')}: exit ${r.exitCode}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  };

  t.before(async () => {
    await node.start();
    node.importImages();
  });

  for (const h of HANDLERS) {
    t.test(`${h.name}: lifecycle, exit code, reason, timestamps, stop with a grace period, nothing left`, async (t) => {
      const name = podName(h, 'life');
      const pod = node.podConfig(name);
      const podId = await node.runPod(h.name, pod);
      const ps = await rt().PodSandboxStatus({ podSandboxId: podId });
      t.equal(ps.status?.state, 'SANDBOX_READY', 'the pod is ready', why());
      t.equal(ps.status?.runtimeHandler, h.name, 'with the handler asked for');
      // The Engine's wrapper logs each call of RUNTIME: the pause went through it only for runts.
      const created = new RegExp(`create --bundle \\S+/${podId}`).test(node.e.trace(1000));
      t.equal(created, h.name === 'runts', `the sandbox was ${h.name === 'runts' ? '' : 'not '}created by ${RUNTIME}`, why());

      const before = Date.now();
      // CRI stamps started_at when the Start call returns: an exit before that would come first.
      const exits = await node.runContainer(podId, pod, node.containerConfig('exits', ['sh', '-c', 'sleep 0.2; exit 3']));
      const s = await node.waitExited(exits);
      t.equal(s.exitCode, 3, 'exit code', why());
      t.equal(s.reason, 'Error', 'reason for a non-zero exit');
      t.ok(s.createdAt > 0 && s.startedAt >= s.createdAt && s.finishedAt >= s.startedAt, 'created <= started <= finished', { s });
      t.ok(Math.abs(s.startedAt / 1e6 - before) < 30_000, 'started_at is now, in nanoseconds', { startedAt: s.startedAt, before });

      const ok = await node.runContainer(podId, pod, node.containerConfig('ok', ['true']));
      const so = await node.waitExited(ok);
      t.equal(so.exitCode, 0, 'exit code 0');
      t.equal(so.reason, 'Completed', 'reason for exit 0');

      // It ignores SIGTERM: SIGKILL after the grace period.
      const stubborn = await node.runContainer(podId, pod, node.containerConfig('stubborn', ['sh', '-c', 'trap "" TERM; sleep 1000']));
      t.equal((await node.status(stubborn)).state, 'CONTAINER_RUNNING', 'running');
      let t0 = Date.now();
      await rt().StopContainer({ containerId: stubborn, timeout: 2 });
      const stopMs = Date.now() - t0;
      const ss = await node.status(stubborn);
      t.equal(ss.state, 'CONTAINER_EXITED', 'stopped', why());
      t.equal(ss.exitCode, 137, 'killed by SIGKILL');
      t.ok(stopMs >= 1_900 && stopMs < 10_000, `SIGKILL after the 2 s grace period (${stopMs} ms)`);

      // One that handles SIGTERM stops at once, with its own exit code.
      const polite = await node.runContainer(podId, pod, node.containerConfig('polite', ['sh', '-c', 'trap "exit 4" TERM; while :; do sleep 0.1; done']));
      await sleep(300);
      t0 = Date.now();
      await rt().StopContainer({ containerId: polite, timeout: 20 });
      const sp = await node.status(polite);
      t.equal(sp.exitCode, 4, 'SIGTERM came first: the trap\'s exit code', why());
      t.ok(Date.now() - t0 < 5_000, 'without waiting out the grace period');

      const ids = [podId, exits, ok, stubborn, polite];
      for (const c of ids.slice(1)) await rt().RemoveContainer({ containerId: c });
      const listed = await rt().ListContainers({ filter: { podSandboxId: podId } });
      t.same(listed.containers, [], 'containers removed');
      await node.removePod(podId);
      const pods = await rt().ListPodSandbox({ filter: { id: podId } });
      t.same(pods.items, [], 'pod removed');
      t.same(await node.leftovers(name, ids), [], 'no shim, mount or cgroup left');
    });

    t.test(`${h.name}: logs in kubelet's CRI format`, async (t) => {
      const name = podName(h, 'logs');
      const pod = node.podConfig(name);
      const podId = await node.runPod(h.name, pod);
      // A line longer than containerd's 16 KiB maximum is split: P, then F.
      const id = await node.runContainer(podId, pod, node.containerConfig('logger',
        ['sh', '-c', 'echo one; echo two >&2; head -c 20000 /dev/zero | tr "\\0" a; echo; printf "x\\ty z\\n"']));
      await node.waitExited(id);
      const status = await node.status(id);
      t.equal(status.logPath, join(pod.logDirectory!, 'logger.log'), 'log_path is under the pod\'s log directory');
      const lines = readFileSync(status.logPath, 'utf8').split('\n').filter(Boolean);
      const entry = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$/;
      t.ok(lines.every((l) => entry.test(l)), 'every line is "<RFC3339Nano> <stream> <F|P> <text>"', { lines: lines.map((l) => l.slice(0, 80)) });
      const parsed = lines.map((l) => l.match(entry)!).map((m) => ({ stream: m[2], tag: m[3], text: m[4]! }));
      // The two streams are copied apart: their order is kept only within each.
      const short = (stream: string) => parsed.filter((p) => p.stream === stream && p.text.length < 100).map((p) => `${p.tag} ${p.text}`);
      t.same(short('stdout'), ['F one', 'F x\ty z'], 'stdout\'s short lines, tagged F');
      t.same(short('stderr'), ['F two'], 'stderr\'s');
      const long = parsed.filter((p) => p.text.length >= 100);
      t.same(long.map((p) => p.tag), ['P', 'F'], 'the long line: partial, then full');
      t.equal(long.map((p) => p.text).join(''), 'a'.repeat(20000), 'rejoined, it is the line');
      const times = lines.map((l) => Date.parse(l.split(' ')[0]!));
      t.ok(times.every((x) => Math.abs(x - Date.now()) < 60_000), 'timestamps are now');
      await node.removePod(podId);
    });

    t.test(`${h.name}: a pod of two containers shares IPC, UTS and PID; each has its own rootfs`, async (t) => {
      const name = podName(h, 'pair');
      const pod = node.podConfig(name, { sharePid: true });
      const podId = await node.runPod(h.name, pod);
      const a = await node.runContainer(podId, pod, node.containerConfig('a', ['sleep', '1000']));
      const b = await node.runContainer(podId, pod, node.containerConfig('b', ['sleep', '1000']));
      const nsOf = async (id: string) => {
        const out = await exec(id, ['sh', '-c', 'for n in ipc uts pid mnt net; do echo $n $(readlink /proc/self/ns/$n); done']);
        return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ') as [string, string]));
      };
      const [na, nb] = [await nsOf(a), await nsOf(b)];
      t.equal(na['ipc'], nb['ipc'], 'IPC shared', { na, nb });
      // Host network: the pod's UTS namespace is the host's (containerd's rule for hostNetwork pods).
      t.equal(na['uts'], nb['uts'], 'UTS shared');
      t.equal(na['uts'], readlinkSync('/proc/self/ns/uts'), 'the host\'s, with the host network');
      t.equal(na['net'], readlinkSync('/proc/self/ns/net'), 'network: the host\'s (NamespaceMode.NODE)');
      t.equal(na['pid'], nb['pid'], 'PID shared (NamespaceMode.POD)');
      t.not(na['mnt'], nb['mnt'], 'each has its own mount namespace');
      t.not(na['pid'], readlinkSync('/proc/self/ns/pid'), 'not the host\'s pid namespace');
      t.equal((await exec(b, ['cat', '/proc/1/cmdline'])).replace(/\0/g, ' ').trim(), '/pause', 'the sandbox\'s pause is PID 1 of the pod');
      t.match(await exec(a, ['ps', '-o', 'args']), /sleep 1000[\s\S]*sleep 1000/, 'each container sees the other\'s process');
      await exec(a, ['sh', '-c', 'echo mine > /tmp/only-in-a']);
      const rb = await rt().ExecSync({ containerId: b, cmd: ['cat', '/tmp/only-in-a'], timeout: 10 });
      t.not(rb.exitCode, 0, 'a file in a\'s rootfs is not in b\'s');
      if (h.runtimeType) {
        // One shim serves the pod (grouped by io.kubernetes.cri.sandbox-id): the parent of its pause and both inits.
        const shim = node.groupShim(podId);
        const ppid = (pid: string) => /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        const inits = [...await Promise.all([a, b].map(async (id) => JSON.parse((await rt().ContainerStatus({ containerId: id, verbose: true })).info['info'] ?? '{}').pid)),
          JSON.parse((await rt().PodSandboxStatus({ podSandboxId: podId, verbose: true })).info['info'] ?? '{}').pid].map(String);
        t.ok(shim, 'the pod\'s shim', why());
        t.same(inits.map(ppid), inits.map(() => shim), 'is the parent of the pause and both containers', { inits });
      }
      await node.removePod(podId);
      t.same(await node.leftovers(name, [podId, a, b]), [], 'nothing left');
    });

    t.test(`${h.name}: resources from requests and limits, read back from the cgroup; update; OOM`, async (t) => {
      const name = podName(h, 'res');
      const pod = node.podConfig(name);
      const podId = await node.runPod(h.name, pod);
      // What kubelet sends for requests.cpu 500m, limits.cpu 1500m, limits.memory 32Mi.
      const resources: cri.LinuxContainerResources = { cpuShares: 512, cpuQuota: 150_000, cpuPeriod: 100_000, memoryLimitInBytes: 32 * 1024 * 1024 };
      const id = await node.runContainer(podId, pod, node.containerConfig('limited', ['sleep', '1000'], { linux: { resources } }));
      const cg = (hier: string, file: string) => readFileSync(join(node.cgroupDir(hier, name, id), file), 'utf8').trim();
      t.same({
        shares: cg('cpu', 'cpu.shares'), quota: cg('cpu', 'cpu.cfs_quota_us'), period: cg('cpu', 'cpu.cfs_period_us'), memory: cg('memory', 'memory.limit_in_bytes'),
      }, { shares: '512', quota: '150000', period: '100000', memory: '33554432' }, 'in the container\'s cgroup', why());
      t.match(readFileSync(`/proc/${await initPid(id)}/cgroup`, 'utf8'), new RegExp(`memory:/${node.e.tag}/${name}/${id}\n`), 'the init is in it');

      await rt().UpdateContainerResources({ containerId: id, linux: { cpuShares: 256, cpuQuota: 50_000, cpuPeriod: 100_000, memoryLimitInBytes: 64 * 1024 * 1024 } });
      t.same({ shares: cg('cpu', 'cpu.shares'), quota: cg('cpu', 'cpu.cfs_quota_us'), memory: cg('memory', 'memory.limit_in_bytes') },
        { shares: '256', quota: '50000', memory: '67108864' }, 'UpdateContainerResources reached the running container\'s cgroup', why());
      const st = await node.status(id);
      t.equal(st.resources?.linux?.memoryLimitInBytes, 64 * 1024 * 1024, 'and ContainerStatus reports the new limits');

      const oom = await node.runContainer(podId, pod, node.containerConfig('oom',
        ['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1'], { linux: { resources } }));
      const so = await node.waitExited(oom);
      t.equal(so.reason, 'OOMKilled', 'reason OOMKilled', why());
      t.equal(so.exitCode, 137, 'exit code 137');
      await node.removePod(podId);
      t.same(await node.leftovers(name, [podId, id, oom]), [], 'nothing left');
    });

    t.test(`${h.name}: ExecSync: stdout, stderr, exit code, timeout; stats grow under load`, async (t) => {
      const name = podName(h, 'exec');
      const pod = node.podConfig(name);
      const podId = await node.runPod(h.name, pod);
      const id = await node.runContainer(podId, pod, node.containerConfig('target', ['sleep', '1000']));
      const r = await rt().ExecSync({ containerId: id, cmd: ['sh', '-c', 'echo out; echo err >&2; exit 5'], timeout: 10 });
      t.same({ stdout: r.stdout.toString(), stderr: r.stderr.toString(), exitCode: r.exitCode }, { stdout: 'out\n', stderr: 'err\n', exitCode: 5 }, 'output and exit code', why());

      const t0 = Date.now();
      const late = await rt().ExecSync({ containerId: id, cmd: ['sleep', '30'], timeout: 1 }).then(() => undefined, (e: Error) => e);
      t.match(late?.message ?? 'no error', /timeout|deadline/i, 'a 1 s timeout fails the call', why());
      t.ok(Date.now() - t0 < 10_000, `soon (${Date.now() - t0} ms)`);
      t.equal((await node.status(id)).state, 'CONTAINER_RUNNING', 'the container lives on');

      const stats = async () => (await rt().ContainerStats({ containerId: id })).stats;
      const s0 = await stats();
      t.equal(s0?.attributes?.id, id, 'ContainerStats names the container');
      await exec(id, ['sh', '-c', 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/tmp/fill bs=1M count=16 2>/dev/null; sync'], 60);
      const s1 = await stats();
      const cpu = (s: typeof s0) => Number(s?.cpu?.usageCoreNanoSeconds?.value ?? 0);
      const mem = (s: typeof s0) => Number(s?.memory?.usageBytes?.value ?? 0);
      t.ok(cpu(s1) > cpu(s0) + 10e6, `CPU grew by more than 10 ms (${cpu(s0)} -> ${cpu(s1)} ns)`, why());
      t.ok(mem(s1) > mem(s0) + 8 * 2 ** 20, `memory grew by more than 8 MiB (${mem(s0)} -> ${mem(s1)})`);
      t.ok(Number(s1?.memory?.workingSetBytes?.value ?? 0) > 0, 'a working set');
      const list = await rt().ListContainerStats({ filter: { podSandboxId: podId } });
      t.same(list.stats.map((s) => s.attributes?.id), [id], 'ListContainerStats by pod');
      await node.removePod(podId);
    });

    t.test(`${h.name}: containerd killed and restarted while a pod runs`, async (t) => {
      const name = podName(h, 'restart');
      const pod = node.podConfig(name);
      const podId = await node.runPod(h.name, pod);
      const id = await node.runContainer(podId, pod, node.containerConfig('survivor',
        ['sh', '-c', 'while [ ! -e /tmp/stop ]; do sleep 0.1; done; exit 7']));
      await node.kill();
      await node.start();
      const pods = await rt().ListPodSandbox({ filter: { id: podId } });
      t.same(pods.items.map((p) => p.state), ['SANDBOX_READY'], 'the pod is still listed, ready', why());
      const cs = await rt().ListContainers({ filter: { podSandboxId: podId } });
      t.same(cs.containers.map((c) => [c.id, c.state]), [[id, 'CONTAINER_RUNNING']], 'its container is still running');
      await exec(id, ['touch', '/tmp/stop']);
      const s = await node.waitExited(id);
      t.equal(s.exitCode, 7, 'a later exit is reported, with its code', why());
      await node.removePod(podId);
      t.same(await node.leftovers(name, [podId, id]), [], 'nothing left');
    });

    t.test(`${h.name}: ${SCALE_PODS} pods of 2 containers, concurrently`, async (t) => {
      const t0 = Date.now();
      const pods = await Promise.all(Array.from({ length: SCALE_PODS }, async (_, i) => {
        const name = podName(h, `scale${i}`);
        const pod = node.podConfig(name);
        const podId = await node.runPod(h.name, pod);
        const ids = await Promise.all(['a', 'b'].map((c) => node.runContainer(podId, pod, node.containerConfig(c, ['sleep', '1000']))));
        return { name, podId, ids };
      }));
      const started = Date.now() - t0;
      const all = new Set(pods.flatMap((p) => p.ids));
      const running = (await rt().ListContainers({ filter: { state: { state: 'CONTAINER_RUNNING' } } })).containers.filter((c) => all.has(c.id));
      t.equal(running.length, SCALE_PODS * 2, `all ${SCALE_PODS * 2} running (started in ${started} ms)`, why());
      const t1 = Date.now();
      await Promise.all(pods.map((p) => node.removePod(p.podId)));
      const removed = Date.now() - t1;
      const left = (await Promise.all(pods.map((p) => node.leftovers(p.name, [p.podId, ...p.ids])))).flat();
      t.same(left, [], `all removed (in ${removed} ms), nothing left`);
      t.comment(`${h.name}: ${SCALE_PODS} pods x 2 containers: start ${started} ms, removal ${removed} ms`);
    });
  }

  async function initPid(id: string): Promise<number> {
    const r = await rt().ContainerStatus({ containerId: id, verbose: true });
    return Number(JSON.parse(r.info['info'] ?? '{}').pid ?? 0);
  }

  t.test('runtime under test', async (t) => {
    t.pass(`runts handler: RUNTIME=${RUNTIME}`);
  });
}
