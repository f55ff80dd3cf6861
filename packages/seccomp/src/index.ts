export { compile, ACTIONS, OPERATORS, FILTER_FLAGS, SUPPORTED_ARCHES, type Compiled } from './compile';
export { syscallNumber } from './compile';
