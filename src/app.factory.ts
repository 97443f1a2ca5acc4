import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { LogController } from 'fastify';
import type { DestinationStream } from 'pino';
import { AppModule } from 'src/app.module';
import { installHotRoutes } from 'src/common/http/hot-routes/install-hot-routes';
import { hasDotDotSegment } from 'src/common/http/path-guard';
import { requestIdFor } from 'src/common/http/request-id';
import { answerRouterError } from 'src/common/http/router-errors';
import { recordRoutes } from 'src/common/http/route-table';
import { sendApiError } from 'src/common/http/send-error';
import { createLogger, PinoNestLogger } from 'src/common/logging/logger';
import { installCheapAsyncResourceBind } from 'src/common/runtime/async-resource-bind';
import 'src/common/types/fastify-request';
import { AppConfig } from 'src/config/load-config';
import { AuthService } from 'src/modules/auth/auth.service';
import { ApiError } from 'src/common/errors/api-error';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { installRequestHooks } from 'src/modules/lifecycle/request-hooks';
import { ClientErrorHandler, serverTimeoutOptions } from 'src/modules/lifecycle/server-timeouts';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { mountOpenApi } from 'src/openapi';

export interface CreateAppOptions {
  /** Where JSON log lines go (tests capture them); stdout by default. */
  logDestination?: DestinationStream;
  /** Skip `/docs` and `/openapi.json` (the OpenAPI export builds its own document). */
  withoutDocs?: boolean;
}

/**
 * Builds the whole application, initialised but not listening. `main.ts`, the e2e tests and
 * the OpenAPI export all go through here, so they run the same code.
 */
export async function createApp(
  config: AppConfig,
  options: CreateAppOptions = {},
): Promise<NestFastifyApplication> {
  installCheapAsyncResourceBind();
  const logger = createLogger(config.log, options.logDestination);
  const clientErrors = new ClientErrorHandler();
  const timeouts = serverTimeoutOptions(config.http);
  const adapter = new FastifyAdapter({
    loggerInstance: logger,
    // One line per request is written by the request hooks, with key, user and model.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.http.maxBodyBytes,
    genReqId: requestIdFor,
    // Behind a load balancer, the client address (auth failure throttling) comes from
    // X-Forwarded-For, believed only from the proxies TRUST_PROXY names.
    ...(config.http.trustProxy ? { trustProxy: config.http.trustProxy } : {}),
    ...timeouts,
    // Node's default (16 KiB) would answer an oversized Authorization header with a bare 431
    // before any of our code runs; 64 KiB lets the API-key guard answer 401 in the envelope.
    http: { ...timeouts.http, maxHeaderSize: 64 * 1024 },
    clientErrorHandler: clientErrors.asFastifyOption(),
    return503OnClosing: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    frameworkErrors: answerRouterError,
  });
  const fastify = adapter.getInstance();
  recordRoutes(fastify);

  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), adapter, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  installHotRoutes(app);
  const metrics = app.get(MetricsService);
  clientErrors.countWith(metrics);
  const auth = app.get(AuthService, { strict: false });
  installRequestHooks(adapter, app.get(LifecycleService), metrics, config, (headers) =>
    auth.isRecognised(headers),
  );
  fastify.addHook('onRequest', (request, reply, done) => {
    if (hasDotDotSegment(request.raw.url ?? '')) {
      sendApiError(reply, new ApiError('invalid_path', 'The path must not contain ".."'));
      return;
    }
    done();
  });

  if (!options.withoutDocs) {
    mountOpenApi(app);
  }
  await app.init();
  return app;
}
