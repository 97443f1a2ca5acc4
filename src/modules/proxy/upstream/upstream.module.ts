import { Module } from '@nestjs/common';
import { UPSTREAM_PROBE } from 'src/kernel/upstream-probe';
import { FleetRoutingModule } from 'src/modules/fleet/fleet-routing.module';
import { ModelsModule } from 'src/modules/models/models.module';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UpstreamProbeService } from 'src/modules/proxy/upstream/upstream-probe.service';
import { Tokenizer } from 'src/modules/proxy/tokenizer';
import { WireFormats } from 'src/modules/proxy/wire/wire-formats';

/** Upstream HTTP (pools, balancing, retries, timeouts), the wire formats, the readiness probe. */
@Module({
  imports: [ModelsModule, FleetRoutingModule],
  providers: [
    WireFormats,
    Tokenizer,
    UpstreamClient,
    UpstreamProbeService,
    { provide: UPSTREAM_PROBE, useExisting: UpstreamProbeService },
  ],
  exports: [WireFormats, UpstreamClient, UPSTREAM_PROBE],
})
export class UpstreamModule {}
