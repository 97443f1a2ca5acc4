import { Module } from '@nestjs/common';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { PolicyModule } from 'src/modules/policy/policy.module';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { UpstreamModule } from 'src/modules/proxy/upstream/upstream.module';
import { BackgroundRuns } from 'src/modules/responses/background-runs';
import { ResponseTurnService } from 'src/modules/responses/response-turn.service';
import { ConversationItemsRepository } from 'src/modules/responses/conversation-items.repository';
import { ConversationsApiController } from 'src/modules/responses/conversations-api.controller';
import { ConversationsApiService } from 'src/modules/responses/conversations-api.service';
import { ResponsesController } from 'src/modules/responses/responses.controller';
import { ResponsesRepository } from 'src/modules/responses/responses.repository';
import { ResponsesService } from 'src/modules/responses/responses.service';

/** OpenAI's Responses and Conversations APIs, served from the `/c1` conversation store. */
@Module({
  imports: [ProxyModule, UpstreamModule, ConversationsModule, PolicyModule],
  controllers: [ResponsesController, ConversationsApiController],
  providers: [
    BackgroundRuns,
    ResponsesRepository,
    ResponsesService,
    ResponseTurnService,
    ConversationItemsRepository,
    ConversationsApiService,
  ],
})
export class ResponsesModule {}
