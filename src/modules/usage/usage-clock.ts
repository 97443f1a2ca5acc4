/** Epoch milliseconds; injected so tests can move days and months. */
export type UsageClock = () => number;

export const USAGE_CLOCK = Symbol('USAGE_CLOCK');
