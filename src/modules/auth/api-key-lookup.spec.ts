import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import * as keyMaterial from 'src/modules/auth/key-material';
import { hashApiKey } from 'src/modules/auth/key-material';
import { InMemoryKeySource, keyEntity } from 'test/support/key-fakes';

const KEY = 'pk-lookup-0123456789abcdef';
const HASH = hashApiKey(KEY);

describe(ApiKeyLookup.name, () => {
  let now: number;
  let source: InMemoryKeySource;
  let lookup: ApiKeyLookup;

  beforeEach(() => {
    now = 1_000_000;
    source = new InMemoryKeySource();
    source.add(
      keyEntity(KEY, {
        rateLimit: { per_second: 2, burst: 10 },
        tokenQuota: { limit: 100, period: 'day' },
        allowedModels: ['m1'],
      }),
    );
    lookup = new ApiKeyLookup(source, () => now, {
      freshMs: 1000,
      rememberMs: 60_000,
      maxEntries: 3,
    });
  });

  it('maps an active key to its context, camelCased', async () => {
    await expect(lookup.load(HASH)).resolves.toEqual({
      keyId: `id-${KEY}`,
      keyHash: HASH,
      userId: 'alice',
      role: 'user',
      allowedModels: ['m1'],
      rateLimit: { perSecond: 2, burst: 10 },
      tokenQuota: { limit: 100, period: 'day' },
    });
  });

  it('answers from memory for one second, then asks the database again', async () => {
    expect(lookup.fresh(HASH)).toBeUndefined();
    await lookup.load(HASH);
    expect(source.queries).toBe(1);
    now += 999;
    expect(lookup.fresh(HASH)?.keyId).toBe(`id-${KEY}`);
    now += 1;
    expect(lookup.fresh(HASH)).toBeUndefined();
  });

  it('sees a revocation made elsewhere once the entry is stale', async () => {
    await lookup.load(HASH);
    source.keys.get(HASH)!.isActive = false;
    now += 1000;
    expect(lookup.fresh(HASH)).toBeUndefined();
    await expect(lookup.load(HASH)).resolves.toBeNull();
    expect(lookup.isKnown(HASH)).toBe(false);
  });

  it('forgets a key at once when told', async () => {
    await lookup.load(HASH);
    lookup.forget(HASH);
    expect(lookup.fresh(HASH)).toBeUndefined();
    expect(lookup.isKnown(HASH)).toBe(false);
  });

  it('does not cache a load that was in flight when the key was revoked', async () => {
    const pending = lookup.load(HASH);
    lookup.forget(HASH);
    await pending;
    expect(lookup.fresh(HASH)).toBeUndefined();
  });

  it('sends one query for many concurrent requests with the same key', async () => {
    await Promise.all(Array.from({ length: 50 }, () => lookup.load(HASH)));
    expect(source.queries).toBe(1);
  });

  it('never caches unknown or inactive keys', async () => {
    const inactive = 'pk-inactive-0123456789abc';
    source.add(keyEntity(inactive, { isActive: false }));
    await expect(lookup.load(hashApiKey(inactive))).resolves.toBeNull();
    await expect(lookup.load(hashApiKey('pk-unknown-0123456789ab'))).resolves.toBeNull();
    expect(lookup.size).toBe(0);
  });

  it('remembers a key that authenticated for rememberMs', async () => {
    await lookup.load(HASH);
    now += 59_999;
    expect(lookup.isKnown(HASH)).toBe(true);
    now += 1;
    expect(lookup.isKnown(HASH)).toBe(false);
  });

  it('holds at most maxEntries keys, dropping the least recently loaded', async () => {
    const keys = ['a', 'b', 'c', 'd'].map((k) => `pk-bound-${k}-0123456789abc`);
    keys.forEach((k) => source.add(keyEntity(k)));
    for (const key of keys) {
      await lookup.load(hashApiKey(key));
    }
    expect(lookup.size).toBe(3);
    expect(lookup.isKnown(hashApiKey(keys[0]))).toBe(false);
    expect(lookup.isKnown(hashApiKey(keys[3]))).toBe(true);
  });

  describe('hashOf', () => {
    afterEach(() => jest.restoreAllMocks());

    it('hashes a presented key until it has been loaded with it, then remembers its hash', async () => {
      const hash = jest.spyOn(keyMaterial, 'hashApiKey');
      expect(lookup.hashOf(KEY)).toBe(HASH);
      await lookup.load(HASH, KEY);
      hash.mockClear();
      now += 5_000; // stale: the hash is still right, the entry decides validity
      expect(lookup.hashOf(KEY)).toBe(HASH);
      expect(lookup.fresh(HASH)).toBeUndefined();
      expect(hash).not.toHaveBeenCalled();
    });

    it('drops the plaintext with its entry: revoked, found inactive, or evicted', async () => {
      const hash = jest.spyOn(keyMaterial, 'hashApiKey');
      const others = ['a', 'b', 'c'].map((k) => `pk-evict-${k}-0123456789abc`);
      others.forEach((k) => source.add(keyEntity(k)));
      const hashedAgain = async (drop: () => Promise<unknown> | void) => {
        await lookup.load(HASH, KEY);
        await drop();
        hash.mockClear();
        expect(lookup.hashOf(KEY)).toBe(HASH);
        return hash.mock.calls.length;
      };
      expect(await hashedAgain(() => lookup.forget(HASH))).toBe(1);
      expect(
        await hashedAgain(async () => {
          source.keys.get(HASH)!.isActive = false;
          await lookup.load(HASH, KEY);
          source.keys.get(HASH)!.isActive = true;
        }),
      ).toBe(1);
      expect(
        await hashedAgain(async () => {
          for (const key of others) {
            await lookup.load(hashApiKey(key), key);
          }
        }),
      ).toBe(1);
    });

    it('remembers nothing for a key that does not match the hash it was loaded under', async () => {
      await lookup.load(HASH, 'pk-other-0123456789abcdef');
      expect(lookup.hashOf('pk-other-0123456789abcdef')).toBe(
        hashApiKey('pk-other-0123456789abcdef'),
      );
    });
  });

  it('returns a frozen context', async () => {
    const context = await lookup.load(HASH);
    expect(Object.isFrozen(context)).toBe(true);
  });
});
