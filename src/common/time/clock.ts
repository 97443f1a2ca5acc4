/**
 * Epoch milliseconds. Everything in src/ that reads the time reads it through a `Clock`, so
 * tests move time by providing another one; `systemClock` is the only reader of `Date.now()`.
 */
export type Clock = () => number;

/** Injection token of the one `Clock` provider (ClockModule). */
export const CLOCK = Symbol('CLOCK');

/** The wall clock: the provider's value, and the default outside Nest's container. */
export const systemClock: Clock = () => Date.now();

/** Epoch seconds, as OpenAI's `created` fields carry them. */
export function epochSeconds(clock: Clock = systemClock): number {
  return Math.floor(clock() / 1000);
}
