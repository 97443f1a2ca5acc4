import { SetMetadata } from '@nestjs/common';

export const HOT_ROUTE = 'parley:hotRoute';

/**
 * Serves this controller method from a plain Fastify handler instead of Nest's per-request
 * pipeline (see `installHotRoutes`): the same global guards, the same method, the same global
 * exception filter, about half the framework's CPU per request. For the few routes on every
 * request's path (`/v1`). The method may take only `@Req()`, `@Res()` and custom parameter
 * decorators (no DTO body, query or params, which would need pipes) and may have no route
 * guards, interceptors, pipes or filters of its own: the app refuses to start otherwise.
 */
export const HotRoute = (): MethodDecorator => SetMetadata(HOT_ROUTE, true);
