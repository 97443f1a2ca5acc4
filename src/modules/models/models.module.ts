import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { C1ModelsController, ModelsController } from 'src/modules/models/models.controller';
import { ModelsService } from 'src/modules/models/models.service';
import { UpstreamHealthBook } from 'src/modules/models/upstream-health';

/**
 * The model catalog (MODELS_FILE, or the built-in `echo` dev model), loaded and validated at
 * boot, `/v1/models` and `/v1/info`, and per-upstream health as last seen.
 */
@Module({
  providers: [
    {
      provide: ModelCatalog,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ModelCatalog.fromConfig(config),
    },
    UpstreamHealthBook,
    ModelsService,
  ],
  controllers: [ModelsController, C1ModelsController],
  exports: [ModelCatalog, UpstreamHealthBook],
})
export class ModelsModule {}
