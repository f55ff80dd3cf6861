// The CLI's view of the runtime library: its option types live in the library (../options.ts).
export type { CreateOptions, EventsOptions, ExecOptions, GlobalOptions, Queries, RunOptions, RuntimeApi, RuntimeFactory, UpdateOptions } from '../options';
