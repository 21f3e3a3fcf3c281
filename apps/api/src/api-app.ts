import multipart from '@fastify/multipart';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiKeyAuthenticator } from '@conveyor/auth';
import { mountConsole } from '@conveyor/console';
import type { AppConfig } from '@conveyor/config';
import { mountQueueDashboard } from '@conveyor/dashboard';
import {
  ApiExceptionFilter,
  capConnectionsPerAddress,
  createValidationPipe,
  httpServerErrorOptions,
  httpServerTimeoutOptions,
  installInputLimits,
  installUnreadBodyDrain,
  trustedPeer,
  useSecurityHeaders,
} from '@conveyor/http';
import { ErrorReporter, installHttpMetrics, installRequestLogging, installServerSpans, requestIdOf, TaskMetrics } from '@conveyor/observability';
import { setupApiDocs } from '@conveyor/tasks/api';

/**
 * How the API process sets up its HTTP app, shared by main.ts and the in-process controller
 * tests (`startInProcessApi` of @conveyor/testing), so both serve the same app.
 */

/** The Fastify server of the API. */
export function apiAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    ...httpServerErrorOptions,
    // Header and body timeouts, and which proxies may name the client (TRUST_PROXY).
    ...httpServerTimeoutOptions(config.http),
    bodyLimit: config.security.jsonBodyLimitBytes,
    genReqId: requestIdOf,
    // During a graceful stop, requests already on open keep-alive connections are still served
    // (pm2 reload, rolling deploys) instead of being answered 503.
    return503OnClosing: false,
  });
}

/** Hooks, filters, pipes, uploads, the dashboard, the console and the docs, in the order they must run. */
export async function configureApiApp(app: NestFastifyApplication, config: AppConfig): Promise<void> {
  // A server span per request (tracing on): first, so every hook after it runs inside it.
  installServerSpans(app.getHttpAdapter().getInstance());
  // Request logs from Fastify hooks; the app's logger names the request on lines logged within one.
  installRequestLogging(app);
  // Security headers; the API serves JSON (and Swagger UI), so a strict default policy fits.
  // upgrade-insecure-requests would make browsers fetch Swagger UI's assets over https when the
  // API is reached over plain http by host name (e.g. inside a cluster), leaving a blank page.
  useSecurityHeaders(app.getHttpAdapter().getInstance(), { contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
  // Uploads stream through @fastify/multipart; the limits are set per request by the files service.
  await app.register(multipart as never);
  if (config.security.corsOrigins.length > 0) app.enableCors({ origin: config.security.corsOrigins, credentials: false });
  const reporter = app.get(ErrorReporter);
  app.useGlobalFilters(
    new ApiExceptionFilter((error, request) =>
      reporter.captureError(error, { request_id: String(request.id), route: request.routeOptions?.url ?? 'unmatched', method: request.method }),
    ),
  );
  app.useGlobalPipes(createValidationPipe());
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // After helmet and CORS, so a 401 still carries their headers; before any body is read.
  app.get(ApiKeyAuthenticator).install(app);
  capConnectionsPerAddress(fastify.server, config.http.maxConnectionsPerAddress, trustedPeer(config.http.trustProxy));
  installUnreadBodyDrain(fastify);
  installInputLimits(fastify, config.limits.json);
  installHttpMetrics(fastify, app.get(TaskMetrics));
  await mountQueueDashboard(app);
  await mountConsole(app);
  setupApiDocs(app);
}
