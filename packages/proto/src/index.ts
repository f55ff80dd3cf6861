// The gRPC services and messages of proto/. The TypeScript types and the
// parsed service descriptions are generated from the .proto files at build
// time (src/gen), with the options the generator was given, so the two agree.
import * as grpc from '@grpc/grpc-js';
import { fromJSON, type Options, type PackageDefinition } from '@grpc/proto-loader';
import { DESCRIPTOR } from './gen/descriptor';
import type { ProtoGrpcType as ShimProto } from './gen/shim';
import type { ProtoGrpcType as SupervisorProto } from './gen/supervisor';

// Keep in step with the generator's flags in scripts/gen.mts.
const LOAD_OPTIONS: Options = { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true };

export type ShimApi = ShimProto['runts']['shim']['v1'];
export type SupervisorApi = SupervisorProto['runts']['supervisor']['v1'];

let definition: PackageDefinition | undefined;
const loaded = () => grpc.loadPackageDefinition((definition ??= fromJSON(DESCRIPTOR as never, LOAD_OPTIONS))) as unknown as ShimProto & SupervisorProto;

export function shimApi(): ShimApi {
  return loaded().runts.shim.v1;
}

export function supervisorApi(): SupervisorApi {
  return loaded().runts.supervisor.v1;
}

/** Round-trips each method's default messages once: protobufjs generates a
 * type's codecs on first use, which a resident process can do before a call waits for it. */
export function warmCodecs(service: grpc.ServiceDefinition): void {
  const empty = Buffer.alloc(0);
  for (const m of Object.values(service)) {
    m.requestSerialize(m.requestDeserialize(empty));
    m.responseSerialize(m.responseDeserialize(empty));
  }
}

export { grpc };
export { StatusError, unaryCall, unaryHandler } from './status';
export type * as shim from './gen/runts/shim/v1/index';
export type * as supervisor from './gen/runts/supervisor/v1/index';
export type * as taskv2 from './gen/containerd/task/v2/index';
export type * as ctdEvents from './gen/containerd/events/index';
