import { Controller, ExecutionContext, Get } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Public } from 'src/common/decorators/public.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyGuard } from 'src/modules/auth/api-key.guard';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { AuthService } from 'src/modules/auth/auth.service';
import { ConsoleSessionGate } from 'src/modules/console-auth/console-session.gate';
import { ConsoleSessionsService } from 'src/modules/console-auth/console-sessions.service';

@Controller()
class Routes {
  @Get() @Public() open() {}
  @Get() keyed() {}
  @Get() @AdminOnly() admin() {}
}

@AdminOnly()
@Controller()
class AdminRoutes {
  @Get() list() {}
}

const CONTEXT = { keyId: 'k', userId: 'u' } as AuthContext;

function contextFor(cls: Function, handler: Function, url: string) {
  const request: Record<string, unknown> = { routeOptions: { url }, url, headers: {}, ip: '::1' };
  const context = {
    getHandler: () => handler,
    getClass: () => cls,
    switchToHttp: () => ({ getRequest: () => request }),
  } as unknown as ExecutionContext;
  return { context, request };
}

describe(ApiKeyGuard.name, () => {
  let authenticator: { authenticate: jest.Mock; authenticateAdmin: jest.Mock };
  let guard: ApiKeyGuard;

  beforeEach(() => {
    authenticator = {
      authenticate: jest.fn().mockReturnValue(CONTEXT),
      authenticateAdmin: jest.fn(),
    };
    guard = new ApiKeyGuard(
      new Reflector(),
      authenticator as unknown as AuthService,
      // No request here carries a session cookie: the gate must stay out of the way.
      new ConsoleSessionGate({} as ConsoleSessionsService),
    );
  });

  it('lets @Public() routes through without looking at credentials', () => {
    const { context } = contextFor(Routes, Routes.prototype.open, '/healthz');
    expect(guard.canActivate(context)).toBe(true);
    expect(authenticator.authenticate).not.toHaveBeenCalled();
    expect(authenticator.authenticateAdmin).not.toHaveBeenCalled();
  });

  it('requires an API key everywhere else and sets request.auth', () => {
    const { context, request } = contextFor(Routes, Routes.prototype.keyed, '/v1/me');
    expect(guard.canActivate(context)).toBe(true);
    expect(request.auth).toBe(CONTEXT);
    expect(authenticator.authenticateAdmin).not.toHaveBeenCalled();
  });

  it('waits for a database lookup when the key is not cached', async () => {
    authenticator.authenticate.mockResolvedValue(CONTEXT);
    const { context, request } = contextFor(Routes, Routes.prototype.keyed, '/v1/me');
    await expect(guard.canActivate(context)).resolves.toBe(true);
    expect(request.auth).toBe(CONTEXT);
  });

  it.each([
    ['@AdminOnly() on the method', Routes, Routes.prototype.admin, '/v1/admin-thing'],
    ['@AdminOnly() on the controller', AdminRoutes, AdminRoutes.prototype.list, '/x'],
    ['any route under /api/, decorated or not', Routes, Routes.prototype.keyed, '/api/usage'],
  ])('requires ADMIN_TOKEN for %s', (_case, cls, handler, url) => {
    const { context, request } = contextFor(cls, handler, url);
    expect(guard.canActivate(context)).toBe(true);
    expect(authenticator.authenticateAdmin).toHaveBeenCalledWith(request);
    expect(authenticator.authenticate).not.toHaveBeenCalled();
    expect(request.auth).toBeUndefined();
  });

  it('propagates the authenticator refusal', () => {
    authenticator.authenticate.mockImplementation(() => {
      throw new Error('refused');
    });
    const { context } = contextFor(Routes, Routes.prototype.keyed, '/v1/me');
    expect(() => guard.canActivate(context)).toThrow('refused');
  });
});
