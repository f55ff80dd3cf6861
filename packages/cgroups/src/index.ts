export { newManager, type Manager, type ManagerOptions, type CgroupMountSource, type Stats } from './manager';
export { realFs, type CgroupFs } from './fs';
export { detectMode, v1Hierarchies, parseProcCgroup, containerPath, checkSystemdPath, type Hierarchy, type Mode } from './paths';
export { sharesToWeight, blkioToIoWeight } from './v2';
export { deviceRule } from './v1';
