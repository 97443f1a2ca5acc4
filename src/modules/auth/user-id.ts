/** A user id (`user_id` of a key, `x-user-id` of a service key): 1-128 visible ASCII characters. */
export const USER_ID_MAX_LENGTH = 128;
export const USER_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/**
 * Separates a service key's user from the end user it names in `x-user-id`. A key's own
 * `user_id` may not contain it, so no key's user can equal a service key's end user.
 */
export const END_USER_SEPARATOR = '/';
export const NO_END_USER_SEPARATOR = /^[^/]*$/;

/**
 * The longest effective user id: the `user_id` columns of conversations and idempotency keys
 * (varchar 200).
 */
export const EFFECTIVE_USER_ID_MAX_LENGTH = 200;

export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}

/**
 * The user a service key acts for when it sends `x-user-id`: inside the key's own namespace,
 * `<service key's user_id>/<x-user-id>`, so two frontends never share users by accident and
 * neither can reach a plain key's user (whose id has no `/`) or `default`.
 */
export function endUserId(serviceUserId: string, endUser: string): string {
  return `${serviceUserId}${END_USER_SEPARATOR}${endUser}`;
}

/** The longest `x-user-id` a service key with this `user_id` may send. */
export function maxEndUserLength(serviceUserId: string): number {
  return Math.min(
    USER_ID_MAX_LENGTH,
    EFFECTIVE_USER_ID_MAX_LENGTH - serviceUserId.length - END_USER_SEPARATOR.length,
  );
}
