// config-linux.md "Seccomp": the container's own profile may deny what the
// runtime uses to set the process up. The filter applies to the container
// process; setup that runs after it is loaded (closing fds, changing ids and
// capabilities, chdir, the cwd check) must not be refused by it. Each profile
// runs under noNewPrivileges true and false: without no_new_privs, loading a
// filter needs CAP_SYS_ADMIN, which tempts a runtime to load it early.
// runc 1.1.5 and crun 1.8.1 do, and fail some of these (known-failures.json):
// without no_new_privs both load the filter before dropping privileges; with
// it, runc loads it before its last report to the parent and the exec fifo.
import { existsSync, readFileSync } from 'node:fs';
import { Runtime, config, said, suite } from '../lib/runtime';

const test = suite(__filename);

const deny = (names: string[]) => ({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names, action: 'SCMP_ACT_ERRNO' }] });

// What busybox `true` (static) calls after execve, from strace; execve itself is the runtime's last call.
const TRUE_NEEDS = ['execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'readlink', 'getrandom', 'mprotect', 'prctl', 'getuid', 'exit_group', 'exit'];

// Syscalls a runtime makes during setup, one denied at a time. busybox `true` needs none of them but prctl (PR_GET_NAME, whose failure it ignores).
const DENIED = ['close_range', 'getcwd', 'fcntl', 'prctl', 'capset', 'setgroups', 'setresuid', 'chdir', 'write', 'read', 'openat', 'close'];

function run(t: Parameters<Parameters<typeof test>[1]>[0], cfg: any): { code: number; out: string[]; stderr: string } {
  const rt = new Runtime(t);
  const r = rt.run(['run', '--bundle', rt.bundle(cfg), rt.id()]);
  return { code: r.code, out: r.stdout.trim().split('\n'), stderr: r.stderr };
}

for (const nnp of [true, false]) {
  for (const name of DENIED) {
    test(`deny ${name}, noNewPrivileges ${nnp}`, async (t) => {
      const cfg = config(['true']);
      cfg.process.noNewPrivileges = nnp;
      cfg.linux.seccomp = deny([name]);
      const r = run(t, cfg);
      t.equal(r.code, 0, `a profile denying ${name} is the process's, not the runtime's: true runs and exits 0${said(r)}`);
    });
  }

  test(`default SCMP_ACT_ERRNO, allowing only what true needs, noNewPrivileges ${nnp}`, async (t) => {
    const cfg = config(['true']);
    cfg.process.noNewPrivileges = nnp;
    cfg.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: TRUE_NEEDS, action: 'SCMP_ACT_ALLOW' }] };
    const r = run(t, cfg);
    t.equal(r.code, 0, `after the filter only execve is the runtime's: true exits 0${said(r)}`);
  });

  test(`the filter is in force, noNewPrivileges ${nnp}`, async (t) => {
    const cfg = config(['sh', '-c', 'mkdir /tmp/d 2>/dev/null && echo made || echo denied; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status']);
    cfg.process.noNewPrivileges = nnp;
    cfg.linux.seccomp = deny(['mkdir', 'mkdirat']);
    const r = run(t, cfg);
    t.equal(r.code, 0, `the process exits 0${said(r)}`);
    t.same(r.out, ['denied', `NoNewPrivs:\t${nnp ? 1 : 0}`, 'Seccomp:\t2'], 'mkdir is denied, the process is in filter mode, no_new_privs as configured');
  });
}

// In a user namespace the capability a filter needs is the namespace's own.
for (const nnp of [true, false]) {
  test(`user namespace, a profile denying close_range, getcwd and capset, noNewPrivileges ${nnp}`, async (t) => {
    const cfg = config(['sh', '-c', 'grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status']);
    cfg.process.noNewPrivileges = nnp;
    cfg.linux.namespaces.push({ type: 'user' });
    cfg.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    cfg.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    cfg.linux.seccomp = deny(['close_range', 'getcwd', 'capset']);
    const r = run(t, cfg);
    t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
    t.same(r.out, [`NoNewPrivs:\t${nnp ? 1 : 0}`, 'Seccomp:\t2'], 'under the filter');
  });
}

// An exec'd process gets the container's profile too, set up the same way.
for (const nnp of [true, false]) {
  test(`exec under a profile denying close_range, getcwd and capset, noNewPrivileges ${nnp}`, async (t) => {
    const rt = new Runtime(t);
    const cfg = config(['sleep', '30']);
    cfg.process.noNewPrivileges = nnp;
    cfg.linux.seccomp = deny(['close_range', 'getcwd', 'capset']);
    const id = rt.id();
    const c = rt.run(['create', '--bundle', rt.bundle(cfg), id]);
    t.equal(c.code, 0, `create${said(c)}`);
    t.equal(rt.run(['start', id]).code, 0, 'start');
    const e = rt.run(['exec', id, 'sh', '-c', 'grep "^Seccomp:" /proc/self/status']);
    t.equal(e.code, 0, `exec exits 0${said(e)}`);
    t.equal(e.stdout, 'Seccomp:\t2\n', 'under the filter');
    rt.run(['kill', id, 'KILL']);
  });
}

// Loading a filter without no_new_privs needs CAP_SYS_ADMIN; whatever the
// runtime holds for that, execve recomputes the sets (capabilities(7)): root
// gets bounding | inheritable, another uid only its ambient set.
const hex = (caps: number[]) => caps.reduce((m, c) => m | (1n << BigInt(c)), 0n).toString(16).padStart(16, '0');
const CAPS = [29, 5, 10]; // AUDIT_WRITE, KILL, NET_BIND_SERVICE: config()'s sets
for (const uid of [0, 1000]) {
  for (const nnp of [true, false]) {
    test(`capabilities after exec under a filter, uid ${uid}, noNewPrivileges ${nnp}`, async (t) => {
      const cfg = config(['sh', '-c', 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status']);
      cfg.process.noNewPrivileges = nnp;
      cfg.process.user = { uid, gid: uid };
      cfg.process.capabilities.inheritable = ['CAP_KILL'];
      cfg.process.capabilities.ambient = ['CAP_KILL'];
      cfg.linux.seccomp = deny(['mkdirat']);
      const r = run(t, cfg);
      t.equal(r.code, 0, `the process exits 0${said(r)}`);
      const held = uid === 0 ? CAPS : [5];
      t.same(r.out, [`CapInh:\t${hex([5])}`, `CapPrm:\t${hex(held)}`, `CapEff:\t${hex(held)}`, `CapBnd:\t${hex(CAPS)}`, `CapAmb:\t${hex([5])}`], 'execve\'s sets from the config alone: no CAP_SYS_ADMIN');
    });
  }
}

// An engine's default profile as it was before close_range and clone3 existed
// (docker 20.10's shape: default SCMP_ACT_ERRNO, one long allow list), made
// here from the host's containers-common profile with the newer calls taken out.
const HOST_PROFILE = '/usr/share/containers/seccomp.json';
const NEWER = ['close_range', 'clone3', 'openat2', 'faccessat2', 'pidfd_open', 'pidfd_getfd', 'pidfd_send_signal', 'epoll_pwait2', 'process_madvise', 'mount_setattr', 'landlock_create_ruleset', 'landlock_add_rule', 'landlock_restrict_self', 'memfd_secret', 'process_mrelease', 'futex_waitv', 'set_mempolicy_home_node', 'cachestat', 'fchmodat2', 'map_shadow_stack', 'futex_wake', 'futex_wait', 'futex_requeue', 'statmount', 'listmount', 'lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules', 'mseal'];

function oldProfile(): any {
  const p = JSON.parse(readFileSync(HOST_PROFILE, 'utf8'));
  delete p.defaultErrnoRet;
  p.defaultAction = 'SCMP_ACT_ERRNO';
  p.syscalls = p.syscalls
    .filter((s: any) => s.action === 'SCMP_ACT_ALLOW')
    // "args": null (Go's empty slice) is dropped: not what this case is about.
    .map(({ args, ...s }: any) => ({ ...s, ...(args ? { args } : {}), names: s.names.filter((n: string) => !NEWER.includes(n)) }))
    .filter((s: any) => s.names.length > 0);
  return p;
}

for (const nnp of [false, true]) {
  test(`old-style engine profile without close_range, noNewPrivileges ${nnp}`, async (t) => {
    const cfg = config(['sh', '-c', 'echo ok; grep "^Seccomp:" /proc/self/status']);
    cfg.process.noNewPrivileges = nnp;
    cfg.linux.seccomp = oldProfile();
    t.notOk(JSON.stringify(cfg.linux.seccomp).includes('close_range'), 'the profile does not list close_range');
    const r = run(t, cfg);
    t.equal(r.code, 0, `the runtime and the process exit 0${said(r)}`);
    t.same(r.out, ['ok', 'Seccomp:\t2'], 'the shell runs under the filter');
  }, { skip: existsSync(HOST_PROFILE) ? undefined : `${HOST_PROFILE} is missing (containers-common)` });
}
