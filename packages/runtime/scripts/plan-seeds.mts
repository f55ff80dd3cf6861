// Writes plans the runtime builds into a dir: the fuzzer's seed corpus for the
// stage's plan decoder (bindings/fuzz-plan.c, make fuzz). One create plan with
// every kind of argument (strings, string arrays, gids, BPF, file data, a
// sched_attr), and one exec plan.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { buildPlan, buildExecPlan, dryPlanContext } = require('../dist/plan/build.js');
const { encodePlan } = require('../dist/plan/encode.js');
const { defaultSpec } = require('@runts/oci');

const out = process.argv[2];
if (!out) throw new Error('usage: plan-seeds.mts DIR');
mkdirSync(out, { recursive: true });

const spec = defaultSpec();
spec.process.terminal = false;
spec.process.user.additionalGids = [10, 20];
spec.process.scheduler = { policy: 'SCHED_BATCH', nice: 1 };
spec.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
spec.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
spec.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
spec.hooks = { createContainer: [{ path: '/bin/true', args: ['true', 'x'], env: ['A=b'] }] };
spec.linux.namespaces.push({ type: 'network' });
const create = buildPlan(dryPlanContext(spec, { bundle: '/b', rootfs: '/b/rootfs', syncFd: 10, fifoFd: 11 }));
writeFileSync(join(out, 'create'), encodePlan(create.ops, 10, 64, 12));
const exec = buildExecPlan({ process: spec.process, nsFds: new Map([['mount', 6]]), preserveFds: 1, cgroupJoinFds: [9], seccomp: spec.linux.seccomp });
writeFileSync(join(out, 'exec'), encodePlan(exec.ops, 10, 64, 12));
