import { Injectable } from '@nestjs/common';
import { DataSource, LessThan, Repository } from 'typeorm';
import { ConsoleSessionEntity } from 'src/modules/console-auth/console-session.entity';
import { ConsoleUserEntity } from 'src/modules/console-auth/console-user.entity';

export interface SessionWithUser {
  session: ConsoleSessionEntity;
  user: ConsoleUserEntity;
}

/** Console sessions in the database, so every gateway instance honours every session. */
@Injectable()
export class ConsoleSessionsRepository {
  private readonly sessions: Repository<ConsoleSessionEntity>;
  private readonly users: Repository<ConsoleUserEntity>;

  constructor(dataSource: DataSource) {
    this.sessions = dataSource.getRepository(ConsoleSessionEntity);
    this.users = dataSource.getRepository(ConsoleUserEntity);
  }

  insert(session: ConsoleSessionEntity): Promise<unknown> {
    return this.sessions.insert(session);
  }

  /** The session and its user (two primary-key reads), or null. */
  async find(idHash: string): Promise<SessionWithUser | null> {
    const session = await this.sessions.findOneBy({ idHash });
    if (!session) {
      return null;
    }
    const user = await this.users.findOneBy({ id: session.userId });
    return user ? { session, user } : null;
  }

  /** Moves `last_seen_at` forward; conditional, so concurrent touches write once. */
  async touch(idHash: string, now: number, notSince: number): Promise<void> {
    await this.sessions.update({ idHash, lastSeenAt: LessThan(notSince) }, { lastSeenAt: now });
  }

  async delete(idHash: string): Promise<void> {
    await this.sessions.delete({ idHash });
  }

  async deleteForUser(userId: string): Promise<void> {
    await this.sessions.delete({ userId });
  }

  /** Drops sessions past their absolute expiry (idle ones are refused when read). */
  async deleteExpired(now: number): Promise<void> {
    await this.sessions.delete({ expiresAt: LessThan(now) });
  }
}
