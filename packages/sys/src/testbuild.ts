// The variables that steer runts for a test (a fault at a chosen step, another
// stage) are read only by the test build: make's test bundle defines
// RUNTS_TEST_BUILD as true, the installed ones as false, and tsc's output
// leaves it undefined. Anyone who can set a root process's environment must
// not be able to swap the stage it runs as root.
declare const RUNTS_TEST_BUILD: boolean | undefined;

export const TEST_BUILD: boolean = typeof RUNTS_TEST_BUILD !== 'undefined' && RUNTS_TEST_BUILD === true;

/** An environment variable that only the test build reads. */
export function testEnv(name: string): string | undefined {
  return TEST_BUILD ? process.env[name] : undefined;
}
