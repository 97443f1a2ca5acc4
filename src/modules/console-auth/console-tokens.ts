/** Sign-in attempts per client address (a `SignInLimiter`). */
export const LOGIN_LIMITER = Symbol('LOGIN_LIMITER');
