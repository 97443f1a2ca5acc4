import { Module } from '@nestjs/common';
import { UPSTREAM_PROBE } from 'src/kernel/upstream-probe';
import { FleetRoutingModule } from 'src/modules/fleet/fleet-routing.module';
import { ModelsModule } from 'src/modules/models/models.module';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UpstreamProbeService } from 'src/modules/proxy/upstream/upstream-probe.service';

/** Upstream HTTP (pools, balancing, retries, timeouts) and the readiness probe. */
@Module({
  imports: [ModelsModule, FleetRoutingModule],
  providers: [
    UpstreamClient,
    UpstreamProbeService,
    { provide: UPSTREAM_PROBE, useExisting: UpstreamProbeService },
  ],
  exports: [UpstreamClient, UPSTREAM_PROBE],
})
export class UpstreamModule {}
