/** A user id (`user_id` of a key, `x-user-id` of a service key): 1-128 visible ASCII characters. */
export const USER_ID_MAX_LENGTH = 128;
export const USER_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

export function isValidUserId(value: unknown): value is string {
  return typeof value === 'string' && USER_ID_PATTERN.test(value);
}
