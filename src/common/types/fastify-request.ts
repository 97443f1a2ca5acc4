import 'fastify';
import { AuthContext } from 'src/common/types/auth-context';
import type { ConsoleSession } from 'src/common/types/console-session';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API-key guard on authenticated routes. */
    auth?: AuthContext;
    /** Set by the guard when a console session (not a credential header) admitted the request. */
    consoleSession?: ConsoleSession;
    /** The catalog alias this request was served by, for logs and metrics. */
    modelAlias?: string;
  }
}
