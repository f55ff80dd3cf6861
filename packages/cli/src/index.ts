// What runts, runtsctl, runtsd and runts-shim share at their command lines.
// The man page and completion writers (doc.ts) are '@runts/cli/doc': only the build needs them.
export { FlagError, parseFlags, type FlagSpec, type FlagSpecs, type FlagValue, type ParsedFlags } from './flags';
export { command, commandHelp, flagLines, flagSpecs, helpText, HELP, parse, parseOptions, type Command, type CommandDoc, type Flag, type Flags, type Parsed, type Program, type Values } from './args';
export { clip, Logger, writeAll } from './log';
export { parseJson, toJson } from './json';
export { parseSignal } from './signal';
export { isoTime } from './time';
export { VERSION, versionText } from './version';
