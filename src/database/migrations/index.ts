import { ApiKeys1795322890000 } from 'src/database/migrations/1795322890000-ApiKeys';

/** Every migration in order; the app, the CLI and the drift test share this list. */
export const MIGRATIONS: Function[] = [ApiKeys1795322890000];
