import { Conversations1795322800000 } from 'src/database/migrations/1795322800000-Conversations';
import { ApiKeys1795322890000 } from 'src/database/migrations/1795322890000-ApiKeys';
import { UsageDaily1795323435802 } from 'src/database/migrations/1795323435802-UsageDaily';
import { Responses1795400000000 } from 'src/database/migrations/1795400000000-Responses';

/** Every migration in order; the app, the CLI and the drift test share this list. */
export const MIGRATIONS: Function[] = [
  Conversations1795322800000,
  ApiKeys1795322890000,
  UsageDaily1795323435802,
  Responses1795400000000,
];
