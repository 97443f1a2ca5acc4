import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { ServerStartStep } from 'src/common/runtime/server-start-step';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';

/**
 * With CONSOLE_ADMIN_PASSWORD set, upserts the admin CONSOLE_ADMIN_USER when the server starts
 * (like BOOTSTRAP_API_KEY): created, or re-enabled with that password. Not in the CLIs
 * (`ServerStartStep`).
 */
@Injectable()
export class ConsoleAdminBootstrapService extends ServerStartStep {
  private readonly logger = new Logger('console');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly users: ConsoleUsersService,
    adapterHost: HttpAdapterHost,
  ) {
    super(adapterHost);
  }

  protected async runAtServerStart(): Promise<void> {
    const { adminUser, adminPassword } = this.config.console;
    if (adminPassword === null) {
      return;
    }
    const outcome = await this.users.ensureAdmin(adminUser, adminPassword);
    if (outcome !== 'kept') {
      this.logger.log(`console admin "${adminUser}" ${outcome} from CONSOLE_ADMIN_PASSWORD`);
    }
  }
}
