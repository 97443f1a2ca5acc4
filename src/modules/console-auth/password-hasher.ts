import { randomBytes, scrypt, ScryptOptions, timingSafeEqual } from 'node:crypto';

/**
 * One of OWASP's equivalent scrypt settings (N=2^14, r=8, p=5): the work of N=2^17 with 16 MiB
 * of memory per hash instead of 128, so concurrent sign-ins cannot run the process out of
 * memory. Runs on libuv's thread pool, never on the event loop.
 */
const PARAMS = { N: 2 ** 14, r: 8, p: 5 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
/** scrypt needs 128·N·r bytes; stored hashes with larger parameters than ours are refused. */
const maxmem = (N: number, r: number) => 129 * N * r;
const MAX_N = 2 ** 20;

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N, r, p, maxmem: maxmem(N, r) };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/**
 * Console passwords, hashed with `node:crypto` scrypt (no native dependency) and compared in
 * constant time. The stored form names its parameters, so they can be raised later without
 * invalidating existing hashes.
 */
export class PasswordHasher {
  private dummy?: Promise<string>;

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_BYTES);
    const { N, r, p } = PARAMS;
    const key = await derive(password, salt, N, r, p);
    return ['scrypt', N, r, p, salt.toString('base64url'), key.toString('base64url')].join('$');
  }

  async verify(password: string, stored: string): Promise<boolean> {
    const [scheme, n, r, p, salt, key] = stored.split('$');
    const [N, R, P] = [Number(n), Number(r), Number(p)];
    if (scheme !== 'scrypt' || key === undefined || !(N > 1 && N <= MAX_N && R <= 32 && P <= 16)) {
      return false;
    }
    const expected = Buffer.from(key, 'base64url');
    const actual = await derive(password, Buffer.from(salt, 'base64url'), N, R, P);
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /**
   * Spends the same work as a real check for a user that does not exist, so the answer time
   * does not tell which usernames are registered.
   */
  async verifyNobody(password: string): Promise<false> {
    this.dummy ??= this.hash(randomBytes(16).toString('hex'));
    await this.verify(password, await this.dummy);
    return false;
  }
}
