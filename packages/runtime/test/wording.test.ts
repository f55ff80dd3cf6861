// The words engines match in runts' errors. Each engine's check is restated
// here from its source, named, and run on the message runts prints; the
// integration test (test/runtime.test.ts "errors in runc's words") checks
// the messages on real containers against runc's own.
import t from 'tap';
import * as w from '../src/wording';

/** containerd v1.6.20 pkg/process/utils.go checkKillError: these errors mean "already gone" (ErrNotFound). */
function containerdKillGone(msg: string): boolean {
  return msg.includes('os: process already finished') || msg.includes('container not running') || msg.toLowerCase().includes('no such process') || msg.includes('does not exist');
}
/** containerd v1.6.20 pkg/process/init.go (*Init).delete: a delete error with these words is ignored. */
const containerdDeleteGone = (msg: string) => msg.includes('does not exist');
/** podman libpod/oci_conmon_linux.go UpdateContainerStatus: `state` failing with these words means the container exited. */
const podmanStateGone = (msg: string) => msg.includes('does not exist');

// What the CLI prints: `runts: <message>` on stderr, the message alone in the log.
const printed = (msg: string) => `runts: ${msg}\n`;

t.test('kill of an exited container: containerd checkKillError', async (t) => {
  t.equal(w.NOT_RUNNING, 'container not running', "runc 1.1.5's words");
  t.ok(containerdKillGone(printed(w.NOT_RUNNING)));
});

t.test('a signal to a process that exited meanwhile: containerd checkKillError', async (t) => {
  t.ok(containerdKillGone(printed(`pidfd_send_signal: ${w.NO_SUCH_PROCESS}`)));
});

t.test('an unknown id: containerd checkKillError and Init.delete, podman UpdateContainerStatus', async (t) => {
  t.equal(w.NOT_EXIST, 'container does not exist', "runc 1.1.5's words");
  t.ok(containerdKillGone(printed(w.NOT_EXIST)));
  t.ok(containerdDeleteGone(printed(w.NOT_EXIST)));
  t.ok(podmanStateGone(printed(w.NOT_EXIST)));
});

t.test('words no engine matches, as runc says them', async (t) => {
  t.equal(w.NOT_PAUSED, 'container not paused');
  t.equal(w.START_RUNNING, 'cannot start an already running container');
  t.equal(w.START_STOPPED, 'cannot start a container that has stopped');
  t.equal(w.deleteNotStopped('c1', 'running'), 'cannot delete container c1 that is not stopped: running');
  // A refusal must not read as "already gone": engines would then drop a live container.
  for (const m of [w.NOT_PAUSED, w.START_RUNNING, w.START_STOPPED, w.deleteNotStopped('c1', 'running')]) {
    t.notOk(containerdKillGone(m) || containerdDeleteGone(m), m);
  }
});
