import { Global, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { openDatabase } from 'src/database/data-source';
import { GroupCommit } from 'src/database/group-commit';
import { SerialTransactions } from 'src/database/serial-transactions';
import { SqliteStatements } from 'src/database/sqlite-statements';

/**
 * Provides the one `DataSource`, migrated before the app listens, and what every repository
 * shares on it: the SQLite write queue (`SerialTransactions`), group commit and the prepared
 * SQLite statements. Repositories inject `DataSource` and build their own TypeORM repositories
 * from it.
 */
@Injectable()
export class DatabaseCloser implements OnApplicationShutdown {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs after the HTTP server has closed, so in-flight turns were stored first. */
  async onApplicationShutdown(): Promise<void> {
    if (this.dataSource.isInitialized) {
      await this.dataSource.destroy();
    }
  }
}

@Global()
@Module({
  providers: [
    {
      provide: DataSource,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => openDatabase(config.db),
    },
    DatabaseCloser,
    SerialTransactions,
    GroupCommit,
    SqliteStatements,
  ],
  exports: [DataSource, SerialTransactions, GroupCommit, SqliteStatements],
})
export class DatabaseModule {}
