import { ClockModule } from 'src/common/time/clock.module';
import { Logger, Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiKeyGuard } from 'src/modules/auth/api-key.guard';
import { ApiKeyLookup } from 'src/modules/auth/api-key-lookup';
import { ApiKeysRepository } from 'src/modules/auth/api-keys.repository';
import { ApiKeysService } from 'src/modules/auth/api-keys.service';
import { AuthFailureLimiter } from 'src/modules/auth/auth-failure-limiter';
import { AuthService } from 'src/modules/auth/auth.service';
import { Clock, CLOCK } from 'src/common/time/clock';
import {
  KEY_ANNOUNCER,
  KeyBootstrapService,
  writeToStdout,
} from 'src/modules/auth/key-bootstrap.service';
import { KeysController } from 'src/modules/auth/keys.controller';
import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';
import { LastUsedFlusherService } from 'src/modules/auth/last-used-flusher.service';
import { MeController } from 'src/modules/auth/me.controller';
import { ConsoleAuthModule } from 'src/modules/console-auth/console-auth.module';

/**
 * API keys: the authentication guard (run first by RequestGuardChain), `/api/keys`, the
 * first-start bootstrap, and `GET /v1/me` (who the caller is). Exports `ApiKeysService` for the
 * `keys` CLI, `ApiKeyGuard` for the guard chain, and `AuthService` for the routes guarded by
 * operator secrets (`/metrics`, `/readyz` details).
 */
@Module({
  // Console sessions are the guard's second way in (see ApiKeyGuard).
  imports: [ClockModule, ConsoleAuthModule],
  controllers: [KeysController, MeController],
  providers: [
    { provide: KEY_ANNOUNCER, useValue: writeToStdout },
    ApiKeysRepository,
    {
      provide: ApiKeyLookup,
      inject: [ApiKeysRepository, CLOCK],
      useFactory: (keys: ApiKeysRepository, now: Clock) => new ApiKeyLookup(keys, now),
    },
    {
      provide: AuthFailureLimiter,
      inject: [APP_CONFIG, CLOCK],
      useFactory: (config: AppConfig, now: Clock) =>
        new AuthFailureLimiter(config.auth.failuresPerMinute, now),
    },
    {
      provide: LastUsedRecorder,
      inject: [ApiKeysRepository, CLOCK],
      useFactory: (keys: ApiKeysRepository, now: Clock) => {
        const logger = new Logger('auth');
        return new LastUsedRecorder(keys, now, (error) =>
          logger.warn(`could not record last_used_at: ${String(error)}`),
        );
      },
    },
    LastUsedFlusherService,
    AuthService,
    ApiKeysService,
    KeyBootstrapService,
    ApiKeyGuard,
  ],
  exports: [ApiKeysService, ApiKeyGuard, AuthService],
})
export class AuthModule {}
