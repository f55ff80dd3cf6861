// The supervisor's public API: the daemon, its records, and runtsctl's parser.
export { Daemon, execProcess, type DaemonOptions } from './daemon';
export { containersService } from './service';
export { RecordStore, applyEvent, eventContainer, isInitExit, toContainer, type ContainerRecord, type Status } from './records';
export { ShimConn, readOutbox, shimPaths, shimClient, spawnShim, type ShimEvents } from './shims';
export { parseCtlArgs, RUNTSCTL, UsageError, type Command, type Parsed } from './ctl/args';
export { psTable, statusText, eventLine, ago } from './ctl/format';
export { parseDaemonArgs, RUNTSD } from './daemon-args';
