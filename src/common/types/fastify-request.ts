import 'fastify';
import { AuthContext } from 'src/common/types/auth-context';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API-key guard on authenticated routes. */
    auth?: AuthContext;
    /** The catalog alias this request was served by, for logs and metrics. */
    modelAlias?: string;
  }
}
