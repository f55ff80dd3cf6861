// A client of the Kubernetes CRI (runtime.v1 RuntimeService and ImageService,
// proto/k8s/cri/v1/api.proto), as kubelet or crictl speak it to a CRI server:
// containerd's CRI plugin, CRI-O. Each method returns a promise. Kept out of
// index.ts: the shim and the supervisor never load the CRI's descriptor.
import * as grpc from '@grpc/grpc-js';
import { fromJSON, type MethodDefinition, type Options } from '@grpc/proto-loader';
import { DESCRIPTOR } from './gen/cri-descriptor';
import type { ProtoGrpcType } from './gen/api';
import type { ImageServiceDefinition } from './gen/runtime/v1/ImageService';
import type { RuntimeServiceDefinition } from './gen/runtime/v1/RuntimeService';

// Keep in step with the generator's flags in scripts/gen.mts.
const LOAD_OPTIONS: Options = { longs: Number, enums: String, bytes: Buffer, defaults: true, oneofs: true };

export type CriApi = ProtoGrpcType['runtime']['v1'];
export type * as cri from './gen/runtime/v1/index';

/** Each unary method of a service definition as req -> Promise<res>. */
export type Promised<D> = {
  [K in keyof D]: D[K] extends MethodDefinition<infer Req, infer _Res, infer _ReqOut, infer Res> ? (req: Req, opts?: CallOpts) => Promise<Res> : never;
};

export interface CallOpts {
  /** Milliseconds before the call fails with DEADLINE_EXCEEDED (default: the client's). */
  timeoutMs?: number;
}

let api: CriApi | undefined;
export function criApi(): CriApi {
  return (api ??= (grpc.loadPackageDefinition(fromJSON(DESCRIPTOR as never, LOAD_OPTIONS)) as unknown as ProtoGrpcType).runtime.v1);
}

export class CriClient {
  readonly runtime: Promised<RuntimeServiceDefinition>;
  readonly image: Promised<ImageServiceDefinition>;
  private readonly clients: grpc.Client[];

  /** address: a gRPC target, e.g. unix:///run/containerd/containerd.sock. */
  constructor(address: string, readonly timeoutMs = 60_000) {
    const v1 = criApi();
    const rt = new v1.RuntimeService(address, grpc.credentials.createInsecure());
    const img = new v1.ImageService(address, grpc.credentials.createInsecure());
    this.clients = [rt, img];
    this.runtime = this.promised(rt, v1.RuntimeService.service) as Promised<RuntimeServiceDefinition>;
    this.image = this.promised(img, v1.ImageService.service) as Promised<ImageServiceDefinition>;
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  private promised(client: grpc.Client, service: grpc.ServiceDefinition): Record<string, (req: unknown, opts?: CallOpts) => Promise<unknown>> {
    const out: Record<string, (req: unknown, opts?: CallOpts) => Promise<unknown>> = {};
    for (const name of Object.keys(service)) {
      const method = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!.bind(client);
      out[name] = (req, opts) => new Promise((resolve, reject) => {
        const deadline = Date.now() + (opts?.timeoutMs ?? this.timeoutMs);
        method(req, { deadline }, (err: grpc.ServiceError | null, res?: unknown) => (err ? reject(err) : resolve(res)));
      });
    }
    return out;
  }
}
