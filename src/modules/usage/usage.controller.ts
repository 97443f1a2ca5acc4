import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { AdminOnly, ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { KeyUsageQueryDto, UsageQueryDto } from 'src/modules/usage/dto/usage-query.dto';
import {
  KeyUsageResponseDto,
  UsageListResponseDto,
} from 'src/modules/usage/dto/usage-response.dto';
import { UsageService } from 'src/modules/usage/usage.service';

@ApiTags('usage')
@AdminOnly()
@Controller('api/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({ summary: 'Token usage per key, model and UTC day, with totals (operator)' })
  @ApiOkResponse({ type: UsageListResponseDto })
  @ApiErrors('invalid_field')
  list(@Query() query: UsageQueryDto): Promise<UsageListResponseDto> {
    return this.usage.list(query);
  }
}

@ApiTags('usage')
@ApiKeyAuth()
@Controller('v1/usage')
export class KeyUsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @ApiOperation({
    summary: "The calling key's token usage per model and UTC day, with totals and its quota",
  })
  @ApiOkResponse({ type: KeyUsageResponseDto })
  @ApiErrors('invalid_field')
  mine(
    @CurrentKey() key: AuthContext,
    @Query() query: KeyUsageQueryDto,
  ): Promise<KeyUsageResponseDto> {
    return this.usage.forKey(key, query);
  }
}
