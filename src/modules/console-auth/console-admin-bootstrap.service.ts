import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';

/**
 * With CONSOLE_ADMIN_PASSWORD set, upserts the admin CONSOLE_ADMIN_USER when the server starts
 * (like BOOTSTRAP_API_KEY): created, or re-enabled with that password. Not in the CLIs.
 */
@Injectable()
export class ConsoleAdminBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger('console');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: ConsoleUsersService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { adminUser, adminPassword } = this.config.console;
    if (!this.adapterHost.httpAdapter || adminPassword === null) {
      return;
    }
    const outcome = await this.users.ensureAdmin(adminUser, adminPassword);
    if (outcome !== 'kept') {
      this.logger.log(`console admin "${adminUser}" ${outcome} from CONSOLE_ADMIN_PASSWORD`);
    }
  }
}
