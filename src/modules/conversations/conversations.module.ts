import { Module } from '@nestjs/common';
import { ConversationsController } from 'src/modules/conversations/conversations.controller';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';

@Module({
  controllers: [ConversationsController],
  providers: [ConversationsRepository, ConversationsService, TurnReaper],
  exports: [ConversationsService],
})
export class ConversationsModule {}
