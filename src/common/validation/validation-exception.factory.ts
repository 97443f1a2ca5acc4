import { ValidationError } from 'class-validator';
import { ApiError } from 'src/modules/errors/api-error';

/**
 * Turns class-validator's tree of errors into one catalog error for the first failing field:
 * `missing_field` when the value is absent, `invalid_field` otherwise, with `param` as a path
 * (`messages[0].content[1].image_url.url`).
 */
export function validationExceptionFactory(errors: ValidationError[]): ApiError {
  const first = firstLeaf(errors, '');
  if (!first) {
    return new ApiError('invalid_field', 'Invalid request body');
  }
  const { error, path } = first;
  const messages = Object.values(error.constraints ?? {});
  const message = messages[0] ?? `${path} is invalid`;
  const isMissing = error.value === undefined || error.value === null;
  return new ApiError(isMissing ? 'missing_field' : 'invalid_field', message, { param: path });
}

function firstLeaf(
  errors: ValidationError[],
  prefix: string,
): { error: ValidationError; path: string } | null {
  for (const error of errors) {
    const path = joinPath(prefix, error.property);
    if (error.constraints && Object.keys(error.constraints).length > 0) {
      return { error, path };
    }
    const nested = firstLeaf(error.children ?? [], path);
    if (nested) {
      return nested;
    }
  }
  return null;
}

export function joinPath(prefix: string, property: string | number): string {
  if (typeof property === 'number' || /^\d+$/.test(property)) {
    return `${prefix}[${property}]`;
  }
  return prefix ? `${prefix}.${property}` : property;
}
