import { Module } from '@nestjs/common';
import { C1ChatController } from 'src/modules/conversations/c1-chat.controller';
import { C1ChatService } from 'src/modules/conversations/c1-chat.service';
import { ConversationsController } from 'src/modules/conversations/conversations.controller';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';
import { ProxyModule } from 'src/modules/proxy/proxy.module';

/** /c1: conversations stored per user, built on the /v1 engine of ProxyModule. */
@Module({
  imports: [ProxyModule],
  controllers: [C1ChatController, ConversationsController],
  providers: [ConversationsRepository, ConversationsService, C1ChatService, TurnReaper],
  exports: [ConversationsService, ConversationsRepository],
})
export class ConversationsModule {}
