/** Waiting in tests: one implementation of each way a test waits for something. */

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` every `intervalMs` until it returns something other than null/undefined and
 * returns that; throws after `timeoutMs`. For "the gateway will get there" conditions.
 */
export async function waitFor<T>(
  probe: () => T | null | undefined | Promise<T | null | undefined>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null && value !== undefined) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`waitFor: ${what} not met within ${timeoutMs} ms`);
    }
    await sleep(intervalMs);
  }
}

/**
 * Retries `assertion` until it stops throwing (then returns its value) or `timeoutMs` passes
 * (then rethrows its last error, so the failure message is the assertion's own).
 */
export async function eventually<T>(
  assertion: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await assertion();
    } catch (error) {
      if (Date.now() > deadline) {
        throw error;
      }
    }
    await sleep(intervalMs);
  }
}
