import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { ConsoleSessionEntity } from 'src/modules/console-auth/console-session.entity';
import { ConsoleUserEntity } from 'src/modules/console-auth/console-user.entity';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { ResponseEventEntity } from 'src/modules/responses/response-event.entity';
import { ResponseEntity } from 'src/modules/responses/response.entity';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';
import { GpuReportEntity } from 'src/modules/fleet/gpu-report.entity';
import { QuotaReservationEntity } from 'src/modules/usage/quota-reservation.entity';

/** Every TypeORM entity; the app and the CLI share this list. */
export const ENTITIES: Function[] = [
  ApiKeyEntity,
  ConversationEntity,
  MessageEntity,
  IdempotencyKeyEntity,
  DailyUsageEntity,
  GpuReportEntity,
  ConsoleUserEntity,
  ConsoleSessionEntity,
  QuotaReservationEntity,
  ResponseEntity,
  ResponseEventEntity,
];
