import { Global, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { openDatabase } from 'src/database/data-source';

/**
 * Provides the one `DataSource`, migrated before the app listens. Repositories inject
 * `DataSource` and build their own TypeORM repositories from it.
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
  ],
  exports: [DataSource],
})
export class DatabaseModule {}
