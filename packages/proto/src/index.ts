// The gRPC services and messages of proto/. The TypeScript types are generated
// from the .proto files at build time (src/gen); the same files are loaded here
// at run time with the options the generator was given, so the two agree.
import * as grpc from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { resolve } from 'node:path';
import type { ProtoGrpcType as ShimProto } from './gen/shim';
import type { ProtoGrpcType as SupervisorProto } from './gen/supervisor';

export const PROTO_DIR = resolve(__dirname, '..', '..', '..', 'proto');

// Keep in step with the generator's flags in the Makefile.
export const LOAD_OPTIONS: Options = { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true, includeDirs: [PROTO_DIR] };

export type ShimApi = ShimProto['runts']['shim']['v1'];
export type SupervisorApi = SupervisorProto['runts']['supervisor']['v1'];

export function shimApi(): ShimApi {
  const def = loadSync('runts/shim/v1/shim.proto', LOAD_OPTIONS);
  return (grpc.loadPackageDefinition(def) as unknown as ShimProto).runts.shim.v1;
}

export function supervisorApi(): SupervisorApi {
  const def = loadSync('runts/supervisor/v1/supervisor.proto', LOAD_OPTIONS);
  return (grpc.loadPackageDefinition(def) as unknown as SupervisorProto).runts.supervisor.v1;
}

export { grpc };
export type * as shim from './gen/runts/shim/v1/index';
export type * as supervisor from './gen/runts/supervisor/v1/index';
