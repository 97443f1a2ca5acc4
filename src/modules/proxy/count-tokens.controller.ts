import { Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBody, ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { CountTokensService } from 'src/modules/proxy/count-tokens.service';
import {
  CountMessageTokensRequestDto,
  MessageTokensCountDto,
} from 'src/modules/proxy/dto/messages.dto';
import { CHAT_REQUEST_ERRORS } from 'src/modules/proxy/route-errors';

/**
 * Token counting for the Anthropic SDKs: `/v1/messages/count_tokens`, and
 * `/c1/v1/messages/count_tokens` where an SDK given the base URL `…/c1` sends it (left out of the
 * OpenAPI document: one operation for generated clients).
 */
@ApiTags('v1')
@ApiKeyAuth()
@Controller()
export class CountTokensController {
  constructor(private readonly counter: CountTokensService) {}

  @Post('v1/messages/count_tokens')
  @ApiOperation({ summary: 'Count the tokens of an Anthropic Messages prompt (countTokens)' })
  @HttpCode(200)
  @ApiBody({ type: CountMessageTokensRequestDto })
  @ApiOkResponse({
    type: MessageTokensCountDto,
    description:
      "The prompt's size in tokens, counted by the gateway's tokenizer (o200k_base): an estimate within a few percent for most open models. Also served at /c1/v1/messages/count_tokens.",
  })
  @ApiErrors(...CHAT_REQUEST_ERRORS)
  count(@CurrentKey() auth: AuthContext, @Req() request: FastifyRequest) {
    return this.counter.count(auth, request.body);
  }

  @Post('c1/v1/messages/count_tokens')
  @HttpCode(200)
  @ApiExcludeEndpoint()
  countAtSdkPath(@CurrentKey() auth: AuthContext, @Req() request: FastifyRequest) {
    return this.counter.count(auth, request.body);
  }
}
