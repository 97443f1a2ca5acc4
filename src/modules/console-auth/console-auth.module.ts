import { ClockModule } from 'src/common/time/clock.module';
import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { Clock, CLOCK } from 'src/common/time/clock';
import { ConsoleAdminBootstrapService } from 'src/modules/console-auth/console-admin-bootstrap.service';
import { ConsoleAuthController } from 'src/modules/console-auth/console-auth.controller';
import { ConsoleSessionGate } from 'src/modules/console-auth/console-session.gate';
import { ConsoleSessionsRepository } from 'src/modules/console-auth/console-sessions.repository';
import { ConsoleSessionsService } from 'src/modules/console-auth/console-sessions.service';
import { LOGIN_LIMITER } from 'src/modules/console-auth/console-tokens';
import { ConsoleUsersRepository } from 'src/modules/console-auth/console-users.repository';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';
import { PasswordHasher } from 'src/modules/console-auth/password-hasher';
import { SignInLimiter } from 'src/modules/console-auth/sign-in-limiter';

/**
 * Console users, database sessions and sign-in (`/api/login`, `/api/logout`, `/api/me`).
 * Exports the session gate, which the global guard (AuthModule) consults for requests that
 * carry a session cookie instead of a credential header, and the users service for the CLI.
 */
@Module({
  imports: [ClockModule],
  controllers: [ConsoleAuthController],
  providers: [
    {
      provide: LOGIN_LIMITER,
      inject: [APP_CONFIG, CLOCK],
      useFactory: (config: AppConfig, now: Clock) =>
        new SignInLimiter(config.console.loginAttemptsPerMinute, now),
    },
    { provide: PasswordHasher, useValue: new PasswordHasher() },
    ConsoleUsersRepository,
    ConsoleSessionsRepository,
    ConsoleUsersService,
    ConsoleSessionsService,
    ConsoleSessionGate,
    ConsoleAdminBootstrapService,
  ],
  exports: [ConsoleSessionGate, ConsoleUsersService],
})
export class ConsoleAuthModule {}
