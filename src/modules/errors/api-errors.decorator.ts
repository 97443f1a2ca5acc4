import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiProperty, ApiResponse, getSchemaPath } from '@nestjs/swagger';
import { ERROR_CATALOG, ERROR_CODES, ErrorCode } from 'src/common/errors/error-catalog';

const ERROR_TYPES = [...new Set(Object.values(ERROR_CATALOG).map((e) => e.type))];

export class ErrorBodyDto {
  @ApiProperty({ enum: ERROR_TYPES })
  type: string;
  @ApiProperty({ enum: ERROR_CODES })
  code: string;
  @ApiProperty()
  message: string;
  @ApiProperty({ type: String, nullable: true, example: 'messages[0].content' })
  param: string | null;
}

export class ErrorEnvelopeDto {
  @ApiProperty({ type: ErrorBodyDto })
  error: ErrorBodyDto;
}

/**
 * Documents the error responses of a route from the catalog: one response per status, listing
 * the codes it can carry. Codes every authenticated route shares are added by `@ApiAuthErrors`.
 */
export function ApiErrors(...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  return applyDecorators(
    ApiExtraModels(ErrorEnvelopeDto),
    ...[...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, list]) =>
        ApiResponse({
          status,
          description: list.sort().join(', '),
          schema: { $ref: getSchemaPath(ErrorEnvelopeDto) },
        }),
      ),
  );
}
