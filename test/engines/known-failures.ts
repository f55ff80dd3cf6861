// Cases runts is known to fail, keyed "<engine>: <case>", value = why (the
// evidence is in the report). Marked todo only when RUNTIME is runts; delete
// an entry when its fix lands.

// docker's config.json always has linux.resources.blockIO.weight 0 (= unset; runc skips it).
const BLKIO_ZERO = 'runts create writes blockIO.weight 0 to blkio.bfq.weight: ERANGE; every docker container fails to start';
// docker's update sends {"cpu":{"shares":0,"quota":0,"period":0},"blockIO":{"weight":0},...} on stdin.
const UPDATE_ZEROS = 'runts update --resources - writes cpu.period 0 to cpu.cfs_period_us: EINVAL (runc skips zero fields)';

export const KNOWN_FAILURES: Record<string, string> = {
  'podman: run: a failed create shows only the runtime\'s error':
    '`runts delete --force <id>` of a container with no state exits 1 with "runts: container ... does not exist" (runc: exit 0, silent); podman prints it plus "Removing container ... after creation failed"',

  'docker: run: output and exit 0': BLKIO_ZERO,
  'docker: run: a failing command\'s exit code': BLKIO_ZERO,
  'docker: run: the runtime\'s error for a nonexistent command': `${BLKIO_ZERO}; then exit 125 not 127: docker maps 127 only from "executable file not found" or "no such file or directory" in the error, runts says 'executable file "/nonexistent" not found in $PATH'`,
  'docker: run -d and logs': BLKIO_ZERO,
  'docker: run: zero resources from docker leave cgroup defaults': `${BLKIO_ZERO}; then cpu.shares 0 is written and the kernel clamps it to 2 (runc leaves 1024)`,
  'docker: exec: output and exit code': BLKIO_ZERO,
  'docker: exec -it: a terminal': BLKIO_ZERO,
  'docker: top': BLKIO_ZERO,
  'docker: pause and unpause': BLKIO_ZERO,
  'docker: update: memory limit reaches the cgroup': `${BLKIO_ZERO}; then ${UPDATE_ZEROS}`,
  'docker: stop: SIGTERM then SIGKILL': BLKIO_ZERO,
  'docker: restart: a stopped container runs again': BLKIO_ZERO,
  'docker: restart: a running container': BLKIO_ZERO,
  'docker: kill and wait': BLKIO_ZERO,
  'docker: rm -f: a running container': BLKIO_ZERO,
};
