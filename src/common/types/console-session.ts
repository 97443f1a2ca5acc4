/** Console roles: `admin` manages keys and users, `viewer` reads. */
export type ConsoleRole = 'admin' | 'viewer';

/** A live console session, as the guard and `/api/me` use it. Attached as `consoleSession`. */
export interface ConsoleSession {
  idHash: string;
  userId: string;
  username: string;
  role: ConsoleRole;
  csrfToken: string;
}
