// Errors as a client sees them: a gRPC status and one line.
import { StatusError, grpc } from '@runts/proto';

/** Maps any error to the status a client gets: shim errors keep their code, except an unreachable shim. */
export function toStatus(e: unknown): Partial<grpc.StatusObject> {
  if (e instanceof StatusError) return { code: e.code, details: e.message };
  const se = e as Partial<grpc.ServiceError>;
  if (typeof se.code === 'number') {
    if (se.code === grpc.status.UNAVAILABLE) return { code: grpc.status.FAILED_PRECONDITION, details: `the container's shim does not answer: ${se.details ?? ''}` };
    return { code: se.code, details: se.details ?? se.message ?? 'error' };
  }
  return { code: grpc.status.INTERNAL, details: e instanceof Error ? e.message : String(e) };
}
