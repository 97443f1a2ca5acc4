import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';
import { DEFAULT_USAGE_ROWS, UsageQueryDto } from 'src/modules/usage/dto/usage-query.dto';
import {
  KeyUsageResponseDto,
  UsageListResponseDto,
  UsageRowDto,
  UsageTotalsDto,
} from 'src/modules/usage/dto/usage-response.dto';
import { QuotaService } from 'src/modules/usage/quota.service';
import { UsageRecorder } from 'src/modules/usage/usage-recorder.service';
import { UsageFilter, UsageRepository, UsageTotals } from 'src/modules/usage/usage.repository';

function toRow(row: DailyUsageEntity): UsageRowDto {
  return {
    key_id: row.keyId,
    model: row.model,
    day: row.day,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    total_tokens: row.promptTokens + row.completionTokens,
    requests: row.requests,
  };
}

function toTotals(totals: UsageTotals): UsageTotalsDto {
  return {
    prompt_tokens: totals.promptTokens,
    completion_tokens: totals.completionTokens,
    total_tokens: totals.promptTokens + totals.completionTokens,
    requests: totals.requests,
  };
}

/** The usage routes. They write pending usage first, so an answer includes every request so far. */
@Injectable()
export class UsageService {
  constructor(
    private readonly recorder: UsageRecorder,
    private readonly repository: UsageRepository,
    private readonly quota: QuotaService,
  ) {}

  async list(query: UsageQueryDto): Promise<UsageListResponseDto> {
    const filter: UsageFilter = {
      keyId: query.key_id,
      model: query.model,
      from: query.from,
      to: query.to,
    };
    if (filter.from !== undefined && filter.to !== undefined && filter.to < filter.from) {
      throw new ApiError('invalid_field', 'to must not be before from', { param: 'to' });
    }
    const limit = query.limit ?? DEFAULT_USAGE_ROWS;
    await this.recorder.flush();
    const [rows, totals] = await Promise.all([
      this.repository.list(filter, limit + 1),
      this.repository.totals(filter),
    ]);
    return {
      object: 'list',
      data: rows.slice(0, limit).map(toRow),
      has_more: rows.length > limit,
      totals: toTotals(totals),
    };
  }

  async forKey(auth: AuthContext, query: UsageQueryDto): Promise<KeyUsageResponseDto> {
    const list = await this.list({ ...query, key_id: auth.keyId });
    let quota: KeyUsageResponseDto['quota'] = null;
    if (auth.tokenQuota) {
      const { limit, period } = auth.tokenQuota;
      const { used, window } = await this.quota.usedNow(auth.keyId, period);
      quota = {
        limit,
        period,
        used,
        remaining: Math.max(0, limit - used),
        resets_at: window.resetsAt === null ? null : new Date(window.resetsAt).toISOString(),
      };
    }
    return { ...list, key_id: auth.keyId, quota };
  }
}
