import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ClockModule } from 'src/common/time/clock.module';
import { ConfigModule } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { DatabaseModule } from 'src/database/database.module';
import { DepthCheckedValidationPipe } from 'src/common/validation/depth-checked-validation.pipe';
import { validationExceptionFactory } from 'src/common/validation/validation-exception.factory';
import { AllExceptionsFilter } from 'src/modules/errors/all-exceptions.filter';
import { AccessModule } from 'src/modules/access/access.module';
import { AuthModule } from 'src/modules/auth/auth.module';
import { ConsoleModule } from 'src/modules/console/console.module';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { ResponsesModule } from 'src/modules/responses/responses.module';
import { ErrorsModule } from 'src/modules/errors/errors.module';
import { FleetModule } from 'src/modules/fleet/fleet.module';
import { HealthModule } from 'src/modules/health/health.module';
import { HistoryModule } from 'src/modules/history/history.module';
import { LifecycleModule } from 'src/modules/lifecycle/lifecycle.module';
import { MetricsModule } from 'src/modules/metrics/metrics.module';
import { ModelsModule } from 'src/modules/models/models.module';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { ThrottlingModule } from 'src/modules/throttling/throttling.module';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        ClockModule,
        DatabaseModule,
        MetricsModule,
        LifecycleModule,
        ErrorsModule,
        HealthModule,
        // The one global guard: authentication, rate limit, quota (RequestGuardChain).
        AccessModule,
        AuthModule,
        ThrottlingModule,
        ModelsModule,
        ProxyModule,
        ConversationsModule,
        FleetModule,
        ConsoleModule,
        HistoryModule,
        ResponsesModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        {
          provide: APP_PIPE,
          useValue: new DepthCheckedValidationPipe({
            whitelist: true,
            transform: true,
            forbidUnknownValues: true,
            exceptionFactory: validationExceptionFactory,
          }),
        },
      ],
    };
  }
}
