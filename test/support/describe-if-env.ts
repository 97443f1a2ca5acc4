/**
 * `describe` that runs only when the environment variable is set, and says so loudly when it
 * is not, so a skipped PostgreSQL or Redis suite cannot pass unnoticed.
 */
export function describeIfEnv(variable: string, name: string, fn: () => void): void {
  if (process.env[variable]) {
    describe(name, fn);
    return;
  }
  describe(name, () => {
    it(`SKIPPED: set ${variable} to run "${name}"`, () => {
      console.warn(`\n*** SKIPPED: "${name}" needs ${variable}; it did not run. ***\n`);
    });
  });
}
