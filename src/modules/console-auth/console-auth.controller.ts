import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags, ApiNoContentResponse } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Public } from 'src/common/decorators/public.decorator';
import { HEADER } from 'src/common/http/headers';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { LOGIN_LIMITER } from 'src/modules/console-auth/console-tokens';
import { ConsoleSessionGate } from 'src/modules/console-auth/console-session.gate';
import { ConsoleSessionsService } from 'src/modules/console-auth/console-sessions.service';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';
import { LoginDto, MeResponseDto } from 'src/modules/console-auth/dto/login.dto';
import { SignInLimiter } from 'src/modules/console-auth/sign-in-limiter';
import {
  clearedSessionCookie,
  readSessionId,
  sessionCookie,
} from 'src/modules/console-auth/session-cookie';

const INVALID_CREDENTIALS = 'The username or password is wrong, or the user is disabled';

/**
 * Console sign-in. These routes are `@Public()` (they are how a session is obtained) and check
 * what they need themselves; every other `/api` route is guarded by ADMIN_TOKEN or a session.
 */
@ApiTags('console')
@Controller('api')
export class ConsoleAuthController {
  constructor(
    private readonly users: ConsoleUsersService,
    private readonly sessions: ConsoleSessionsService,
    private readonly gate: ConsoleSessionGate,
    @Inject(LOGIN_LIMITER) private readonly attempts: SignInLimiter,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in to the console; sets the session cookie' })
  @ApiOkResponse({ type: MeResponseDto })
  @ApiErrors('missing_field', 'invalid_field', 'invalid_credentials', 'rate_limit_exceeded')
  async login(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Body() dto: LoginDto,
  ): Promise<MeResponseDto> {
    // Every attempt counts, right or wrong: a guesser gets ten a minute per address.
    const retryAfter = this.attempts.attempt(request.ip);
    if (retryAfter > 0) {
      throw new ApiError('rate_limit_exceeded', 'Too many sign-in attempts from this address', {
        headers: { [HEADER.retryAfter]: String(retryAfter) },
      });
    }
    const user = await this.users.authenticate(dto.username, dto.password);
    if (!user) {
      throw new ApiError('invalid_credentials', INVALID_CREDENTIALS);
    }
    const previous = readSessionId(request.headers.cookie);
    if (previous !== null) {
      await this.sessions.end(previous);
    }
    const started = await this.sessions.start(user);
    void reply.header(
      'set-cookie',
      sessionCookie(started.id, started.maxAgeSeconds, request.protocol === 'https'),
    );
    return {
      authenticated: true,
      user: user.username,
      role: user.role,
      csrf_token: started.csrfToken,
    };
  }

  @Public()
  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'End the console session (needs x-csrf-token) and clear the cookie' })
  @ApiNoContentResponse({ description: 'Signed out (also when there was no session)' })
  @ApiErrors('csrf_failed')
  async logout(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<void> {
    // A live session needs its CSRF token (another site must not sign the user out); an
    // ended one is simply cleared. Viewers may sign out too.
    const session = await this.gate.sessionOf(request);
    if (session) {
      this.gate.assertCsrf(request, session);
      await this.sessions.endByHash(session.idHash);
    }
    void reply.header('set-cookie', clearedSessionCookie(request.protocol === 'https'));
  }

  @Public()
  @Get('me')
  @ApiOperation({ summary: 'The signed-in console user, role and CSRF token' })
  @ApiOkResponse({ type: MeResponseDto })
  @ApiErrors('missing_authorization')
  async me(
    @Req() request: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<MeResponseDto | { authenticated: false; error: unknown }> {
    const session = await this.gate.sessionOf(request);
    if (!session) {
      const error = new ApiError('missing_authorization', 'Not signed in to the console');
      void reply.status(error.status);
      return { ...error.toEnvelope(), authenticated: false };
    }
    return {
      authenticated: true,
      user: session.username,
      role: session.role,
      csrf_token: session.csrfToken,
    };
  }
}
