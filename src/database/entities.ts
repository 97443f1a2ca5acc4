import { ApiKeyEntity } from 'src/modules/auth/api-key.entity';
import { DailyUsageEntity } from 'src/modules/usage/daily-usage.entity';

/** Every TypeORM entity; the app and the CLI share this list. */
export const ENTITIES: Function[] = [ApiKeyEntity, DailyUsageEntity];
