import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { ConversationEntity } from 'src/modules/conversations/conversation.entity';
import { IdempotencyKeyEntity } from 'src/modules/conversations/idempotency-key.entity';
import { MessageEntity } from 'src/modules/conversations/message.entity';
import { ResponseEventEntity } from 'src/modules/responses/response-event.entity';
import { ResponseEntity } from 'src/modules/responses/response.entity';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';

/** Every TypeORM entity; the app and the CLI share this list. */
export const ENTITIES: Function[] = [
  ApiKeyEntity,
  ConversationEntity,
  MessageEntity,
  IdempotencyKeyEntity,
  DailyUsageEntity,
  ResponseEntity,
  ResponseEventEntity,
];
