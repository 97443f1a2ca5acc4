import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { AuthContext } from 'src/common/types/auth-context';

/** The caller's `AuthContext`; only on routes behind the API-key guard. */
export const CurrentKey = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthContext => {
  const auth = ctx.switchToHttp().getRequest<FastifyRequest>().auth;
  if (!auth) {
    throw new Error('CurrentKey used on a route without authentication');
  }
  return auth;
});
