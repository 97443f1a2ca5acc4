import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiCreatedResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { ApiKeysService } from 'src/modules/auth/api-keys.service';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { CreateKeyDto } from 'src/modules/auth/dto/create-key.dto';
import {
  CreatedKeyResponseDto,
  DeletedKeyResponseDto,
  KeyListResponseDto,
  KeyResponseDto,
} from 'src/modules/auth/dto/key-response.dto';
import { ListKeysQueryDto } from 'src/modules/auth/dto/list-keys-query.dto';
import { UpdateKeyDto } from 'src/modules/auth/dto/update-key.dto';

@ApiTags('keys')
@AdminOnly()
@Controller('api/keys')
export class KeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Get()
  @ApiOperation({ summary: 'List API keys, newest first' })
  @ApiOkResponse({ type: KeyListResponseDto })
  @ApiErrors('invalid_field')
  list(@Query() query: ListKeysQueryDto): Promise<KeyListResponseDto> {
    return this.keys.list(query);
  }

  @Post()
  @ApiOperation({ summary: 'Create an API key; the response is the only time the key is shown' })
  @ApiCreatedResponse({ type: CreatedKeyResponseDto })
  @ApiErrors('missing_field', 'invalid_field', 'key_already_exists')
  create(@Body() dto: CreateKeyDto): Promise<CreatedKeyResponseDto> {
    return this.keys.create(dto);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an API key' })
  @ApiOkResponse({ type: KeyResponseDto })
  @ApiErrors('key_not_found')
  get(@Param('id') id: string): Promise<KeyResponseDto> {
    return this.keys.get(id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an API key; is_active: false revokes it' })
  @ApiOkResponse({ type: KeyResponseDto })
  @ApiErrors('missing_field', 'invalid_field', 'key_not_found')
  update(@Param('id') id: string, @Body() dto: UpdateKeyDto): Promise<KeyResponseDto> {
    return this.keys.update(id, dto);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an API key for good' })
  @ApiOkResponse({ type: DeletedKeyResponseDto })
  @ApiErrors('key_not_found')
  remove(@Param('id') id: string): Promise<DeletedKeyResponseDto> {
    return this.keys.remove(id);
  }
}
