import { Module } from '@nestjs/common';
import { ModelsModule } from 'src/modules/models/models.module';
import { CountTokensController } from 'src/modules/proxy/count-tokens.controller';
import { CountTokensService } from 'src/modules/proxy/count-tokens.service';
import { PolicyModule } from 'src/modules/policy/policy.module';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { EmbeddingsService } from 'src/modules/proxy/embeddings.service';
import { MessagesService } from 'src/modules/proxy/messages.service';
import { StreamRunner } from 'src/modules/proxy/stream/stream-runner';
import { UsageReporter } from 'src/modules/proxy/usage-reporter';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';
import { V1ChatController } from 'src/modules/proxy/v1-chat.controller';
import { V1MessagesController } from 'src/modules/proxy/v1-messages.controller';

/**
 * The stateless /v1 proxy. Exports the services /c1 and the Anthropic translation build on:
 * `ChatCompletionsService` (prepare → complete | stream), `MessagesService`, `EmbeddingsService`,
 * `StreamRunner` (every client stream) and `UsageReporter`. A module that needs
 * `UpstreamClient`, `WireFormats` or `ModelCatalog` imports `UpstreamModule` or `ModelsModule`
 * itself.
 */
@Module({
  imports: [ModelsModule, UpstreamModule, PolicyModule],
  providers: [
    UsageReporter,
    StreamRunner,
    ChatCompletionsService,
    EmbeddingsService,
    MessagesService,
    CountTokensService,
  ],
  controllers: [V1ChatController, V1MessagesController, CountTokensController],
  exports: [
    UsageReporter,
    StreamRunner,
    ChatCompletionsService,
    EmbeddingsService,
    MessagesService,
  ],
})
export class ProxyModule {}
