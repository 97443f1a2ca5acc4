import { Inject, Injectable } from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
import { BEARER_CHALLENGE, HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import { AuthFailureLimiter } from 'src/modules/auth/auth-failure-limiter';
import { readCredentials } from 'src/modules/auth/credentials';
import { hashApiKey, hashesEqual } from 'src/modules/auth/key-material';
import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';
import { endUserId, isValidUserId, maxEndUserLength } from 'src/modules/auth/user-id';

/** What the authenticator reads from a request. */
export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** The client address (the socket's peer). */
  ip: string;
}

/**
 * The one message for every wrong, revoked, inactive or malformed key, so a caller learns
 * nothing about which keys exist.
 */
export const INVALID_KEY_MESSAGE =
  'The API key is not valid: it is unknown, revoked or inactive, or the header is malformed';
export const MISSING_KEY_MESSAGE =
  'Send an API key as "Authorization: Bearer <key>" or "x-api-key: <key>"';
export const INVALID_ADMIN_MESSAGE = 'The admin token is not valid';
export const MISSING_ADMIN_MESSAGE =
  'Send the admin token as "Authorization: Bearer <ADMIN_TOKEN>"';

/**
 * Decides who is calling. The common case (a key used within the last second) is
 * synchronous: three map lookups (the key's remembered hash, its entry, `last_used_at`). See
 * docs/notes/auth.md.
 */
@Injectable()
export class AuthService {
  private readonly adminHash: string | null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly lookup: ApiKeyLookup,
    private readonly failures: AuthFailureLimiter,
    private readonly lastUsed: LastUsedRecorder,
    private readonly metrics: MetricsService,
  ) {
    this.adminHash = config.auth.adminToken === null ? null : hashApiKey(config.auth.adminToken);
  }

  /**
   * The caller's context, or an ApiError: 401 `missing_authorization` / `invalid_authorization`,
   * 429 `rate_limit_exceeded` once the address has used up its failed attempts,
   * 403 `user_override_forbidden`, 400 `invalid_field` (bad `x-user-id`).
   */
  authenticate(request: AuthRequest): AuthContext | Promise<AuthContext> {
    const credentials = readCredentials(
      request.headers[HEADER.authorization],
      request.headers[HEADER.apiKey],
    );
    if (credentials.kind !== 'key') {
      throw this.fail(request.ip, credentials.kind === 'missing', false);
    }
    const keyHash = this.lookup.hashOf(credentials.key);
    const cached = this.lookup.fresh(keyHash);
    if (cached) {
      return this.admit(cached, request);
    }
    // A throttled address is cut off before the database, unless the key is one that
    // authenticated recently: valid keys are not slowed by someone else's failures.
    if (!this.lookup.isKnown(keyHash)) {
      this.refuseIfThrottled(request.ip);
    }
    return this.lookup.load(keyHash, credentials.key).then((context) => {
      if (!context) {
        throw this.fail(request.ip, false, false);
      }
      return this.admit(context, request);
    });
  }

  /**
   * True when the request carries a key that authenticated recently (or the admin token): a
   * cheap, synchronous look before its body arrives, which lets the request hooks count work
   * from unknown callers apart (#22 item 3). Not authentication: the guard still decides.
   */
  isRecognised(headers: IncomingHttpHeaders): boolean {
    const credentials = readCredentials(headers[HEADER.authorization], headers[HEADER.apiKey]);
    if (credentials.kind !== 'key') {
      return false;
    }
    const keyHash = this.lookup.hashOf(credentials.key);
    return (
      this.lookup.isKnown(keyHash) ||
      (this.adminHash !== null && hashesEqual(keyHash, this.adminHash))
    );
  }

  /**
   * A route guarded by an operator secret rather than an API key (`/metrics` with
   * METRICS_TOKEN): `Authorization: Bearer <secret>` matching one of `secretHashes`
   * (`hashApiKey`), compared in constant time. Otherwise the answers of a key: 401
   * `missing_authorization` / `invalid_authorization`, and a wrong secret counts as a failed
   * authentication of the address (429 once it has used up its attempts; #22 item 4).
   */
  authenticateSecret(
    request: AuthRequest,
    secretHashes: readonly string[],
    messages: { missing: string; invalid: string },
  ): void {
    const header = request.headers[HEADER.authorization];
    const presented = bearerToken(header);
    if (presented !== null && matchesAny(presented, secretHashes)) {
      return;
    }
    const isMissing = header === undefined || header === '';
    const error = this.fail(request.ip, isMissing, true);
    if (error.code === 'rate_limit_exceeded') {
      throw error;
    }
    throw new ApiError(error.code, isMissing ? messages.missing : messages.invalid, {
      headers: BEARER_CHALLENGE,
    });
  }

  /**
   * For answers with an operator-only part (`/readyz` details): true when the request carries
   * one of the secrets. A wrong one counts as a failed authentication (it is still answered,
   * without the details); none at all is not a failure.
   */
  hasSecret(request: AuthRequest, secretHashes: readonly string[]): boolean {
    const header = request.headers[HEADER.authorization];
    if (header === undefined || header === '') {
      return false;
    }
    const presented = bearerToken(header);
    if (presented !== null && matchesAny(presented, secretHashes)) {
      return true;
    }
    if (this.failures.retryAfterSeconds(request.ip) === 0) {
      this.failures.recordFailure(request.ip);
    }
    return false;
  }

  /** Operator routes: `Authorization: Bearer <ADMIN_TOKEN>` (or `x-api-key`), compared in constant time. */
  authenticateAdmin(request: AuthRequest): void {
    const credentials = readCredentials(
      request.headers[HEADER.authorization],
      request.headers[HEADER.apiKey],
    );
    if (credentials.kind === 'missing') {
      throw this.fail(request.ip, true, true);
    }
    const isValid =
      credentials.kind === 'key' &&
      this.adminHash !== null &&
      hashesEqual(hashApiKey(credentials.key), this.adminHash);
    if (!isValid) {
      throw this.fail(request.ip, false, true);
    }
  }

  private admit(context: AuthContext, request: AuthRequest): AuthContext {
    this.lastUsed.touch(context.keyId);
    const override = request.headers[HEADER.userId];
    if (override === undefined) {
      return context;
    }
    if (context.role !== 'service') {
      throw new ApiError(
        'user_override_forbidden',
        'Only keys with role "service" may act for another user with x-user-id',
      );
    }
    const maxLength = maxEndUserLength(context.userId);
    if (!isValidUserId(override) || override.length > maxLength) {
      throw new ApiError(
        'invalid_field',
        `x-user-id must be 1 to ${maxLength} visible ASCII characters (no spaces)`,
        { param: HEADER.userId },
      );
    }
    return Object.freeze({ ...context, userId: endUserId(context.userId, override) });
  }

  private refuseIfThrottled(address: string): void {
    const refusal = this.throttled(address);
    if (refusal) {
      throw refusal;
    }
  }

  /** The 429 for an address that has used up its failed attempts, or null. */
  private throttled(address: string): ApiError | null {
    const retryAfter = this.failures.retryAfterSeconds(address);
    if (retryAfter === 0) {
      return null;
    }
    this.metrics.refusals.inc({ code: 'auth_throttled' });
    return new ApiError(
      'rate_limit_exceeded',
      'Too many failed authentication attempts from this address',
      { headers: { [HEADER.retryAfter]: String(retryAfter) } },
    );
  }

  /** Counts a failure against the address and returns the 401 (or the 429 once throttled). */
  private fail(address: string, isMissing: boolean, isAdmin: boolean): ApiError {
    const refusal = this.throttled(address);
    if (refusal) {
      return refusal;
    }
    this.failures.recordFailure(address);
    if (isMissing) {
      return new ApiError(
        'missing_authorization',
        isAdmin ? MISSING_ADMIN_MESSAGE : MISSING_KEY_MESSAGE,
        { headers: BEARER_CHALLENGE },
      );
    }
    return new ApiError(
      'invalid_authorization',
      isAdmin ? INVALID_ADMIN_MESSAGE : INVALID_KEY_MESSAGE,
      { headers: BEARER_CHALLENGE },
    );
  }
}

/** The token of `Authorization: Bearer <token>`, or null when there is none. */
function bearerToken(authorization: string | string[] | undefined): string | null {
  if (typeof authorization !== 'string' || authorization.length > 4096) {
    return null;
  }
  const match = /^Bearer +(\S+) *$/i.exec(authorization);
  return match ? match[1] : null;
}

function matchesAny(secret: string, hashes: readonly string[]): boolean {
  const hash = hashApiKey(secret);
  // Every hash is compared, so the time does not tell which secret matched.
  return hashes.reduce((isMatch, h) => hashesEqual(hash, h) || isMatch, false);
}
