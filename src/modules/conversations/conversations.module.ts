import { Module } from '@nestjs/common';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { C1ChatController } from 'src/modules/conversations/c1-chat.controller';
import { C1MessagesController } from 'src/modules/conversations/c1-messages.controller';
import { C1ReattachController } from 'src/modules/conversations/c1-reattach.controller';
import { LiveTurns } from 'src/modules/conversations/live-turns';
import { C1TurnService } from 'src/modules/conversations/c1-turn.service';
import { ChatTurnWire } from 'src/modules/conversations/chat-turn-wire';
import { MessagesTurnWire } from 'src/modules/conversations/messages-turn-wire';
import { ConversationsController } from 'src/modules/conversations/conversations.controller';
import { ConversationSql } from 'src/modules/conversations/conversation-sql';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { renderedWindowBytes, RenderedWindows } from 'src/modules/conversations/openai-prompt';
import { ResentHistoryReconciler } from 'src/modules/conversations/resent-history-reconciler';
import { TurnEngine } from 'src/modules/conversations/turn-engine';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';
import { TurnStore } from 'src/modules/conversations/turn-store';
import { TurnsRepository } from 'src/modules/conversations/turns.repository';
import { ProxyModule } from 'src/modules/proxy/proxy.module';
import { SearchModule } from 'src/modules/search/search.module';

/** /c1: conversations stored per user, built on the /v1 engine of ProxyModule. */
@Module({
  imports: [ProxyModule, SearchModule],
  controllers: [
    C1ChatController,
    C1MessagesController,
    C1ReattachController,
    ConversationsController,
  ],
  providers: [
    ConversationSql,
    ConversationsRepository,
    TurnsRepository,
    { provide: TurnStore, useExisting: TurnsRepository },
    TurnEngine,
    ConversationsService,
    C1TurnService,
    ChatTurnWire,
    MessagesTurnWire,
    TurnReaper,
    ResentHistoryReconciler,
    LiveTurns,
    {
      provide: HistoryCache,
      inject: [APP_CONFIG],
      // HISTORY_CACHE_BYTES covers both caches of recent history: the stored messages and
      // their rendered OpenAI windows.
      useFactory: (config: AppConfig) => {
        const total = config.conversations.historyCacheBytes;
        return new HistoryCache(total - renderedWindowBytes(total));
      },
    },
    {
      provide: RenderedWindows,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new RenderedWindows(renderedWindowBytes(config.conversations.historyCacheBytes)),
    },
  ],
  exports: [
    ConversationSql,
    ConversationsService,
    ConversationsRepository,
    TurnsRepository,
    TurnEngine,
    RenderedWindows,
  ],
})
export class ConversationsModule {}
