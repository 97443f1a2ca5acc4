/**
 * `describe` that runs only when `reason` is null. Otherwise the suite is registered with
 * `describe.skip` (jest counts its tests as skipped, never as passed) and a loud line says why,
 * so a suite that needs PostgreSQL or Redis cannot pass unnoticed on a machine without them.
 */
export function describeUnless(reason: string | null, name: string, fn: () => void): void {
  if (reason === null) {
    describe(name, fn);
    return;
  }
  console.warn(`\n*** SKIPPED: "${name}" ${reason}; it did not run. ***\n`);
  describe.skip(`${name} (SKIPPED: ${reason})`, fn);
}

/** `describe` that runs only when the environment variable(s) are set (see describeUnless). */
export function describeIfEnv(variables: string | string[], name: string, fn: () => void): void {
  const missing = [variables].flat().filter((v) => !process.env[v]);
  describeUnless(missing.length === 0 ? null : `needs ${missing.join(' and ')}`, name, fn);
}
