import { Module } from '@nestjs/common';
import { HealthController } from 'src/modules/health/health.controller';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';

/** /healthz and /readyz; the upstream module provides `UPSTREAM_PROBE` for /readyz. */
@Module({ imports: [UpstreamModule], controllers: [HealthController] })
export class HealthModule {}
