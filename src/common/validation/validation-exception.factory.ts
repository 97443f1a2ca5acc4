import { ValidationError } from 'class-validator';
import { ApiError } from 'src/common/errors/api-error';

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
  const [constraint, message] = Object.entries(error.constraints ?? {})[0] ?? [];
  // A constraint may name its code (see common/validation/fields.ts); otherwise an absent
  // value is missing and anything else invalid.
  const named = (error.contexts?.[constraint ?? ''] as { code?: unknown } | undefined)?.code;
  const isMissing = error.value === undefined || error.value === null;
  const code =
    named === 'missing_field' || named === 'invalid_field'
      ? named
      : isMissing
        ? 'missing_field'
        : 'invalid_field';
  return new ApiError(code, message ?? `${path} is invalid`, { param: path });
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
