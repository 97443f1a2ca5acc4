import { Module } from '@nestjs/common';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { ChatChunkSource } from 'src/modules/responses/chat-chunk-source';
import { ResponseTurnService } from 'src/modules/responses/response-turn.service';
import { ResponsesController } from 'src/modules/responses/responses.controller';
import { ResponsesRepository } from 'src/modules/responses/responses.repository';
import { ResponsesService } from 'src/modules/responses/responses.service';

/** OpenAI's Responses and Conversations APIs, served from the `/c1` conversation store. */
@Module({
  imports: [ProxyModule, ConversationsModule],
  controllers: [ResponsesController],
  providers: [ChatChunkSource, ResponsesRepository, ResponsesService, ResponseTurnService],
})
export class ResponsesModule {}
