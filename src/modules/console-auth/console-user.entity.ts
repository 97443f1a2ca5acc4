import { Column, Entity, Index, PrimaryColumn, ValueTransformer } from 'typeorm';
import { ConsoleRole } from 'src/common/types/console-session';

export type { ConsoleRole };
export const CONSOLE_ROLES: readonly ConsoleRole[] = ['admin', 'viewer'];

/** Epoch milliseconds in a `bigint` column (`pg` returns BIGINT as a string). */
export const EPOCH_MS: ValueTransformer = {
  to: (value: number | null | undefined) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/**
 * A person who signs in to the console. Only a scrypt hash of the password is stored
 * (`password-hasher.ts`); disabling a user ends every session they hold.
 */
@Entity({ name: 'console_users' })
export class ConsoleUserEntity {
  /** Random UUIDv4. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Index('idx_console_users_username', { unique: true })
  @Column({ type: 'varchar', length: 64 })
  username: string;

  /** `scrypt$N$r$p$salt$hash` (base64url parts): parameters travel with the hash. */
  @Column({ type: 'varchar', length: 255 })
  passwordHash: string;

  @Column({ type: 'varchar', length: 16 })
  role: ConsoleRole;

  @Column({ type: 'boolean' })
  isActive: boolean;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  createdAt: number;

  @Column({ type: 'bigint', transformer: EPOCH_MS })
  updatedAt: number;
}
