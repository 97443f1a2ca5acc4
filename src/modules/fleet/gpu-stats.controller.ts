import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { AdminOnly, NodeReport } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  GpuReportAcceptedDto,
  GpuStatsResponseDto,
  ReportGpuStatsDto,
} from 'src/modules/fleet/dto/gpu-stats.dto';
import { FleetService } from 'src/modules/fleet/fleet.service';

@ApiTags('fleet')
@Controller('api/gpu-stats')
export class GpuStatsController {
  constructor(private readonly fleet: FleetService) {}

  @Post()
  @HttpCode(200)
  @NodeReport()
  @ApiOperation({ summary: "A GPU node's statistics, sent by its agent (API key with role node)" })
  @ApiBody({ type: ReportGpuStatsDto })
  @ApiOkResponse({ type: GpuReportAcceptedDto })
  @ApiErrors('missing_field', 'invalid_field')
  report(@CurrentKey() key: AuthContext, @Body() body: unknown): Promise<GpuReportAcceptedDto> {
    return this.fleet.report(key, body);
  }

  @Get()
  @AdminOnly()
  @ApiOperation({ summary: 'GPU nodes and upstream load as last seen (operator)' })
  @ApiOkResponse({ type: GpuStatsResponseDto })
  list(): Promise<GpuStatsResponseDto> {
    return this.fleet.snapshot();
  }
}
