import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiKeysService, DEFAULT_USER_ID } from 'src/modules/auth/api-keys.service';

/** Where the first key is printed: stdout, outside the JSON log stream. Replaced in tests. */
export const KEY_ANNOUNCER = Symbol('KEY_ANNOUNCER');
export type KeyAnnouncer = (line: string) => void;

export const writeToStdout: KeyAnnouncer = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * First start (SPEC "Running it"): with BOOTSTRAP_API_KEY, upsert it for user `default` and
 * print nothing; otherwise, when the database holds no key, create one for `default` and
 * print it once. Runs when the server starts, before it listens; not in the `keys` CLI,
 * whose operator manages keys explicitly.
 */
@Injectable()
export class KeyBootstrapService implements OnApplicationBootstrap {
  private readonly logger = new Logger('auth');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeysService,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(KEY_ANNOUNCER) private readonly announce: KeyAnnouncer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.adapterHost.httpAdapter) {
      return;
    }
    if (this.config.auth.adminToken === null) {
      this.logger.warn('ADMIN_TOKEN is not set: /api routes take console sessions only');
    }
    const created = await this.keys.ensureBootstrapKey(this.config.auth.bootstrapKey);
    if (created) {
      this.announce(
        `Parley created the first API key, for user "${DEFAULT_USER_ID}". It is shown only this once: ${created.key}`,
      );
      this.logger.warn(
        `No API key existed: created key ${created.id} for user "${DEFAULT_USER_ID}" and printed it once on stdout`,
      );
    }
  }
}
