import { epochSeconds } from 'src/common/time/clock';
import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { CatalogModel } from 'src/kernel/catalog-model';
import {
  InfoResponseDto,
  ModelInfoDto,
  ModelListResponseDto,
  ModelObjectDto,
} from 'src/modules/models/dto/models-response.dto';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';

/**
 * `/v1/models`, `/v1/models/{id}` and `/v1/info` (the model routes are also under `/c1`). Both list only the models the caller's key may use (a key
 * restricted to some aliases does not learn about the others).
 */
@Injectable()
export class ModelsService {
  private readonly loadedAt = epochSeconds();

  constructor(
    private readonly catalog: ModelCatalog,
    private readonly health: UpstreamHealthBook,
  ) {}

  list(auth: AuthContext): ModelListResponseDto {
    return { object: 'list', data: this.visible(auth).map((m) => this.modelObject(m)) };
  }

  /**
   * One model (`GET /v1/models/{id}`). A model outside the key's allowed list is as unknown
   * as one outside the catalog (same 404), as the list hides it.
   */
  retrieve(auth: AuthContext, id: string): ModelObjectDto {
    const model = this.visible(auth).find((m) => m.alias === id);
    if (!model) {
      throw new ApiError('model_not_found', `The model "${id.slice(0, 200)}" does not exist`, {
        param: 'model',
      });
    }
    return this.modelObject(model);
  }

  private modelObject(m: CatalogModel): ModelObjectDto {
    return { id: m.alias, object: 'model', created: this.loadedAt, owned_by: 'parley' };
  }

  info(auth: AuthContext): InfoResponseDto {
    return {
      object: 'parley.info',
      dev: this.catalog.isBuiltin,
      models: this.visible(auth).map((m) => this.modelInfo(m)),
    };
  }

  private visible(auth: AuthContext): readonly CatalogModel[] {
    const allowed = auth.allowedModels;
    const all = this.catalog.list();
    return allowed === null ? all : all.filter((m) => allowed.includes(m.alias));
  }

  private modelInfo(m: CatalogModel): ModelInfoDto {
    const c = m.constraints;
    return {
      alias: m.alias,
      dev: m.dev !== undefined,
      label: m.dev?.label ?? null,
      constraints: {
        min_max_tokens: c.minMaxTokens,
        max_output_tokens: c.maxOutputTokens,
        context_window: c.contextWindow,
        accepts_image_url: c.acceptsImageUrl,
        accepts_images: c.acceptsImages,
        typical_response_seconds: c.typicalResponseSeconds,
      },
      // The catalog refuses URLs with credentials or a query at boot; keys are never listed.
      upstreams: m.upstreams.map((u) => {
        const h = this.health.get(u.id);
        return {
          url: u.url,
          format: u.format,
          model: u.model,
          status: h.status,
          last_seen_at: h.seenAt === null ? null : new Date(h.seenAt).toISOString(),
          latency_ms: h.latencyMs,
          last_error: h.lastError,
        };
      }),
    };
  }
}
