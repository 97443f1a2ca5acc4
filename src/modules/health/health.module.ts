import { Module } from '@nestjs/common';
import { AuthModule } from 'src/modules/auth/auth.module';
import { HealthController } from 'src/modules/health/health.controller';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';

/**
 * /healthz and /readyz; the upstream module provides `UPSTREAM_PROBE` for /readyz, the auth
 * module the check of the operator secrets that unlock its details.
 */
@Module({ imports: [UpstreamModule, AuthModule], controllers: [HealthController] })
export class HealthModule {}
