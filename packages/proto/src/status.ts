// What servers and clients of both services share around a unary call. No
// grpc-js code is loaded here (types only): runtsctl uses it with the light client.
import type * as grpc from '@grpc/grpc-js';
import { isRuntsError, type ErrorCode } from '@runts/errors';
import { Status } from './light';

/** An error a server sends as this gRPC status, its message the one line a user sees. */
export class StatusError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

// Our error codes as gRPC (and ttrpc) statuses; what is not here is INTERNAL.
const CODES: Partial<Record<ErrorCode, number>> = {
  ERR_NOT_FOUND: Status.NOT_FOUND,
  ERR_EXISTS: Status.ALREADY_EXISTS,
  ERR_INVALID_ID: Status.INVALID_ARGUMENT,
  ERR_BAD_STATE: Status.FAILED_PRECONDITION,
  ERR_CONFIG_INVALID: Status.INVALID_ARGUMENT,
  ERR_USAGE: Status.INVALID_ARGUMENT,
  ERR_UNSUPPORTED: Status.UNIMPLEMENTED,
};

/** The one mapping from what a handler threw to the status its client gets,
 * for every server of the stack (shim, containerd's shim, runtsd), as
 * containerd's errdefs. A status from a service this server called on keeps
 * its code, except UNAVAILABLE: passed on, it would tell the client that this
 * server is down. `callee` names that service in the message. */
export function toStatus(e: unknown, callee = 'a service it needs'): { code: number; details: string } {
  if (e instanceof StatusError) return { code: e.code, details: e.message };
  if (isRuntsError(e)) return { code: CODES[e.code] ?? Status.INTERNAL, details: e.message };
  const se = e as { code?: unknown; details?: string; message?: string };
  if (typeof se.code === 'number') {
    if (se.code === Status.UNAVAILABLE) return { code: Status.FAILED_PRECONDITION, details: `${callee} does not answer: ${se.details ?? ''}` };
    return { code: se.code, details: se.details ?? se.message ?? 'error' };
  }
  return { code: Status.INTERNAL, details: e instanceof Error ? e.message : String(e) };
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
