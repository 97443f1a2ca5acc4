import { Module } from '@nestjs/common';
import { FleetMetrics } from 'src/modules/fleet/fleet-metrics';
import { FleetRoutingModule } from 'src/modules/fleet/fleet-routing.module';
import { FleetService } from 'src/modules/fleet/fleet.service';
import { GpuReportsRepository } from 'src/modules/fleet/gpu-reports.repository';
import { GpuStatsController } from 'src/modules/fleet/gpu-stats.controller';
import { MetricsFetcher } from 'src/modules/fleet/load/metrics-fetcher';
import { UpstreamScraperService } from 'src/modules/fleet/load/upstream-scraper.service';
import { ModelsModule } from 'src/modules/models/models.module';

/**
 * The GPU fleet (SPEC "Fleet"): node reports (`/api/gpu-stats`, stored), upstream load read
 * every FLEET_SCRAPE_SECS, and both as Prometheus gauges. The picking policy the upstream
 * client consults lives in FleetRoutingModule.
 */
@Module({
  imports: [ModelsModule, FleetRoutingModule],
  controllers: [GpuStatsController],
  providers: [
    GpuReportsRepository,
    FleetService,
    MetricsFetcher,
    UpstreamScraperService,
    FleetMetrics,
  ],
})
export class FleetModule {}
