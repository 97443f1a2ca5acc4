import { Inject, Injectable, Logger } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { ServerStartStep } from 'src/common/runtime/server-start-step';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiKeysService, DEFAULT_USER_ID } from 'src/modules/auth/api-keys.service';
import { firstKeyBanner } from 'src/modules/auth/first-key-banner';
import { ModelCatalog } from 'src/modules/models/model-catalog';

/** Where the first key is printed: stdout, outside the JSON log stream. Replaced in tests. */
export const KEY_ANNOUNCER = Symbol('KEY_ANNOUNCER');
export type KeyAnnouncer = (line: string) => void;

export const writeToStdout: KeyAnnouncer = (line) => {
  process.stdout.write(`${line}\n`);
};

/**
 * First start (SPEC "Running it"): with BOOTSTRAP_API_KEY, upsert it for user `default` and
 * print nothing; otherwise, when the database holds no key, create one for `default` and
 * print it once, framed, with a curl line to try it (`firstKeyBanner`). Not in the `keys` CLI
 * (`ServerStartStep`).
 */
@Injectable()
export class KeyBootstrapService extends ServerStartStep {
  private readonly logger = new Logger('auth');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly keys: ApiKeysService,
    adapterHost: HttpAdapterHost,
    @Inject(KEY_ANNOUNCER) private readonly announce: KeyAnnouncer,
    private readonly moduleRef: ModuleRef,
  ) {
    super(adapterHost);
  }

  protected async runAtServerStart(): Promise<void> {
    if (this.config.auth.adminToken === null) {
      this.logger.warn('ADMIN_TOKEN is not set: /api routes take console sessions only');
    }
    const created = await this.keys.ensureBootstrapKey(this.config.auth.bootstrapKey);
    if (created) {
      this.announce(
        firstKeyBanner({
          key: created.key,
          keyId: created.id,
          userId: DEFAULT_USER_ID,
          host: this.config.http.host,
          port: this.config.http.port,
          model: this.firstModel(),
          rateLimit: this.config.limits,
        }),
      );
      this.logger.warn(
        `No API key existed: created key ${created.id} for user "${DEFAULT_USER_ID}" and printed it once on stdout`,
      );
    }
  }

  /**
   * The catalog's first alias, for the banner's curl line. Looked up in the whole app rather
   * than imported: the `keys` CLI shares this module and must not load the catalog.
   */
  private firstModel(): string {
    try {
      return this.moduleRef.get(ModelCatalog, { strict: false }).list()[0]?.alias ?? 'echo';
    } catch {
      return 'echo';
    }
  }
}
