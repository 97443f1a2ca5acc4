/** Milliseconds since the epoch; injected so tests can move time. */
export type Clock = () => number;

export const AUTH_CLOCK = Symbol('AUTH_CLOCK');
