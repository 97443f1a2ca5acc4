import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';

export const IS_ADMIN = 'parley:isAdmin';
export const IS_NODE_REPORT = 'parley:isNodeReport';

/** Routes under this prefix are operator routes whether or not they say so (fail closed). */
export const ADMIN_PATH_PREFIX = '/api/';

/**
 * An operator route: it takes `Authorization: Bearer <ADMIN_TOKEN>` instead of an API key
 * (unset ADMIN_TOKEN → every call is 401). Every route under `/api/` is treated so by the
 * global guard even without this decorator; the decorator documents it in OpenAPI and makes
 * routes elsewhere operator-only too. Use it on controllers such as `/api/usage`.
 */
export function AdminOnly() {
  return applyDecorators(
    SetMetadata(IS_ADMIN, true),
    ApiBearerAuth('admin'),
    ApiErrors('missing_authorization', 'invalid_authorization', 'rate_limit_exceeded'),
  );
}

/**
 * OpenAPI for routes behind an API key (the guard is global, so this documents, it does not
 * protect): Bearer or x-api-key, and the 401/403/429 every such route can answer. A route's
 * own `@ApiErrors` should add `invalid_field` (param `x-user-id`) to its 400 list if it has one.
 */
export function ApiKeyAuth() {
  return applyDecorators(
    ApiBearerAuth('bearer'),
    ApiSecurity('x-api-key'),
    ApiErrors(
      'missing_authorization',
      'invalid_authorization',
      'user_override_forbidden',
      'rate_limit_exceeded',
    ),
  );
}

/**
 * A route for GPU nodes' agents (SPEC "Fleet"): it takes an API key with role `node`, even
 * under `/api/`; any other role gets 403 `node_role_required`. Keys with role `node` are refused
 * everywhere else (see ApiKeyGuard).
 */
export function NodeReport() {
  return applyDecorators(
    SetMetadata(IS_NODE_REPORT, true),
    ApiBearerAuth('bearer'),
    ApiSecurity('x-api-key'),
    ApiErrors(
      'missing_authorization',
      'invalid_authorization',
      'node_role_required',
      'rate_limit_exceeded',
    ),
  );
}
