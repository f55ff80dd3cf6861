// The runtime library, for a resident parent (the shim); the CLI lives in cli/.
export { Runtime, type Created, type RuntimeOptions } from './runtime';
export { nodeChildren } from './hooks';
export type { CreateOptions, ExecOptions } from './options';
export type { Stdio } from './plan/build';
