import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ModelCatalog } from 'src/modules/models/model-catalog';
import { ModelsModule } from 'src/modules/models/models.module';
import { loadPolicy } from 'src/modules/policy/policy.loader';
import { PolicyService } from 'src/modules/policy/policy.service';

/** POLICY_FILE, read, validated and compiled once at start (a bad file stops the start). */
@Module({
  imports: [ModelsModule],
  providers: [
    {
      provide: PolicyService,
      inject: [APP_CONFIG, ModelCatalog],
      useFactory: (config: AppConfig, catalog: ModelCatalog) => {
        const aliases = catalog.list().map((m) => m.alias);
        return new PolicyService(loadPolicy(config.policy.file, new Set(aliases)), aliases);
      },
    },
  ],
  exports: [PolicyService],
})
export class PolicyModule {}
