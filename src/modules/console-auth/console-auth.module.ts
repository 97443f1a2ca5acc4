import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { Clock } from 'src/modules/auth/clock';
import { ConsoleAdminBootstrapService } from 'src/modules/console-auth/console-admin-bootstrap.service';
import { ConsoleAuthController } from 'src/modules/console-auth/console-auth.controller';
import { ConsoleSessionGate } from 'src/modules/console-auth/console-session.gate';
import { ConsoleSessionsRepository } from 'src/modules/console-auth/console-sessions.repository';
import { ConsoleSessionsService } from 'src/modules/console-auth/console-sessions.service';
import { CONSOLE_CLOCK, LOGIN_LIMITER } from 'src/modules/console-auth/console-tokens';
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
  controllers: [ConsoleAuthController],
  providers: [
    { provide: CONSOLE_CLOCK, useValue: (() => Date.now()) satisfies Clock },
    {
      provide: LOGIN_LIMITER,
      inject: [APP_CONFIG, CONSOLE_CLOCK],
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
