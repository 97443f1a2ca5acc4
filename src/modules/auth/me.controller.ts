import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { CallerResponseDto } from 'src/modules/auth/dto/caller-response.dto';

@ApiTags('keys')
@ApiKeyAuth()
@Controller('v1/me')
export class MeController {
  @Get()
  @ApiOperation({
    summary: 'The calling key: its user (or the x-user-id a service key acts for), role and limits',
  })
  @ApiOkResponse({ type: CallerResponseDto })
  @ApiErrors('invalid_field')
  me(@CurrentKey() key: AuthContext): CallerResponseDto {
    return {
      key_id: key.keyId,
      user_id: key.userId,
      role: key.role,
      allowed_models: key.allowedModels,
      rate_limit: key.rateLimit && {
        per_second: key.rateLimit.perSecond,
        burst: key.rateLimit.burst,
      },
      token_quota: key.tokenQuota && { limit: key.tokenQuota.limit, period: key.tokenQuota.period },
    };
  }
}
