import { CanActivate, ExceptionFilter, PipeTransform, Type, ValidationPipe } from '@nestjs/common';
import {
  CUSTOM_ROUTE_ARGS_METADATA,
  EXCEPTION_FILTERS_METADATA,
  FILTER_CATCH_EXCEPTIONS,
  GUARDS_METADATA,
  HEADERS_METADATA,
  HTTP_CODE_METADATA,
  INTERCEPTORS_METADATA,
  METHOD_METADATA,
  PATH_METADATA,
  PIPES_METADATA,
  REDIRECT_METADATA,
  RENDER_METADATA,
  ROUTE_ARGS_METADATA,
} from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common/enums/request-method.enum';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import { ApplicationConfig, MetadataScanner, ModulesContainer } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import { HotExecutionContext } from 'src/common/http/hot-routes/hot-execution-context';
import { HOT_ROUTE } from 'src/common/http/hot-routes/hot-route.decorator';
import { sendApiError } from 'src/common/http/send-error';
import { ApiError } from 'src/common/errors/api-error';

type Handler = (...args: unknown[]) => unknown;
type ParamResolver = (context: ExecutionContextHost) => unknown;

interface CustomParam {
  index: number;
  data: unknown;
  factory: (data: unknown, context: ExecutionContextHost) => unknown;
  pipes?: unknown[];
}

/**
 * Serves the `@HotRoute()` controller methods from plain Fastify handlers. Nest still builds
 * and wires everything (the controller, its services, the global guards and filter, the route
 * itself and its OpenAPI entry); only the per-request pipeline is replaced — router proxy,
 * execution context, guard consumer (one `await` per guard), interceptor and pipe chains,
 * response controller — by the few steps these routes need, done synchronously where they
 * can be:
 *
 * 1. the global guards, in Nest's order, on Nest's own `ExecutionContextHost` (they read route
 *    metadata from the same handler; `HotExecutionContext` only makes `switchToHttp` cheap),
 *    awaited only when one returns a promise;
 * 2. Nest's default status (201 for POST, or `@HttpCode()`), then the method itself, its
 *    arguments resolved as Nest would (`@Req`, `@Res`, custom decorators);
 * 3. any error → the global exception filter, as Nest's exception zone would call it.
 *
 * The handler is swapped in Fastify's `onRoute` hook when Nest registers the route, so the
 * route table, hooks (request id, metrics, log line) and content-type parsing are Fastify's as
 * before. Call after `NestFactory.create` and before `app.init()`. Anything the short pipeline
 * does not do (route guards, interceptors, pipes on the method, DTO parameters, global
 * interceptors, request-scoped enhancers) is refused at start rather than silently skipped.
 */
export function installHotRoutes(app: NestFastifyApplication): void {
  const handlers = new Map<string, RouteHandlerMethod>();
  const config = applicationConfigOf(app);
  const scanner = new MetadataScanner();
  const controllers = [...app.get(ModulesContainer).values()].flatMap((m) => [
    ...m.controllers.values(),
  ]);
  for (const wrapper of controllers) {
    const instance = wrapper.instance as Record<string, unknown> | undefined;
    const controller = wrapper.metatype as Type<unknown> | null;
    if (!instance || !controller) {
      continue;
    }
    const prototype = Object.getPrototypeOf(instance) as object;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const method = (prototype as Record<string, Handler>)[name];
      if (Reflect.getMetadata(HOT_ROUTE, method) !== true) {
        continue;
      }
      const where = `${controller.name}.${name}`;
      assertNothingBypassed(where, controller, method);
      const verb = RequestMethod[Reflect.getMetadata(METHOD_METADATA, method) as number];
      const key = `${verb} ${routePath(controller, method)}`;
      handlers.set(
        key,
        hotHandler({
          instance,
          controller,
          method,
          params: paramResolvers(where, controller, name),
          // Nest's default: 201 for POST, 200 otherwise, unless @HttpCode() says.
          status:
            (Reflect.getMetadata(HTTP_CODE_METADATA, method) as number | undefined) ??
            (verb === 'POST' ? 201 : 200),
          guards: globalGuards(config),
          filters: globalFilters(config),
        }),
      );
    }
  }
  if (handlers.size === 0) {
    return;
  }
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) {
        const handler = handlers.get(`${method} ${route.url}`);
        if (handler) {
          route.handler = handler;
        }
      }
    });
  assertNoGlobalInterceptorsOrPipes(config);
}

interface HotRouteParts {
  instance: object;
  controller: Type<unknown>;
  method: Handler;
  params: ParamResolver[];
  /** Set after the guards, before the method, as Nest does (the method may set another). */
  status: number;
  guards: CanActivate[];
  filters: FilterEntry[];
}

function hotHandler(parts: HotRouteParts): RouteHandlerMethod {
  const { instance, controller, method, params, status, guards, filters } = parts;
  const fail = (error: unknown, context: ExecutionContextHost): void => {
    const filter = filters.find((f) => f.catches(error));
    if (filter) {
      void filter.instance.catch(error, context);
      return;
    }
    // Nest's own last resort without a matching filter: a 500.
    const reply = context.getArgByIndex<FastifyReply>(1);
    if (!reply.sent) {
      sendApiError(reply, new ApiError('internal_error', 'Internal error', { cause: error }));
    }
  };
  const invoke = (context: ExecutionContextHost): unknown => {
    void context.getArgByIndex<FastifyReply>(1).status(status);
    const args = params.map((resolve) => resolve(context));
    return method.apply(instance, args);
  };
  /** Runs guards from `from` on; synchronous until one returns a promise. */
  const guardAndInvoke = (context: ExecutionContextHost, from: number): unknown => {
    for (let i = from; i < guards.length; i++) {
      const allowed = guards[i].canActivate(context);
      if (typeof allowed !== 'boolean') {
        return Promise.resolve(allowed as Promise<boolean>).then((ok) => {
          if (!ok) {
            throw refused();
          }
          return guardAndInvoke(context, i + 1);
        });
      }
      if (!allowed) {
        throw refused();
      }
    }
    return invoke(context);
  };
  // Not `async`: Fastify would treat a promise resolving to `undefined` as a missing answer;
  // like Nest's handlers, this one answers through `reply` (or `reply.raw` for streams).
  return function (this: unknown, request: FastifyRequest, reply: FastifyReply): void {
    const context = new HotExecutionContext([request, reply], controller, method);
    let result: unknown;
    try {
      result = guardAndInvoke(context, 0);
    } catch (error) {
      fail(error, context);
      return;
    }
    if (result instanceof Promise) {
      result.catch((error: unknown) => fail(error, context));
    }
  };
}

/**
 * A guard that answers `false` instead of throwing (none of Parley's does): Nest throws a bare
 * 403 HttpException, which the catalog filter answers as `internal_error`; so does this.
 */
function refused(): ApiError {
  return new ApiError('internal_error', 'A guard refused the request without saying why');
}

function paramResolvers(where: string, controller: Type<unknown>, name: string): ParamResolver[] {
  const metadata = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, name) ?? {}) as Record<
    string,
    Partial<CustomParam>
  >;
  const resolvers: ParamResolver[] = [];
  for (const [key, param] of Object.entries(metadata)) {
    const index = param.index ?? Number(key.split(':').pop());
    if (param.pipes && param.pipes.length > 0) {
      throw new Error(`${where}: a @HotRoute() parameter may not have pipes`);
    }
    if (key.includes(CUSTOM_ROUTE_ARGS_METADATA)) {
      const { factory, data } = param as CustomParam;
      resolvers[index] = (context) => factory(data, context);
      continue;
    }
    const type = Number(key.split(':')[0]) as RouteParamtypes;
    if (type === RouteParamtypes.REQUEST) {
      resolvers[index] = (context) => context.getArgByIndex<unknown>(0);
    } else if (type === RouteParamtypes.RESPONSE) {
      resolvers[index] = (context) => context.getArgByIndex<unknown>(1);
    } else {
      throw new Error(
        `${where}: a @HotRoute() method takes only @Req(), @Res() and custom decorators (${RouteParamtypes[type]} needs pipes)`,
      );
    }
  }
  return resolvers;
}

function assertNothingBypassed(where: string, controller: Type<unknown>, method: Handler): void {
  for (const key of [HEADERS_METADATA, REDIRECT_METADATA, RENDER_METADATA]) {
    if (Reflect.getMetadata(key, method) !== undefined) {
      throw new Error(`${where}: a @HotRoute() may not use ${key} (answer through the reply)`);
    }
  }
  for (const key of [
    GUARDS_METADATA,
    INTERCEPTORS_METADATA,
    PIPES_METADATA,
    EXCEPTION_FILTERS_METADATA,
  ]) {
    const own = [
      ...((Reflect.getMetadata(key, method) as unknown[] | undefined) ?? []),
      ...((Reflect.getMetadata(key, controller) as unknown[] | undefined) ?? []),
    ];
    if (own.length > 0) {
      throw new Error(`${where}: a @HotRoute() may not have route-level ${key}`);
    }
  }
}

/**
 * Nest's `ApplicationConfig` holds the global enhancers (`APP_GUARD`, `APP_FILTER`…); it is not
 * injectable, so it is read from the application, where Nest keeps it.
 */
function applicationConfigOf(app: NestFastifyApplication): ApplicationConfig {
  const config = (app as unknown as { config?: unknown }).config;
  if (!(config instanceof ApplicationConfig)) {
    throw new Error('installHotRoutes: this Nest version keeps its ApplicationConfig elsewhere');
  }
  return config;
}

function staticInstances<T>(wrappers: { instance: T; isDependencyTreeStatic(): boolean }[]): T[] {
  return wrappers.map((wrapper) => {
    if (!wrapper.isDependencyTreeStatic()) {
      throw new Error('installHotRoutes: request-scoped global enhancers are not supported');
    }
    return wrapper.instance;
  });
}

/** In Nest's order: `useGlobalGuards()` ones, then `APP_GUARD` providers as registered. */
function globalGuards(config: ApplicationConfig): CanActivate[] {
  return [...config.getGlobalGuards(), ...staticInstances(config.getGlobalRequestGuards())];
}

interface FilterEntry {
  instance: ExceptionFilter;
  catches(error: unknown): boolean;
}

/** As Nest's exception handler: the last registered filter that catches the error wins. */
function globalFilters(config: ApplicationConfig): FilterEntry[] {
  const filters = [
    ...config.getGlobalFilters(),
    ...staticInstances(config.getGlobalRequestFilters()),
  ];
  return filters.reverse().map((instance) => {
    const types = (Reflect.getMetadata(FILTER_CATCH_EXCEPTIONS, instance.constructor) ??
      []) as Type<unknown>[];
    return {
      instance,
      catches: (error) => types.length === 0 || types.some((type) => error instanceof type),
    };
  });
}

function assertNoGlobalInterceptorsOrPipes(config: ApplicationConfig): void {
  const interceptors = [
    ...config.getGlobalInterceptors(),
    ...config.getGlobalRequestInterceptors(),
  ];
  if (interceptors.length > 0) {
    throw new Error('installHotRoutes: global interceptors would be skipped on @HotRoute() routes');
  }
  const pipes: PipeTransform[] = [
    ...config.getGlobalPipes(),
    ...staticInstances(config.getGlobalRequestPipes()),
  ];
  for (const pipe of pipes) {
    // A ValidationPipe leaves custom decorators' values alone unless told otherwise, and the
    // hot routes have no other parameters a pipe would see.
    const validatesCustom = (pipe as unknown as { validateCustomDecorators?: boolean })
      .validateCustomDecorators;
    if (!(pipe instanceof ValidationPipe) || validatesCustom === true) {
      throw new Error(
        `installHotRoutes: the global pipe ${pipe.constructor.name} would be skipped`,
      );
    }
  }
}

function routePath(controller: Type<unknown>, method: Handler): string {
  const join = (...parts: unknown[]) =>
    `/${parts
      .flatMap((p) => (typeof p === 'string' ? [p] : []))
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .filter(Boolean)
      .join('/')}`;
  return join(
    Reflect.getMetadata(PATH_METADATA, controller),
    Reflect.getMetadata(PATH_METADATA, method),
  );
}
