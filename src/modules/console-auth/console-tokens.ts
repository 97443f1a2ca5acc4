/** Milliseconds since the epoch for session expiry and the sign-in limiter; tests move it. */
export const CONSOLE_CLOCK = Symbol('CONSOLE_CLOCK');

/** Sign-in attempts per client address (a `SignInLimiter`). */
export const LOGIN_LIMITER = Symbol('LOGIN_LIMITER');
