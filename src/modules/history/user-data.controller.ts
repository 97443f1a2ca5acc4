import { Controller, Delete, Param, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  EraseUserDataQueryDto,
  UserDataDeletedResponseDto,
} from 'src/modules/history/dto/erase.dto';
import { EraseService } from 'src/modules/history/erase.service';

@ApiTags('users')
@AdminOnly()
@Controller('api/users')
export class UserDataController {
  constructor(private readonly erase: EraseService) {}

  @Delete(':user_id/data')
  @ApiOperation({
    summary:
      "Erase a user's conversations, messages, Idempotency-Keys and search entries (usage totals stay). An end user of a service key is `<service user>/<x-user-id>`, URL-encoded (`svc%2Falice`).",
  })
  @ApiOkResponse({ type: UserDataDeletedResponseDto })
  @ApiErrors('invalid_field', 'storage_error')
  remove(
    @Param('user_id') userId: string,
    @Query() query: EraseUserDataQueryDto,
    @Req() request: FastifyRequest,
  ): Promise<UserDataDeletedResponseDto> {
    return this.erase.erase(userId, query.include_end_users === 'true', request.log);
  }
}
