import { Global, Module } from '@nestjs/common';
import { AuthModule } from 'src/modules/auth/auth.module';
import { MetricsController } from 'src/modules/metrics/metrics.controller';
import { MetricsService } from 'src/modules/metrics/metrics.service';

@Global()
@Module({
  imports: [AuthModule],
  controllers: [MetricsController],
  providers: [MetricsService],
  exports: [MetricsService],
})
export class MetricsModule {}
