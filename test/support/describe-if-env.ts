/**
 * `describe` that runs only when the environment variable(s) are set, and says so loudly when
 * one is not, so a skipped PostgreSQL or Redis suite cannot pass unnoticed.
 */
export function describeIfEnv(variables: string | string[], name: string, fn: () => void): void {
  const missing = [variables].flat().filter((v) => !process.env[v]);
  if (missing.length === 0) {
    describe(name, fn);
    return;
  }
  describe(name, () => {
    it(`SKIPPED: set ${missing.join(' and ')} to run "${name}"`, () => {
      console.warn(
        `\n*** SKIPPED: "${name}" needs ${missing.join(' and ')}; it did not run. ***\n`,
      );
    });
  });
}
