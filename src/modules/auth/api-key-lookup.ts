import { LRUCache } from 'lru-cache';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { hashApiKey, hashesEqual } from 'src/modules/auth/key-material';

export interface KeySource {
  findByHash(keyHash: string): Promise<ApiKeyEntity | null>;
}

export interface ApiKeyLookupOptions {
  /** How long a successful lookup is trusted without asking the database again. */
  freshMs: number;
  /** How long a key that authenticated counts as known (see `isKnown`). */
  rememberMs: number;
  /** Upper bound on cached keys; the least recently loaded are dropped first. */
  maxEntries: number;
}

export const DEFAULT_LOOKUP_OPTIONS: ApiKeyLookupOptions = {
  freshMs: 1000,
  rememberMs: 10 * 60_000,
  maxEntries: 10_000,
};

interface Entry {
  context: AuthContext;
  loadedAt: number;
  /** The presented key the entry was loaded for (see `hashOf`). */
  key?: string;
}

/** The context an active key grants, frozen: requests share it unless `x-user-id` changes it. */
export function authContextFor(key: ApiKeyEntity): AuthContext {
  return Object.freeze({
    keyId: key.id,
    keyHash: key.keyHash,
    userId: key.userId,
    role: key.role,
    allowedModels: key.allowedModels ? Object.freeze([...key.allowedModels]) : null,
    rateLimit: key.rateLimit
      ? Object.freeze({ perSecond: key.rateLimit.per_second, burst: key.rateLimit.burst })
      : null,
    tokenQuota: key.tokenQuota
      ? Object.freeze({ limit: key.tokenQuota.limit, period: key.tokenQuota.period })
      : null,
  }) as AuthContext;
}

/**
 * Finds the active key for a SHA-256 hash, caching successful lookups for `freshMs` (one
 * second) so the request path does not query the database on every request (issue #10).
 * Revocation through this process drops the entry at once (`forget`); through another
 * process (a second instance, the CLI) it takes effect when the entry goes stale, within
 * `freshMs`. Unknown and inactive keys are never cached.
 *
 * The hash of a presented key is remembered with its entry (`hashOf`), so a key in use is
 * hashed on its first request, not on each: the plaintext of a cached key stays in memory
 * as long as its entry, and goes with it (eviction, `forget`, a load that finds it inactive).
 * Whether the key is still valid is decided by the entry as before, so revocation is as prompt.
 */
export class ApiKeyLookup {
  /** Least recently loaded dropped first: reads `peek`, so only a load counts as use. */
  private readonly entries: LRUCache<string, Entry>;
  /** Presented key → its hash, for the entries above that were loaded with their key. */
  private readonly hashes = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<AuthContext | null>>();
  /** Bumped by `forget`: a load that started before a revocation must not re-cache the key. */
  private generation = 0;

  constructor(
    private readonly source: KeySource,
    private readonly now: () => number,
    private readonly options: ApiKeyLookupOptions = DEFAULT_LOOKUP_OPTIONS,
  ) {
    this.entries = new LRUCache<string, Entry>({
      max: options.maxEntries,
      dispose: (entry) => {
        if (entry.key !== undefined) {
          this.hashes.delete(entry.key);
        }
      },
    });
  }

  /** The SHA-256 of a presented key (`hashApiKey`), remembered for the keys cached here. */
  hashOf(key: string): string {
    return this.hashes.get(key) ?? hashApiKey(key);
  }

  /** The cached context when it is fresh; undefined when the database must be asked. */
  fresh(keyHash: string): AuthContext | undefined {
    const entry = this.entries.peek(keyHash);
    return entry && this.now() - entry.loadedAt < this.options.freshMs ? entry.context : undefined;
  }

  /**
   * True when this key authenticated recently and has not been revoked through this process
   * since. Lets a valid key through while its client address is throttled for failures.
   */
  isKnown(keyHash: string): boolean {
    const entry = this.entries.peek(keyHash);
    return entry !== undefined && this.now() - entry.loadedAt < this.options.rememberMs;
  }

  /**
   * Asks the database (one query per hash at a time, however many requests wait on it).
   * `key`: the presented key, whose hash `hashOf` then remembers while the entry lasts.
   */
  load(keyHash: string, key?: string): Promise<AuthContext | null> {
    const pending = this.inFlight.get(keyHash);
    if (pending) {
      return pending;
    }
    const generation = this.generation;
    const promise = this.source
      .findByHash(keyHash)
      .then((found) => {
        if (!found || !found.isActive || !hashesEqual(found.keyHash, keyHash)) {
          this.entries.delete(keyHash);
          return null;
        }
        const context = authContextFor(found);
        if (generation === this.generation) {
          this.remember(keyHash, context, key);
        }
        return context;
      })
      .finally(() => this.inFlight.delete(keyHash));
    this.inFlight.set(keyHash, promise);
    return promise;
  }

  /** Drops a key at once (after it was changed, deactivated or deleted). */
  forget(keyHash: string): void {
    this.generation++;
    this.entries.delete(keyHash);
  }

  get size(): number {
    return this.entries.size;
  }

  private remember(keyHash: string, context: AuthContext, key: string | undefined): void {
    // After `set`: replacing an entry disposes of the old one, and with it its key's hash.
    this.entries.set(keyHash, { context, loadedAt: this.now(), key });
    if (key !== undefined && hashApiKey(key) === keyHash) {
      this.hashes.set(key, keyHash);
    }
  }
}
