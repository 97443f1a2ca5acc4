import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { CONSOLE_USERNAME_PATTERN } from 'src/config/env.schema';
import { ApiError } from 'src/common/errors/api-error';
import { Clock, CLOCK } from 'src/common/time/clock';
import {
  ConsoleRole,
  CONSOLE_ROLES,
  ConsoleUserEntity,
} from 'src/modules/console-auth/console-user.entity';
import { ConsoleUsersRepository } from 'src/modules/console-auth/console-users.repository';
import { ConsoleSessionsRepository } from 'src/modules/console-auth/console-sessions.repository';
import {
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
  PasswordHasher,
} from 'src/modules/console-auth/password-hasher';

/** A console user as the CLI and `/api/me` show it: never the hash. */
export interface ConsoleUserView {
  id: string;
  username: string;
  role: ConsoleRole;
  is_active: boolean;
  created_at: string;
}

export const MAX_CONSOLE_USERS_LISTED = 1_000;

export function toUserView(user: ConsoleUserEntity): ConsoleUserView {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    is_active: user.isActive,
    created_at: new Date(user.createdAt).toISOString(),
  };
}

/** Creates, changes and checks console users; the CLI, the bootstrap and sign-in share it. */
@Injectable()
export class ConsoleUsersService {
  constructor(
    private readonly users: ConsoleUsersRepository,
    private readonly sessions: ConsoleSessionsRepository,
    private readonly hasher: PasswordHasher,
    @Inject(CLOCK) private readonly now: Clock,
  ) {}

  async create(username: string, password: string, role: ConsoleRole): Promise<ConsoleUserView> {
    checkUsername(username);
    checkPassword(password);
    checkRole(role);
    if (await this.users.findByUsername(username)) {
      throw new ApiError('invalid_field', `Console user "${username}" already exists`, {
        param: 'username',
      });
    }
    const now = this.now();
    const user: ConsoleUserEntity = {
      id: randomUUID(),
      username,
      passwordHash: await this.hasher.hash(password),
      role,
      isActive: true,
      createdAt: now,
      updatedAt: now,
    };
    await this.users.insert(user);
    return toUserView(user);
  }

  /** Sets the password (and re-enables the user); every session they hold ends. */
  async setPassword(username: string, password: string): Promise<ConsoleUserView> {
    checkPassword(password);
    const user = await this.existing(username);
    const changes = {
      passwordHash: await this.hasher.hash(password),
      isActive: true,
      updatedAt: this.now(),
    };
    await this.users.update(user.id, changes);
    await this.sessions.deleteForUser(user.id);
    return toUserView({ ...user, ...changes });
  }

  /** Disables the user and ends every session they hold, on every instance. */
  async disable(username: string): Promise<ConsoleUserView> {
    const user = await this.existing(username);
    await this.users.update(user.id, { isActive: false, updatedAt: this.now() });
    await this.sessions.deleteForUser(user.id);
    return toUserView({ ...user, isActive: false });
  }

  async list(): Promise<ConsoleUserView[]> {
    return (await this.users.list(MAX_CONSOLE_USERS_LISTED)).map(toUserView);
  }

  /**
   * Upserts the admin named by CONSOLE_ADMIN_USER with CONSOLE_ADMIN_PASSWORD at start: created
   * when missing; otherwise made an active admin, its password replaced only when it differs.
   */
  async ensureAdmin(username: string, password: string): Promise<'created' | 'updated' | 'kept'> {
    const user = await this.users.findByUsername(username);
    if (!user) {
      await this.create(username, password, 'admin');
      return 'created';
    }
    const isSame =
      user.isActive &&
      user.role === 'admin' &&
      (await this.hasher.verify(password, user.passwordHash));
    if (isSame) {
      return 'kept';
    }
    await this.users.update(user.id, {
      passwordHash: await this.hasher.hash(password),
      role: 'admin',
      isActive: true,
      updatedAt: this.now(),
    });
    await this.sessions.deleteForUser(user.id);
    return 'updated';
  }

  /**
   * The active user these credentials name, or null. An unknown or disabled user costs the
   * same scrypt work as a wrong password, so timing does not reveal which names exist.
   */
  async authenticate(username: string, password: string): Promise<ConsoleUserEntity | null> {
    const user = CONSOLE_USERNAME_PATTERN.test(username)
      ? await this.users.findByUsername(username)
      : null;
    if (!user || password.length > PASSWORD_MAX_LENGTH) {
      return this.hasher.verifyNobody(password.slice(0, PASSWORD_MAX_LENGTH)).then(() => null);
    }
    const isValid = await this.hasher.verify(password, user.passwordHash);
    return isValid && user.isActive ? user : null;
  }

  private async existing(username: string): Promise<ConsoleUserEntity> {
    const user = await this.users.findByUsername(username);
    if (!user) {
      throw new ApiError('invalid_field', `No console user "${username}"`, { param: 'username' });
    }
    return user;
  }
}

function checkUsername(username: string): void {
  if (!CONSOLE_USERNAME_PATTERN.test(username)) {
    throw new ApiError('invalid_field', 'username must be 1-56 letters, digits or . _ @ -', {
      param: 'username',
    });
  }
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new ApiError(
      'invalid_field',
      `password must be ${PASSWORD_MIN_LENGTH}-${PASSWORD_MAX_LENGTH} characters`,
      { param: 'password' },
    );
  }
}

function checkRole(role: string): void {
  if (!CONSOLE_ROLES.includes(role as ConsoleRole)) {
    throw new ApiError('invalid_field', `role must be one of ${CONSOLE_ROLES.join(', ')}`, {
      param: 'role',
    });
  }
}
