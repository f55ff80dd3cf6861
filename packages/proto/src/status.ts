// What servers and clients of both services share around a unary call. No
// grpc-js code is loaded here (types only): runtsctl uses it with the light client.
import type * as grpc from '@grpc/grpc-js';

/** An error a server sends as this gRPC status, its message the one line a user sees. */
export class StatusError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A unary handler over fn: its value, or the status toStatus makes of what it threw or rejected with. */
export function unaryHandler<Req, Res>(fn: (req: Req) => Res | Promise<Res>, toStatus: (e: unknown) => Partial<grpc.StatusObject>): grpc.handleUnaryCall<Req, Res> {
  return (call, cb) => {
    Promise.resolve()
      .then(() => fn(call.request))
      .then((res) => cb(null, res), (e: unknown) => cb(toStatus(e)));
  };
}

/** Promise form of a unary call: pass (cb) => client.Method(req, cb). */
export function unaryCall<T>(fn: (cb: (err: grpc.ServiceError | null, res?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, res) => (err ? reject(err) : resolve(res as T))));
}
