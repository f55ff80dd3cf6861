// warmCodecs: every method's request and response, both ways, before any call.
import t from 'tap';
import { shimApi, supervisorApi, warmCodecs, type grpc } from '../src/index';

t.test('round-trips the default message of every method, both ways', async (t) => {
  const seen: string[] = [];
  const method = (name: string) => ({
    requestDeserialize: (b: Buffer) => (seen.push(`${name} req in ${b.length}`), {}),
    requestSerialize: () => (seen.push(`${name} req out`), Buffer.alloc(0)),
    responseDeserialize: (b: Buffer) => (seen.push(`${name} res in ${b.length}`), {}),
    responseSerialize: () => (seen.push(`${name} res out`), Buffer.alloc(0)),
  });
  warmCodecs({ A: method('A'), B: method('B') } as unknown as grpc.ServiceDefinition);
  t.same(seen, ['A req in 0', 'A req out', 'A res in 0', 'A res out', 'B req in 0', 'B req out', 'B res in 0', 'B res out']);
  t.doesNotThrow(() => warmCodecs(shimApi().Task.service), "the shim's Task service");
  t.doesNotThrow(() => warmCodecs(supervisorApi().Containers.service), "runtsd's Containers service");
});
