import { Controller, Get, Query, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  MAX_REPORT_DAYS,
  UsageReportQueryDto,
  UsageReportResponseDto,
} from 'src/modules/console/dto/usage-report.dto';
import { UsageReportRepository } from 'src/modules/console/usage-report.repository';

const DAY_MS = 86_400_000;
const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);

@ApiTags('usage')
@AdminOnly()
@Controller('api/usage/report')
export class UsageReportController {
  constructor(
    private readonly report: UsageReportRepository,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      'Tokens and requests per key, user or model over a day range: groups and per-day series',
  })
  @ApiOkResponse({ type: UsageReportResponseDto })
  @ApiErrors('invalid_field')
  async get(@Query() query: UsageReportQueryDto): Promise<UsageReportResponseDto> {
    const to = query.to ?? dayOf(this.clock());
    const from = query.from ?? dayOf(Date.parse(to) - 29 * DAY_MS);
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
    if (!(days >= 1)) {
      throw new ApiError('invalid_field', 'from must not be after to', { param: 'from' });
    }
    if (days > MAX_REPORT_DAYS) {
      throw new ApiError('invalid_field', `the range may span at most ${MAX_REPORT_DAYS} days`, {
        param: 'from',
      });
    }
    const q = {
      by: query.by ?? 'model',
      from,
      to,
      limit: query.limit ?? 20,
      offset: query.offset ?? 0,
    };
    const { rows, total } = await this.report.groups(q);
    const series = await this.report.series(
      q,
      rows.map((r) => r.label),
    );
    return { by: q.by, from, to, groups: rows, total_groups: total, series };
  }
}
