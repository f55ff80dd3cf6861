export type { MountAttr, Spawned, Sys, WaitStatus } from './sys';
export { LinuxSys, stagePath } from './linux';
export { errnoName, strerror, sysError } from './errno';
export { testEnv } from './testbuild';
export { privateDir } from './privdir';
