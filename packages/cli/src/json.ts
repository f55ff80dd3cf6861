// JSON with 64-bit counters kept exact. A cgroup counter can exceed 2^53
// (an unlimited memory limit reads 9223372036854771712), which a JS number
// rounds; runts carries such values as bigint and writes their digits as a
// JSON number, as runc's Go does.

// Node 21+ (V8's JSON.parse source text access); ES2023's lib does not declare them.
interface RawJSON {
  rawJSON(text: string): unknown;
}
interface ReviverContext {
  source?: string;
}
type Reviver = (this: unknown, key: string, value: unknown, context?: ReviverContext) => unknown;

const raw = (JSON as unknown as RawJSON).rawJSON;

/** JSON.stringify, with every bigint written as its exact digits. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? raw(v.toString()) : v), indent);
}

/** JSON.parse, with every integer a number cannot hold exactly read as a bigint. */
export function parseJson(text: string): unknown {
  const reviver: Reviver = (_k, v, ctx) => (typeof v === 'number' && !Number.isSafeInteger(v) && ctx?.source !== undefined && /^-?\d+$/.test(ctx.source) ? BigInt(ctx.source) : v);
  return JSON.parse(text, reviver as (this: unknown, key: string, value: unknown) => unknown);
}
