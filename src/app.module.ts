import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ConfigModule } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { DatabaseModule } from 'src/database/database.module';
import { validationExceptionFactory } from 'src/common/validation/validation-exception.factory';
import { AllExceptionsFilter } from 'src/modules/errors/all-exceptions.filter';
import { ErrorsModule } from 'src/modules/errors/errors.module';
import { HealthModule } from 'src/modules/health/health.module';
import { LifecycleModule } from 'src/modules/lifecycle/lifecycle.module';
import { MetricsModule } from 'src/modules/metrics/metrics.module';
import { ModelsModule } from 'src/modules/models/models.module';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { TemporaryAuthShimModule } from 'src/temporary-auth-shim';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        DatabaseModule,
        MetricsModule,
        LifecycleModule,
        ErrorsModule,
        HealthModule,
        // Feature modules below; AuthModule's guard must be registered before ThrottlingModule's.
        TemporaryAuthShimModule, // DELETE with src/temporary-auth-shim.ts once auth is merged
        ModelsModule,
        ProxyModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: AllExceptionsFilter },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
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
