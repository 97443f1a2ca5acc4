import { Injectable } from '@nestjs/common';
import { DataSource, Repository } from 'typeorm';
import { ConsoleUserEntity } from 'src/modules/console-auth/console-user.entity';

/** Console users; the unique username index arbitrates concurrent creates. */
@Injectable()
export class ConsoleUsersRepository {
  private readonly users: Repository<ConsoleUserEntity>;

  constructor(dataSource: DataSource) {
    this.users = dataSource.getRepository(ConsoleUserEntity);
  }

  findByUsername(username: string): Promise<ConsoleUserEntity | null> {
    return this.users.findOneBy({ username });
  }

  insert(user: ConsoleUserEntity): Promise<unknown> {
    return this.users.insert(user);
  }

  async update(
    id: string,
    changes: Partial<Pick<ConsoleUserEntity, 'passwordHash' | 'role' | 'isActive' | 'updatedAt'>>,
  ): Promise<void> {
    await this.users.update({ id }, changes);
  }

  /** Every user, by name; console users are people, a few dozen at most. */
  list(limit: number): Promise<ConsoleUserEntity[]> {
    return this.users.find({ order: { username: 'ASC' }, take: limit });
  }
}
