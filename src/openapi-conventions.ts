import type {
  OpenAPIObject,
  OperationObject,
  ResponseObject,
} from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { HEADER } from 'src/common/http/headers';
import { ErrorCode } from 'src/common/errors/error-catalog';
import { METERED_ROUTES } from 'src/modules/usage/quota.guard';

/**
 * What every route shares, written into the document once here rather than on each controller,
 * so that a route added later is documented the same way: the response headers the global hooks
 * and guards send, the 413 and 429 every such route can answer, and `security: []` on the
 * public routes (the ones with no credentials declared: the public-routes test pins that set).
 */

const HEADER_DOCS: Record<string, { description: string; type: 'string' | 'integer' }> = {
  [HEADER.requestId]: {
    description:
      "The request's id: the client's x-request-id when sane, else generated. In every log line.",
    type: 'string',
  },
  [HEADER.rateLimitLimit]: { description: "The key's token-bucket size (burst).", type: 'integer' },
  [HEADER.rateLimitRemaining]: {
    description: 'Requests left in the bucket after this one.',
    type: 'integer',
  },
  [HEADER.rateLimitReset]: {
    description: 'Seconds until the bucket is full again.',
    type: 'integer',
  },
  [HEADER.retryAfter]: {
    description: 'Seconds to wait before retrying (429, 503).',
    type: 'integer',
  },
  [HEADER.conversationId]: {
    description: 'The conversation this turn belongs to (new or continued).',
    type: 'string',
  },
  [HEADER.applied]: {
    description:
      'What the gateway changed in the request, comma-separated: max_tokens_floored=<N>, max_tokens_capped=<N>, history_truncated=<N>.',
    type: 'string',
  },
};

/** A reference to a header of `components.headers`, for `@ApiOkResponse({ headers })`. */
export function headerRef(name: keyof typeof HEADER_DOCS): { $ref: string } {
  return { $ref: `#/components/headers/${name}` };
}

const RATE_LIMIT_HEADERS = [
  HEADER.rateLimitLimit,
  HEADER.rateLimitRemaining,
  HEADER.rateLimitReset,
];

function errorResponse(codes: ErrorCode[]): ResponseObject {
  return {
    description: codes.sort().join(', '),
    content: {
      'application/json': { schema: { $ref: '#/components/schemas/ErrorEnvelopeDto' } },
    },
  };
}

function addCodes(op: OperationObject, status: string, codes: ErrorCode[]) {
  const existing = op.responses[status] as ResponseObject | undefined;
  if (!existing) {
    op.responses[status] = errorResponse(codes);
    return;
  }
  const listed = new Set(existing.description.split(', '));
  const missing = codes.filter((c) => !listed.has(c));
  if (missing.length > 0) {
    existing.description = [...listed, ...missing].sort().join(', ');
  }
}

function addHeaders(response: ResponseObject, names: string[]) {
  response.headers ??= {};
  for (const name of names) {
    response.headers[name] ??= headerRef(name);
  }
}

/** Applies the shared conventions to a generated document, in place; returns it. */
export function applyDocumentConventions(document: OpenAPIObject): OpenAPIObject {
  document.components ??= {};
  document.components.headers = Object.fromEntries(
    Object.entries(HEADER_DOCS).map(([name, h]) => [
      name,
      { description: h.description, schema: { type: h.type } },
    ]),
  );
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const op = item[method];
      if (!op) {
        continue;
      }
      const isPublic = !op.security || op.security.length === 0;
      if (isPublic) {
        op.security = [];
      }
      if (op.requestBody) {
        addCodes(op, '413', ['body_too_large']);
      }
      if (!isPublic) {
        addCodes(op, '429', [
          'rate_limit_exceeded',
          ...(METERED_ROUTES.has(path) ? (['insufficient_quota'] as ErrorCode[]) : []),
        ]);
      }
      for (const [status, response] of Object.entries(op.responses)) {
        const r = response as ResponseObject;
        addHeaders(r, [HEADER.requestId]);
        // Set by the rate-limit guard on every response after authentication.
        if (!isPublic && status !== '401') {
          addHeaders(r, RATE_LIMIT_HEADERS);
        }
        if (status === '429' || status === '503') {
          addHeaders(r, [HEADER.retryAfter]);
        }
      }
    }
  }
  return document;
}
