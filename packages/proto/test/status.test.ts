// The one mapping from a handler's error to the status its client gets.
import t from 'tap';
import { RuntsError, type ErrorCode } from '@runts/errors';
import { Status } from '../src/light';
import { StatusError, toStatus } from '../src/status';

t.test('our error codes', async (t) => {
  const want: [ErrorCode, number][] = [
    ['ERR_NOT_FOUND', Status.NOT_FOUND],
    ['ERR_EXISTS', Status.ALREADY_EXISTS],
    ['ERR_INVALID_ID', Status.INVALID_ARGUMENT],
    ['ERR_BAD_STATE', Status.FAILED_PRECONDITION],
    ['ERR_CONFIG_INVALID', Status.INVALID_ARGUMENT],
    ['ERR_USAGE', Status.INVALID_ARGUMENT],
    ['ERR_UNSUPPORTED', Status.UNIMPLEMENTED],
    ['ERR_SYSCALL', Status.INTERNAL],
    ['ERR_IO', Status.INTERNAL],
  ];
  for (const [code, status] of want) t.same(toStatus(new RuntsError(code, `${code} said`)), { code: status, details: `${code} said` }, code);
});

t.test('a status thrown as such keeps its code', async (t) => {
  t.same(toStatus(new StatusError(Status.ALREADY_EXISTS, 'twice')), { code: Status.ALREADY_EXISTS, details: 'twice' });
});

t.test("a callee's status is passed on, but not its UNAVAILABLE", async (t) => {
  t.same(toStatus({ code: Status.NOT_FOUND, details: 'no such exec', message: '5 NOT_FOUND: no such exec' }), { code: Status.NOT_FOUND, details: 'no such exec' });
  t.same(toStatus({ code: Status.UNAVAILABLE, details: 'connect ENOENT' }, "the container's shim"), { code: Status.FAILED_PRECONDITION, details: "the container's shim does not answer: connect ENOENT" });
  t.equal(toStatus({ code: Status.UNAVAILABLE, details: 'x' }).code, Status.FAILED_PRECONDITION);
});

t.test('anything else is INTERNAL with its message', async (t) => {
  t.same(toStatus(new Error('boom')), { code: Status.INTERNAL, details: 'boom' });
  t.same(toStatus(Object.assign(new Error('ENOENT: x'), { code: 'ENOENT' })), { code: Status.INTERNAL, details: 'ENOENT: x' }, 'an errno code is no status');
  t.same(toStatus('text'), { code: Status.INTERNAL, details: 'text' });
});
