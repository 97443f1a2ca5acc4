import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorEnvelopeDto } from 'src/modules/errors/api-errors.decorator';
import { applyDocumentConventions } from 'src/openapi-conventions';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Parley')
    .setDescription(
      'LLM gateway: a stateless OpenAI/Anthropic-compatible proxy (/v1) and a conversation API that stores every turn (/c1). Every error is {"error": {type, code, message, param}}; GET /errors lists the codes. Times: /v1 and /c1 bodies use Unix seconds (integers, as OpenAI\'s created); /api bodies use RFC 3339 date-time strings (format: date-time). Every response carries x-request-id; authenticated ones x-ratelimit-limit, x-ratelimit-remaining and x-ratelimit-reset.',
    )
    .setVersion('1')
    .setLicense('UNLICENSED', 'https://spdx.org/licenses/')
    // The address `npm start` listens on by default (HOST, PORT); deployments put theirs.
    .addServer('http://127.0.0.1:8080', 'A gateway started with npm start (default HOST and PORT)')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'opaque', description: 'API key' },
      'bearer',
    )
    .addApiKey({ type: 'apiKey', in: 'header', name: 'x-api-key' }, 'x-api-key')
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'opaque',
        description: 'ADMIN_TOKEN (operator routes under /api)',
      },
      'admin',
    )
    .build();
  return applyDocumentConventions(
    SwaggerModule.createDocument(app, config, { extraModels: [ErrorEnvelopeDto] }),
  );
}

/** Serves `/openapi.json` and `/docs` (public). */
export function mountOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    // JSON only: no public /docs-yaml route (the public set is pinned by a test).
    raw: ['json'],
  });
}
