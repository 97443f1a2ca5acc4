import { Inject, Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { Clock, CLOCK } from 'src/common/time/clock';
import { hashApiKey } from 'src/modules/auth/key-material';
import { ConsoleSessionsRepository } from 'src/modules/console-auth/console-sessions.repository';
import { ConsoleSession } from 'src/common/types/console-session';
import { ConsoleUserEntity } from 'src/modules/console-auth/console-user.entity';

export type { ConsoleSession };

export interface StartedSession {
  /** The cookie value: shown to the browser only, never stored. */
  id: string;
  csrfToken: string;
  maxAgeSeconds: number;
}

/** `last_seen_at` is written at most this often per session (a write per request is waste). */
const TOUCH_EVERY_MS = 60_000;

/**
 * Sessions live in the database so that every instance honours them and a disabled user is
 * signed out everywhere at once. Each request reads its session (two primary-key reads).
 */
@Injectable()
export class ConsoleSessionsService {
  private readonly idleMs: number;
  private readonly maxMs: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly sessions: ConsoleSessionsRepository,
    @Inject(CLOCK) private readonly now: Clock,
  ) {
    this.idleMs = config.console.sessionIdleMs;
    this.maxMs = config.console.sessionMaxMs;
  }

  /** A new session with a fresh id (never the one the browser held before: no fixation). */
  async start(user: ConsoleUserEntity): Promise<StartedSession> {
    const id = randomBytes(32).toString('base64url');
    const csrfToken = randomBytes(32).toString('base64url');
    const now = this.now();
    await this.sessions.deleteExpired(now);
    await this.sessions.insert({
      idHash: hashApiKey(id),
      userId: user.id,
      csrfToken,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.maxMs,
    });
    return { id, csrfToken, maxAgeSeconds: Math.floor(this.maxMs / 1000) };
  }

  /** The live session behind a cookie value, or null (unknown, idle, expired, user disabled). */
  async resolve(id: string): Promise<ConsoleSession | null> {
    const idHash = hashApiKey(id);
    const found = await this.sessions.find(idHash);
    if (!found) {
      return null;
    }
    const { session, user } = found;
    const now = this.now();
    const isLive =
      user.isActive && now < session.expiresAt && now - session.lastSeenAt < this.idleMs;
    if (!isLive) {
      await this.sessions.delete(idHash);
      return null;
    }
    if (now - session.lastSeenAt >= TOUCH_EVERY_MS) {
      await this.sessions.touch(idHash, now, now - TOUCH_EVERY_MS);
    }
    return {
      idHash,
      userId: user.id,
      username: user.username,
      role: user.role,
      csrfToken: session.csrfToken,
    };
  }

  async end(id: string): Promise<void> {
    await this.sessions.delete(hashApiKey(id));
  }

  async endByHash(idHash: string): Promise<void> {
    await this.sessions.delete(idHash);
  }
}
