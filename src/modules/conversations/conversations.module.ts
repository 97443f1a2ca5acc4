import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { C1ChatController } from 'src/modules/conversations/c1-chat.controller';
import { C1ChatService } from 'src/modules/conversations/c1-chat.service';
import { ConversationsController } from 'src/modules/conversations/conversations.controller';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';
import { ProxyModule } from 'src/modules/proxy/proxy.module';

/** /c1: conversations stored per user, built on the /v1 engine of ProxyModule. */
@Module({
  imports: [ProxyModule],
  controllers: [C1ChatController, ConversationsController],
  providers: [
    ConversationsRepository,
    ConversationsService,
    C1ChatService,
    TurnReaper,
    {
      provide: HistoryCache,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => new HistoryCache(config.conversations.historyCacheBytes),
    },
  ],
  exports: [ConversationsService, ConversationsRepository],
})
export class ConversationsModule {}
