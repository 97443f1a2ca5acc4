import { Module } from '@nestjs/common';
import { ModelsModule } from 'src/modules/models/models.module';
import { PolicyModule } from 'src/modules/policy/policy.module';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import { EmbeddingsService } from 'src/modules/proxy/embeddings.service';
import { MessagesService } from 'src/modules/proxy/messages.service';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';
import { V1ChatController } from 'src/modules/proxy/v1-chat.controller';
import { V1MessagesController } from 'src/modules/proxy/v1-messages.controller';

/**
 * The stateless /v1 proxy. Exports the services /c1 and the Anthropic translation build on:
 * `ChatCompletionsService` (prepare → complete | stream), `EmbeddingsService`, and through
 * the re-exported modules `UpstreamClient` and `ModelCatalog`.
 */
@Module({
  imports: [ModelsModule, UpstreamModule, PolicyModule],
  providers: [ChatCompletionsService, EmbeddingsService, MessagesService],
  controllers: [V1ChatController, V1MessagesController],
  exports: [
    ChatCompletionsService,
    EmbeddingsService,
    MessagesService,
    ModelsModule,
    UpstreamModule,
  ],
})
export class ProxyModule {}
