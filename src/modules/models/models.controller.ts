import { Controller, Get, Param } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  InfoResponseDto,
  ModelListResponseDto,
  ModelObjectDto,
} from 'src/modules/models/dto/models-response.dto';
import { ModelsService } from 'src/modules/models/models.service';

const MODEL_ID = {
  name: 'id',
  description: 'A catalog alias, as listed by GET /v1/models',
  example: 'echo',
};

@ApiTags('models')
@ApiKeyAuth()
@Controller('v1')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get('models')
  @ApiOperation({ summary: 'List the models this key may use' })
  @ApiOkResponse({
    type: ModelListResponseDto,
    description: 'The models this key may use, in the OpenAI list format',
  })
  list(@CurrentKey() auth: AuthContext): ModelListResponseDto {
    return this.models.list(auth);
  }

  @Get('models/:id')
  @ApiOperation({ summary: 'Get a model (OpenAI models.retrieve)' })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: ModelObjectDto, description: 'The model, in the OpenAI format' })
  @ApiErrors('model_not_found')
  retrieve(@CurrentKey() auth: AuthContext, @Param('id') id: string): ModelObjectDto {
    return this.models.retrieve(auth, id);
  }

  @Get('info')
  @ApiOperation({ summary: 'The catalog with constraints and upstream health' })
  @ApiOkResponse({
    type: InfoResponseDto,
    description:
      'The catalog with constraints and per-upstream health as last seen (no keys, no credentials)',
  })
  info(@CurrentKey() auth: AuthContext): InfoResponseDto {
    return this.models.info(auth);
  }
}

/**
 * The model list under `/c1`: chat UIs and SDKs list models from the base URL they were given,
 * and `…/c1` is one (OpenAI SDKs call `/c1/models`; clients that append `/v1/models` to a bare
 * base URL call `/c1/v1/models`). The same answers as `/v1`; the `/c1/v1` spellings are left
 * out of the OpenAPI document so that generated clients get one operation each.
 */
@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1')
export class C1ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get('models')
  @ApiOperation({ summary: 'List the models this key may use (as /v1/models)' })
  @ApiOkResponse({
    type: ModelListResponseDto,
    description: 'The models this key may use (as GET /v1/models); also at /c1/v1/models',
  })
  list(@CurrentKey() auth: AuthContext): ModelListResponseDto {
    return this.models.list(auth);
  }

  @Get('v1/models')
  @ApiExcludeEndpoint()
  listAtSdkPath(@CurrentKey() auth: AuthContext): ModelListResponseDto {
    return this.models.list(auth);
  }

  @Get('models/:id')
  @ApiOperation({ summary: 'Get a model (as /v1/models/{id})' })
  @ApiParam(MODEL_ID)
  @ApiOkResponse({ type: ModelObjectDto, description: 'As GET /v1/models/{id}' })
  @ApiErrors('model_not_found')
  retrieve(@CurrentKey() auth: AuthContext, @Param('id') id: string): ModelObjectDto {
    return this.models.retrieve(auth, id);
  }

  @Get('v1/models/:id')
  @ApiExcludeEndpoint()
  retrieveAtSdkPath(@CurrentKey() auth: AuthContext, @Param('id') id: string): ModelObjectDto {
    return this.models.retrieve(auth, id);
  }
}
