export { newManager, type Manager, type ManagerOptions, type CgroupMountSource, type Stats } from './manager';
export { realFs, type CgroupFs } from './fs';
export { detectMode, v1Hierarchies, parseProcCgroup, containerPath, checkSystemdPath, type Hierarchy, type Mode } from './paths';
export { sharesToWeight, blkioToIoWeight } from './v2';
export { deviceRule } from './v1';
export { statsV1, statsV2, type MemoryEntry, type BlkioEntry } from './stats';
export { watchOom, type OomSys, type OomWatch } from './oom';
export { parseSize, resourcesFromFlags, parseResourcesJson, mergeResources, writesFor, planUpdate, type UpdateFlags, type Patch } from './update';
export { Assembler, BPF, encode, decode, deviceProgram, attachDeviceProgram, BPF_PROG_TYPE_CGROUP_DEVICE, BPF_CGROUP_DEVICE, DEV_BLOCK, DEV_CHAR, ACC_MKNOD, ACC_READ, ACC_WRITE, type Insn, type BpfSys } from './ebpf';
