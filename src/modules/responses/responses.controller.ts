import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { JSON_TYPE } from 'src/common/http/headers';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiProduces,
  ApiQuery,
  ApiTags,
  ApiOperation,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { CHAT_REQUEST_ERRORS, UPSTREAM_ERRORS } from 'src/modules/proxy/route-errors';
import {
  CreateResponseDto,
  DeletedResponseDto,
  ItemListResponseDto,
  ListItemsQueryDto,
  ResponseObjectDto,
} from 'src/modules/responses/dto/responses.dto';
import { INPUT_ITEM_MODELS } from 'src/modules/responses/dto/response-input.dto';
import { ResponseTurnService } from 'src/modules/responses/response-turn.service';
import { ResponsesService } from 'src/modules/responses/responses.service';

/** OpenAI's Responses API, on Parley's conversation store. */
@ApiTags('responses')
@ApiKeyAuth()
@ApiExtraModels(...INPUT_ITEM_MODELS)
@Controller('v1/responses')
export class ResponsesController {
  constructor(
    private readonly turns: ResponseTurnService,
    private readonly responses: ResponsesService,
  ) {}

  @Post()
  @ApiOperation({
    summary: 'Create a model response (OpenAI Responses API), stored unless store is false',
  })
  @ApiBody({ type: CreateResponseDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: ResponseObjectDto,
    description:
      'The response object; with stream: true, typed events (response.created … response.completed) with a sequence_number.',
  })
  @ApiErrors(
    ...CHAT_REQUEST_ERRORS,
    'previous_response_not_found',
    'context_length_exceeded',
    'conversation_not_found',
    'conversation_busy',
    'conversation_conflict',
    'storage_error',
    ...UPSTREAM_ERRORS,
  )
  async create(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.turns.create(auth, request, reply);
  }

  @Get(':id')
  @ApiOperation({
    summary: 'Retrieve a stored response; with stream=true, replay and follow its events',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiQuery({
    name: 'stream',
    required: false,
    description: '`true`: the events of a background response (stored ones, then new ones).',
  })
  @ApiQuery({
    name: 'starting_after',
    required: false,
    description: 'With stream=true: only events with a larger sequence_number.',
  })
  @ApiOkResponse({ type: ResponseObjectDto })
  @ApiErrors('response_not_found', 'invalid_field', 'storage_error')
  async get(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Query() query: Record<string, unknown>,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    if (query.stream === 'true') {
      await this.responses.streamEvents(auth, id, query.starting_after, reply);
      return;
    }
    void reply
      .status(200)
      .header('content-type', JSON_TYPE)
      .send(JSON.stringify(await this.responses.get(auth, id)));
  }

  @Post(':id/cancel')
  @ApiOperation({ summary: 'Cancel a background response; what arrived is stored' })
  @HttpCode(200)
  @ApiOkResponse({ type: ResponseObjectDto, description: 'The response, `cancelled` once stopped' })
  @ApiErrors('response_not_found', 'invalid_field', 'storage_error')
  cancel(@CurrentKey() auth: AuthContext, @Param('id') id: string) {
    return this.responses.cancel(auth, id);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a stored response' })
  @ApiOkResponse({ type: DeletedResponseDto })
  @ApiErrors('response_not_found', 'storage_error')
  delete(@CurrentKey() auth: AuthContext, @Param('id') id: string) {
    return this.responses.delete(auth, id);
  }

  @Get(':id/input_items')
  @ApiOperation({ summary: 'List the input items of a stored response' })
  @ApiOkResponse({ type: ItemListResponseDto, description: 'Newest first unless order=asc' })
  @ApiErrors('response_not_found', 'invalid_field', 'storage_error')
  inputItems(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Query() query: ListItemsQueryDto,
  ) {
    return this.responses.inputItems(auth, id, query);
  }
}
