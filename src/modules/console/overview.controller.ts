import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { OverviewResponse, OverviewService } from 'src/modules/console/overview.service';

@ApiTags('console')
@AdminOnly()
@Controller('api/overview')
export class OverviewController {
  constructor(private readonly overview: OverviewService) {}

  @Get()
  @ApiOperation({
    summary:
      "Requests, errors and latency of this instance's model routes over the last hour and day; tokens today and over 7 days",
  })
  get(): Promise<OverviewResponse> {
    return this.overview.overview();
  }
}
