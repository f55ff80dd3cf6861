// The CRI client: its messages on the wire as any CRI server reads them, and
// promise calls to a server of our own (test/cri/ speaks to containerd's).
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CriClient, criApi } from '../src/cri';

t.test('field numbers on the wire: those of the public CRI API', async (t) => {
  const rt = criApi().RuntimeService.service;
  // runtime_handler = 2 (length-delimited): tag 0x12.
  t.same([...rt.RunPodSandbox.requestSerialize({ runtimeHandler: 'x' })], [0x12, 1, 0x78], 'RunPodSandboxRequest.runtime_handler');
  // exit_code = 3 (varint): tag 0x18; stdout = 1: tag 0x0a.
  t.same([...rt.ExecSync.responseSerialize({ stdout: Buffer.from('o'), exitCode: 5 })], [0x0a, 1, 0x6f, 0x18, 5], 'ExecSyncResponse');
  // status = 1 { reason = 10: tag 0x52 }.
  t.same([...rt.ContainerStatus.responseSerialize({ status: { reason: 'R' } })], [0x0a, 3, 0x52, 1, 0x52], 'ContainerStatus.reason');
  // The request's enum is sent as its number: network = 1, NODE = 2.
  const ns = rt.RunPodSandbox.requestSerialize({ config: { linux: { securityContext: { namespaceOptions: { network: 'NODE' } } } } });
  t.same([...ns], [0x0a, 8, 0x42, 6, 0x12, 4, 0x0a, 2, 0x08, 2], 'config.linux.security_context.namespace_options.network');
  t.same(rt.Version.path, '/runtime.v1.RuntimeService/Version', 'the gRPC path kubelet uses');
  t.same(criApi().ImageService.service.ListImages.path, '/runtime.v1.ImageService/ListImages', 'and the ImageService\'s');
});

t.test('promise calls, errors and the deadline against a server', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'runts-cri-client-'));
  const server = new grpc.Server();
  t.teardown(() => {
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });
  const v1 = criApi();
  const unimplemented = Object.fromEntries(Object.keys(v1.RuntimeService.service).map((k) => [k, (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.UNIMPLEMENTED })]));
  server.addService(v1.RuntimeService.service, {
    ...unimplemented,
    Version: (call: grpc.ServerUnaryCall<{ version: string }, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { version: call.request.version, runtimeName: 'fake' }),
    ExecSync: () => undefined, // never answers
    StopContainer: (_: unknown, cb: grpc.sendUnaryData<unknown>) => cb({ code: grpc.status.NOT_FOUND, details: 'no such container' }),
  });
  const sock = join(dir, 'cri.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  const client = new CriClient(`unix://${sock}`, 5_000);
  t.teardown(() => client.close());

  t.same(await client.runtime.Version({ version: 'v1' }), { version: 'v1', runtimeName: 'fake', runtimeVersion: '', runtimeApiVersion: '' }, 'a response, defaults filled in');
  await t.rejects(client.runtime.StopContainer({ containerId: 'x' }), { code: grpc.status.NOT_FOUND, details: 'no such container' }, 'a status is the rejection');
  const t0 = Date.now();
  await t.rejects(client.runtime.ExecSync({ containerId: 'x', cmd: ['true'] }, { timeoutMs: 300 }), { code: grpc.status.DEADLINE_EXCEEDED }, 'timeoutMs is the deadline');
  t.ok(Date.now() - t0 < 3_000, 'at its time');
});
