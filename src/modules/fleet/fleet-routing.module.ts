import { Module } from '@nestjs/common';
import { UpstreamLoadBook } from 'src/modules/fleet/load/upstream-load.book';
import { UpstreamPicker } from 'src/modules/fleet/routing/upstream-picker';
import { ModelsModule } from 'src/modules/models/models.module';

/**
 * What the upstream client needs from the fleet: the picking policy and the load figures it
 * reads. Apart from FleetModule (routes, scraping, storage) so the proxy depends on no more.
 */
@Module({
  imports: [ModelsModule],
  providers: [UpstreamLoadBook, UpstreamPicker],
  exports: [UpstreamLoadBook, UpstreamPicker],
})
export class FleetRoutingModule {}
