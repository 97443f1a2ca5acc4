import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { IS_PUBLIC } from 'src/common/decorators/public.decorator';
import { routeTemplateOf } from 'src/common/http/route-template';
import 'src/common/types/fastify-request';
import { ADMIN_PATH_PREFIX, IS_ADMIN, IS_NODE_REPORT } from 'src/modules/auth/auth.decorators';
import { admitRole } from 'src/modules/auth/node-role';
import { AuthService } from 'src/modules/auth/auth.service';
import { ConsoleSessionGate } from 'src/modules/console-auth/console-session.gate';

interface RouteAccess {
  isPublic: boolean;
  isAdmin: boolean;
  isNodeReport: boolean;
}

/**
 * The first guard of RequestGuardChain (the one APP_GUARD): every route needs an
 * API key unless it is `@Public()`; operator routes (`@AdminOnly()` or anything under `/api/`)
 * need ADMIN_TOKEN instead; `@NodeReport()` routes need a key with role `node`, the only routes
 * such a key may call. Sets `request.auth` for API-key routes. A request with no credential
 * header but a console session cookie is judged by the session instead (ConsoleSessionGate:
 * CSRF on mutations, viewers read only); on API-key routes it acts as user `console:<name>`.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** Route metadata does not change: read it once per handler. */
  private readonly access = new WeakMap<Function, RouteAccess>();

  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly consoleSessions: ConsoleSessionGate,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const access = this.accessOf(context);
    if (access.isPublic) {
      return true;
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const route = routeTemplateOf(request) ?? request.url;
    if (access.isNodeReport) {
      return this.admit(request, access);
    }
    const isAdminRoute = access.isAdmin || route.startsWith(ADMIN_PATH_PREFIX) || route === '/api';
    if (this.consoleSessions.carriesSession(request)) {
      if (isAdminRoute) {
        return this.consoleSessions.admitOperator(request).then(() => true);
      }
      return this.consoleSessions.admitAsUser(request).then((resolved) => {
        request.auth = resolved;
        return true;
      });
    }
    if (isAdminRoute) {
      this.auth.authenticateAdmin(request);
      return true;
    }
    return this.admit(request, access);
  }

  private admit(request: FastifyRequest, access: RouteAccess): boolean | Promise<boolean> {
    const caller = this.auth.authenticate(request);
    if (caller instanceof Promise) {
      return caller.then((resolved) => {
        request.auth = admitRole(resolved, access.isNodeReport);
        return true;
      });
    }
    request.auth = admitRole(caller, access.isNodeReport);
    return true;
  }

  private accessOf(context: ExecutionContext): RouteAccess {
    const handler = context.getHandler();
    let access = this.access.get(handler);
    if (!access) {
      const targets = [handler, context.getClass()];
      access = {
        isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true,
        isAdmin: this.reflector.getAllAndOverride<boolean>(IS_ADMIN, targets) === true,
        isNodeReport: this.reflector.getAllAndOverride<boolean>(IS_NODE_REPORT, targets) === true,
      };
      this.access.set(handler, access);
    }
    return access;
  }
}
