import { ArgumentMetadata, ValidationPipe } from '@nestjs/common';
import { setAsidePrototypeMemberKeys } from 'src/common/validation/prototype-member-keys';
import { assertJsonDepth } from 'src/common/validation/json-depth';

/**
 * The global ValidationPipe, with the body's nesting checked first: class-transformer walks a
 * body recursively, so a DTO body nested 10,000 levels deep (in a field the DTO does not even
 * declare) would overflow the stack and answer 500 instead of 400 `invalid_field`.
 */
export class DepthCheckedValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      assertJsonDepth(value);
    }
    return super.transform(value, metadata);
  }

  /** Nest strips `constructor`/`prototype` keys; map fields get string ones back (see there). */
  protected override stripProtoKeys(value: unknown): void {
    setAsidePrototypeMemberKeys(value);
    super.stripProtoKeys(value);
  }
}
