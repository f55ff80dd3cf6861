// Types only: the schema values load TypeBox, which the CLI's hot path avoids.
export type * from './schema';
export { parseConfig, validateConfig, validateProcess, jsonPath } from './validate';
export { defaultSpec, OCI_VERSION } from './defaults';
export { features, type FeatureInputs } from './features';
export type { State } from './state';
export { CAPABILITIES, RLIMITS, NAMESPACE_TYPES, PROPAGATIONS, HOOK_KINDS } from './names';
