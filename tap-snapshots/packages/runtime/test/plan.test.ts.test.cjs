/* IMPORTANT
 * This snapshot file is auto-generated, but designed for humans.
 * It should be checked into source control and tracked carefully.
 * Re-generate by setting TAP_SNAPSHOT=1 and running tests.
 * Make sure to inspect the output below.  Do not ignore changes!
 */
'use strict'
exports[`packages/runtime/test/plan.test.ts > TAP > plan snapshot of the default spec > must match snapshot 1`] = `
PRCTL process: die with the runtime during setup
SYNC linux: wait for id maps and cgroup placement
SETSID process: start a new session
PRCTL process: stay non-dumpable until exec
STDIO process: install stdio
MOUNT linux.rootfsPropagation: set propagation of /
MOUNT root.path: bind /b/rootfs onto itself
OPEN_ROOT root.path: open /b/rootfs
MKDIR_IN_ROOT mounts[0].destination: create /proc
MOUNT_IN_ROOT mounts[0]: mount proc on /proc
MKDIR_IN_ROOT mounts[1].destination: create /dev
MOUNT_IN_ROOT mounts[1]: mount tmpfs on /dev
MKDIR_IN_ROOT mounts[2].destination: create /dev/pts
MOUNT_IN_ROOT mounts[2]: mount devpts on /dev/pts
MKDIR_IN_ROOT mounts[3].destination: create /dev/shm
MOUNT_IN_ROOT mounts[3]: mount tmpfs on /dev/shm
MKDIR_IN_ROOT mounts[4].destination: create /dev/mqueue
MOUNT_IN_ROOT mounts[4]: mount mqueue on /dev/mqueue
MKDIR_IN_ROOT mounts[5].destination: create /sys
MOUNT_IN_ROOT mounts[5]: mount sysfs on /sys
MKDIR_IN_ROOT mounts[6].destination: create /sys/fs/cgroup
MOUNT_IN_ROOT mounts[6]: mount tmpfs on /sys/fs/cgroup
MKDIR_IN_ROOT mounts[6]: create /sys/fs/cgroup/cpu,cpuacct
MOUNT_IN_ROOT mounts[6]: bind cgroup /sys/fs/cgroup/cpu,cpuacct/x on /sys/fs/cgroup/cpu,cpuacct
REMOUNT_IN_ROOT mounts[6].options: remount /sys/fs/cgroup/cpu,cpuacct
SYMLINK_IN_ROOT mounts[6]: link cpu -> cpu,cpuacct
SYMLINK_IN_ROOT mounts[6]: link cpuacct -> cpu,cpuacct
REMOUNT_IN_ROOT mounts[6].options: remount /sys/fs/cgroup read-only
MKNOD_IN_ROOT linux.devices: mknod /dev/null
MKNOD_IN_ROOT linux.devices: mknod /dev/zero
MKNOD_IN_ROOT linux.devices: mknod /dev/full
MKNOD_IN_ROOT linux.devices: mknod /dev/tty
MKNOD_IN_ROOT linux.devices: mknod /dev/urandom
MKNOD_IN_ROOT linux.devices: mknod /dev/random
SYMLINK_IN_ROOT linux: link /dev/fd -> /proc/self/fd
SYMLINK_IN_ROOT linux: link /dev/stdin -> /proc/self/fd/0
SYMLINK_IN_ROOT linux: link /dev/stdout -> /proc/self/fd/1
SYMLINK_IN_ROOT linux: link /dev/stderr -> /proc/self/fd/2
SYMLINK_IN_ROOT linux: link /dev/core -> /proc/kcore
SYMLINK_IN_ROOT linux: link /dev/ptmx -> pts/ptmx
PIVOT_ROOT root.path: pivot_root
READONLY root.readonly: remount / read-only
READONLY linux.readonlyPaths[0]: make /proc/bus read-only
READONLY linux.readonlyPaths[1]: make /proc/fs read-only
READONLY linux.readonlyPaths[2]: make /proc/irq read-only
READONLY linux.readonlyPaths[3]: make /proc/sys read-only
READONLY linux.readonlyPaths[4]: make /proc/sysrq-trigger read-only
MASK linux.maskedPaths[0]: mask /proc/acpi with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[1]: mask /proc/asound with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[2]: mask /proc/kcore with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[3]: mask /proc/keys with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[4]: mask /proc/latency_stats with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[5]: mask /proc/timer_list with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[6]: mask /proc/timer_stats with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[7]: mask /proc/sched_debug with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[8]: mask /sys/firmware with /dev/null (must be the 1:3 device)
MASK linux.maskedPaths[9]: mask /proc/scsi with /dev/null (must be the 1:3 device)
SETHOSTNAME hostname: set hostname runts
SETRLIMIT process.rlimits[0]: set RLIMIT_NOFILE
CAP_BOUND process.capabilities.bounding: drop bounding capabilities
PRCTL process.user: keep capabilities across setuid
SETGROUPS process.user.additionalGids: set supplementary groups
SETRESGID process.user.gid: set gid 0
SETRESUID process.user.uid: set uid 0
PRCTL process.user: stop keeping capabilities
CAPSET process.capabilities: set capabilities
CHDIR process.cwd: chdir to /
LOOKUP process.args[0]: find executable "sh"
PRCTL process.noNewPrivileges: set no_new_privs
UMASK process.user.umask: set umask
CLOSE_FDS process: close inherited fds on exec
PRCTL process: outlive the runtime
READY process: report ready
EXEC_FIFO process: wait for start
UNBLOCK_SIGNALS process: unblock signals
EXEC process.args: exec sh
`
