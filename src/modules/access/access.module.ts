import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RequestGuardChain } from 'src/modules/access/request-guard-chain';
import { AuthModule } from 'src/modules/auth/auth.module';
import { ThrottlingModule } from 'src/modules/throttling/throttling.module';

/**
 * Registers `RequestGuardChain` as the only APP_GUARD. The guards it runs are provided by their
 * own modules (AuthModule, ThrottlingModule, UsageModule), which register no global guard.
 */
@Module({
  imports: [AuthModule, ThrottlingModule],
  providers: [RequestGuardChain, { provide: APP_GUARD, useExisting: RequestGuardChain }],
})
export class AccessModule {}
