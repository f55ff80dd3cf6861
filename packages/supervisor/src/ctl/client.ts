// runtsctl's side of the Containers service: a client on runtsd's socket and
// the one-line messages its errors become.
import type { grpc, supervisor } from '@runts/proto';
import { Status, lightClient } from '@runts/proto/light';
export { unaryCall as call } from '@runts/proto/status';

export type Client = supervisor.ContainersClient;

/** A one-shot client: HTTP/2 and the generated descriptor, no grpc-js to load. */
export function connect(address: string): Client {
  return lightClient<Client>('runts.supervisor.v1.Containers', address);
}

/** The line a user sees for an error: runtsd's own words, or that runtsd is not there. */
export function errorLine(e: unknown, address: string): string {
  const se = e as Partial<grpc.ServiceError>;
  if (se.code === Status.UNAVAILABLE) return `cannot reach runtsd at ${address}: is it running?`;
  if (typeof se.code === 'number' && se.details) return se.details;
  return e instanceof Error ? (e.message.split('\n')[0] ?? String(e)) : String(e);
}
