import { Logger } from '@nestjs/common';
import { AppConfig } from 'src/config/load-config';
import { loadCatalog } from 'src/modules/models/catalog.loader';
import { Catalog, CatalogModel } from 'src/kernel/catalog-model';

/**
 * The models this gateway serves, loaded and validated once at boot (a bad MODELS_FILE stops
 * the process before it listens). Read-only afterwards.
 */
export class ModelCatalog {
  private readonly byAlias: Map<string, CatalogModel>;

  constructor(readonly catalog: Catalog) {
    this.byAlias = new Map(catalog.models.map((m) => [m.alias, m]));
  }

  static fromConfig(config: AppConfig): ModelCatalog {
    const { catalog, warnings } = loadCatalog(config.models.file, config.models.readEnv);
    const logger = new Logger('models');
    for (const warning of warnings) {
      logger.warn(warning);
    }
    return new ModelCatalog(catalog);
  }

  get(alias: string): CatalogModel | undefined {
    return this.byAlias.get(alias);
  }

  list(): readonly CatalogModel[] {
    return this.catalog.models;
  }

  /** True when serving the built-in dev catalog (no MODELS_FILE). */
  get isBuiltin(): boolean {
    return this.catalog.source === 'builtin';
  }
}
