export type { MountAttr, Spawned, Sys, WaitStatus } from './sys';
export { LinuxSys, stagePath } from './linux';
export { errnoName, errnoOf, strerror, sysError } from './errno';
export { RecordingSys, type SysCall } from './recording';
export { testEnv } from './testbuild';
export { privateDir } from './privdir';
