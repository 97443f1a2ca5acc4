import { Injectable } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { BEARER_CHALLENGE, HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import 'src/common/types/fastify-request';
import { hashApiKey } from 'src/modules/auth/key-material';
import { ApiError } from 'src/common/errors/api-error';
import {
  ConsoleSession,
  ConsoleSessionsService,
} from 'src/modules/console-auth/console-sessions.service';
import { readSessionId } from 'src/modules/console-auth/session-cookie';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The `/c1` and `/v1` user a console user chats as (the playground). */
export const consoleUserId = (username: string) => `console:${username}`;

/**
 * The session side of the global guard. A request that carries a credential header is judged
 * by that credential alone (ADMIN_TOKEN, an API key); one that carries only the session cookie
 * is judged here: the session must be live, a mutating request must echo its CSRF token in
 * `x-csrf-token`, and a viewer may not mutate anything.
 */
@Injectable()
export class ConsoleSessionGate {
  constructor(private readonly sessions: ConsoleSessionsService) {}

  /** True when the request should be judged by its session cookie. */
  carriesSession(request: FastifyRequest): boolean {
    const headers = request.headers;
    return (
      headers[HEADER.authorization] === undefined &&
      headers[HEADER.apiKey] === undefined &&
      readSessionId(headers.cookie) !== null
    );
  }

  /** Operator routes (`/api/*`): admits the session or throws the catalog error. */
  async admitOperator(request: FastifyRequest): Promise<ConsoleSession> {
    const session = await this.admit(request);
    request.consoleSession = session;
    return session;
  }

  /**
   * API-key routes (the playground's `/c1` calls): the session acts as user `console:<name>`,
   * with the default rate limit and no quota; usage is recorded under that name as key id.
   */
  async admitAsUser(request: FastifyRequest): Promise<AuthContext> {
    const session = await this.admitOperator(request);
    const userId = consoleUserId(session.username);
    return Object.freeze({
      keyId: userId,
      keyHash: hashApiKey(userId),
      userId,
      role: 'user',
      allowedModels: null,
      rateLimit: null,
      tokenQuota: null,
    });
  }

  /** The live session the cookie names, or null. */
  async sessionOf(request: FastifyRequest): Promise<ConsoleSession | null> {
    const id = readSessionId(request.headers.cookie);
    return id === null ? null : this.sessions.resolve(id);
  }

  /** Throws 403 `csrf_failed` unless `x-csrf-token` is this session's token. */
  assertCsrf(request: FastifyRequest, session: ConsoleSession): void {
    if (!csrfMatches(request.headers[HEADER.csrfToken], session.csrfToken)) {
      throw new ApiError(
        'csrf_failed',
        'A change made with a console session needs its CSRF token in x-csrf-token',
      );
    }
  }

  private async admit(request: FastifyRequest): Promise<ConsoleSession> {
    const session = await this.sessionOf(request);
    if (!session) {
      throw new ApiError(
        'invalid_authorization',
        'The console session has ended or expired: sign in again',
        { headers: BEARER_CHALLENGE },
      );
    }
    if (!SAFE_METHODS.has(request.method)) {
      this.assertCsrf(request, session);
      if (session.role !== 'admin') {
        throw new ApiError('console_role_forbidden', 'Viewers may read but not change anything');
      }
    }
    return session;
  }
}

function csrfMatches(sent: string | string[] | undefined, expected: string): boolean {
  if (typeof sent !== 'string') {
    return false;
  }
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
