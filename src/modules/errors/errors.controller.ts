import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Public } from 'src/common/decorators/public.decorator';
import {
  ERROR_CATALOG,
  ERROR_CATALOG_VERSION,
  ERROR_CODES,
  ErrorCode,
} from 'src/common/errors/error-catalog';

class CatalogEntryDto {
  @ApiProperty({ enum: ERROR_CODES }) code: ErrorCode;
  @ApiProperty() type: string;
  @ApiProperty() http_status: number;
  @ApiProperty() title: string;
  @ApiProperty() description: string;
  @ApiProperty() remediation: string;
  @ApiProperty({ type: String, nullable: true }) typical_param: string | null;
}

class ErrorCatalogResponseDto {
  @ApiProperty() version: string;
  @ApiProperty() count: number;
  @ApiProperty({ type: [CatalogEntryDto] }) entries: CatalogEntryDto[];
}

const CATALOG_RESPONSE: ErrorCatalogResponseDto = {
  version: ERROR_CATALOG_VERSION,
  count: ERROR_CODES.length,
  entries: ERROR_CODES.map((code) => {
    const e = ERROR_CATALOG[code];
    return {
      code,
      type: e.type,
      http_status: e.status,
      title: e.title,
      description: e.description,
      remediation: e.remediation,
      typical_param: e.typicalParam,
    };
  }),
};

@ApiTags('errors')
@Controller('errors')
export class ErrorsController {
  @Get()
  @ApiOperation({ summary: 'The error catalog: every code the gateway can answer' })
  @Public()
  @ApiOkResponse({ type: ErrorCatalogResponseDto, description: 'Every error code Parley returns' })
  list(): ErrorCatalogResponseDto {
    return CATALOG_RESPONSE;
  }
}
