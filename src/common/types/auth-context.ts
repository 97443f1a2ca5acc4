/** Who is calling, as the API-key guard established it. Attached to the request as `auth`. */
export interface AuthContext {
  keyId: string;
  /** SHA-256 (hex) of the presented key: the rate limiter's bucket id, never the raw key. */
  keyHash: string;
  /** The user the request acts for: the key's user, or the end user a service key names. */
  userId: string;
  role: 'user' | 'service' | 'node';
  allowedModels: string[] | null;
  rateLimit: { perSecond: number; burst: number } | null;
  tokenQuota: { limit: number; period: 'day' | 'month' | 'total' } | null;
}
