import { Module } from '@nestjs/common';
import { ConversationsModule } from 'src/modules/conversations/conversations.module';
import { ConsoleAssets } from 'src/modules/console/console-assets';
import { ConsoleConversationsController } from 'src/modules/console/console-conversations.controller';
import { ConsoleWebController } from 'src/modules/console/console-web.controller';
import { ConversationForksRepository } from 'src/modules/console/conversation-forks.repository';
import { OverviewController } from 'src/modules/console/overview.controller';
import { OverviewService } from 'src/modules/console/overview.service';
import { UsageReportController } from 'src/modules/console/usage-report.controller';
import { UsageReportRepository } from 'src/modules/console/usage-report.repository';

/**
 * The console: the web app at /console and the operator routes only it needs (overview, usage
 * report, any user's conversations). Sign-in and sessions are ConsoleAuthModule's.
 */
@Module({
  imports: [ConversationsModule],
  controllers: [
    ConsoleWebController,
    OverviewController,
    UsageReportController,
    ConsoleConversationsController,
  ],
  providers: [
    { provide: ConsoleAssets, useFactory: () => ConsoleAssets.load() },
    OverviewService,
    UsageReportRepository,
    ConversationForksRepository,
  ],
})
export class ConsoleModule {}
