import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiSecurity, ApiTags } from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { InfoResponseDto, ModelListResponseDto } from 'src/modules/models/dto/models-response.dto';
import { ModelsService } from 'src/modules/models/models.service';

@ApiTags('models')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Get('models')
  @ApiOkResponse({
    type: ModelListResponseDto,
    description: 'The models this key may use, in the OpenAI list format',
  })
  @ApiErrors('missing_authorization', 'invalid_authorization')
  list(@CurrentKey() auth: AuthContext): ModelListResponseDto {
    return this.models.list(auth);
  }

  @Get('info')
  @ApiOkResponse({
    type: InfoResponseDto,
    description:
      'The catalog with constraints and per-upstream health as last seen (no keys, no credentials)',
  })
  @ApiErrors('missing_authorization', 'invalid_authorization')
  info(@CurrentKey() auth: AuthContext): InfoResponseDto {
    return this.models.info(auth);
  }
}
