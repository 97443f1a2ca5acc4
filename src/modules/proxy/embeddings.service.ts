import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { CatalogModel } from 'src/kernel/catalog-model';
import {
  checkEmbeddingsInput,
  requireJsonObject,
  resolveModel,
} from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { assertJsonDepth } from 'src/common/validation/json-depth';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { CallOptions } from 'src/modules/proxy/chat-completions.service';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';
import { UsageReporter } from 'src/modules/proxy/usage-reporter';
import { readUsage } from 'src/modules/proxy/wire/openai/stream-events';

export interface PreparedEmbeddings {
  auth: AuthContext;
  model: CatalogModel;
  body: JsonObject;
}

/** `/v1/embeddings`: checked like chat (model, key), then passed through byte for byte. */
@Injectable()
export class EmbeddingsService {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly upstream: UpstreamClient,
    private readonly usage: UsageReporter,
  ) {}

  prepare(auth: AuthContext, rawBody: unknown): PreparedEmbeddings {
    const body = requireJsonObject(rawBody);
    assertJsonDepth(body);
    const model = resolveModel(this.catalog, body.model, auth.allowedModels);
    checkEmbeddingsInput(body.input);
    return { auth, model, body };
  }

  /** Forwards the request; returns the upstream's JSON bytes. Reports usage (prompt tokens). */
  async create(prepared: PreparedEmbeddings, options: CallOptions): Promise<Buffer> {
    const call = await this.upstream.send(prepared.model, {
      operation: 'embeddings',
      body: (upstream) => {
        const body = prepared.body;
        const alias = body.model;
        body.model = upstream.model;
        try {
          return JSON.stringify(body);
        } finally {
          body.model = alias;
        }
      },
      signal: options.signal,
      requestId: options.requestId,
      log: options.log,
    });
    const bytes = await this.upstream.readBody(call);
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new ApiError(
        'upstream_error',
        `The model server for "${prepared.model.alias}" answered with invalid JSON`,
      );
    }
    const usage = readUsage(json);
    if (usage) {
      this.usage.report(prepared.auth, prepared.model.alias, usage);
    }
    return bytes;
  }
}
