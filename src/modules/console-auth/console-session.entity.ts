import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import { EPOCH_MS } from 'src/modules/console-auth/console-user.entity';

/**
 * A signed-in console session. The cookie carries a random id; only its SHA-256 is stored, so
 * a copy of the database signs nobody in. Every instance reads sessions from here.
 */
@Entity({ name: 'console_sessions' })
export class ConsoleSessionEntity {
  /** SHA-256 (hex) of the session id in the cookie. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  idHash: string;

  @Index('idx_console_sessions_user_id')
  @Column({ type: 'varchar', length: 36 })
  userId: string;

  /** Sent back in `x-csrf-token` on every mutating request made with this session. */
  @Column({ type: 'varchar', length: 64 })
  csrfToken: string;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;

  /** Last request seen (written at most once a minute): the idle expiry counts from here. */
  @Column({ type: 'bigint', transformer: EPOCH_MS })
  lastSeenAt: number;

  /** The absolute expiry, fixed at sign-in. */
  @Index('idx_console_sessions_expires_at')
  @Column({ type: 'bigint', transformer: EPOCH_MS })
  expiresAt: number;
}
