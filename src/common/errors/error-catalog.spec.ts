import { ERROR_CATALOG, ERROR_CODES } from 'src/common/errors/error-catalog';

const STATUS_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_denied',
  404: 'not_found',
  409: 'invalid_request_error',
  413: 'invalid_request_error',
  429: 'rate_limit_exceeded',
  500: 'internal_error',
  502: 'upstream_error',
  503: 'upstream_error',
  504: 'upstream_error',
};

/** The table in SPEC.md, "Errors". */
const SPEC_CODES: Record<string, number> = {
  missing_authorization: 401,
  invalid_authorization: 401,
  model_access_denied: 403,
  rate_limit_exceeded: 429,
  insufficient_quota: 429,
  body_too_large: 413,
  invalid_json: 400,
  missing_field: 400,
  invalid_field: 400,
  model_not_in_allowlist: 400,
  max_tokens_below_minimum: 400,
  image_url_not_supported: 400,
  conversation_conflict: 409,
  user_override_forbidden: 403,
  image_decode_error: 400,
  invalid_path: 400,
  conversation_not_found: 404,
  route_not_found: 404,
  key_not_found: 404,
  key_already_exists: 409,
  conversation_busy: 409,
  upstream_error: 502,
  upstream_timeout: 504,
  upstream_unavailable: 503,
  internal_error: 500,
  storage_error: 500,
  server_overloaded: 503,
  media_url_not_supported: 400,
  // Added with Responses, console, fleet and history.
  previous_response_not_found: 400,
  response_not_found: 404,
  context_length_exceeded: 400,
  no_active_turn: 404,
  invalid_credentials: 401,
  csrf_failed: 403,
  console_role_forbidden: 403,
  node_role_required: 403,
  prompt_blocked: 400,
  sensitive_words_detected: 400,
  // Beyond the spec's table: GET /v1/models/{id} (openai models.retrieve) answers an unknown
  // model with a 404 as OpenAI does; no listed code is a 404 about a model.
  model_not_found: 404,
};

describe('ERROR_CATALOG', () => {
  it('holds exactly the codes of the spec, with the spec statuses', () => {
    expect([...ERROR_CODES].sort()).toEqual(Object.keys(SPEC_CODES).sort());
    for (const code of ERROR_CODES) {
      expect([code, ERROR_CATALOG[code].status]).toEqual([code, SPEC_CODES[code]]);
    }
  });

  it('gives each status the type the spec assigns to it', () => {
    for (const code of ERROR_CODES) {
      const entry = ERROR_CATALOG[code];
      expect([code, entry.type]).toEqual([code, STATUS_TYPE[entry.status]]);
    }
  });

  it('has snake_case codes, sorted, with non-empty texts', () => {
    expect(ERROR_CODES).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      const entry = ERROR_CATALOG[code];
      for (const text of [entry.title, entry.description, entry.remediation]) {
        expect(text.trim().length).toBeGreaterThan(5);
      }
    }
  });
});
