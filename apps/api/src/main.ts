import 'reflect-metadata';
import './start-tracing';
import multipart from '@fastify/multipart';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { ApiKeyAuthenticator } from '@conveyor/auth';
import { mountConsole } from '@conveyor/console';
import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';
import { mountQueueDashboard } from '@conveyor/dashboard';
import { runMigrations } from '@conveyor/database';
import { boundShutdown, waitForDependencies } from '@conveyor/health';
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
import {
  bootLogger,
  ErrorReporter,
  installHttpMetrics,
  installRequestLogging,
  installTraceResponseHeader,
  requestIdOf,
  TaskMetrics,
} from '@conveyor/observability';
import { setupApiDocs } from '@conveyor/tasks/api';
import { ApiModule } from './api.module';

async function bootstrap(): Promise<void> {
  loadEnvFile();
  process.env.CONVEYOR_SERVICE ??= 'conveyor-api';
  const config = loadAppConfig();
  await waitForDependencies(config, bootLogger(config));
  if (config.database.migrationsRun) await runMigrations(config.database);

  const adapter = new FastifyAdapter({
    ...httpServerErrorOptions,
    // Header and body timeouts, and which proxies may name the client (TRUST_PROXY).
    ...httpServerTimeoutOptions(config.http),
    bodyLimit: config.security.jsonBodyLimitBytes,
    genReqId: requestIdOf,
    // During a graceful stop, requests already on open keep-alive connections are still served
    // (pm2 reload, rolling deploys) instead of being answered 503.
    return503OnClosing: false,
  });
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule, adapter, { bufferLogs: true });
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
  installTraceResponseHeader(fastify);
  // After helmet and CORS, so a 401 still carries their headers; before any body is read.
  app.get(ApiKeyAuthenticator).install(app);
  capConnectionsPerAddress(fastify.server, config.http.maxConnectionsPerAddress, trustedPeer(config.http.trustProxy));
  installUnreadBodyDrain(fastify);
  installInputLimits(fastify, config.limits.json);
  installHttpMetrics(fastify, app.get(TaskMetrics));
  await mountQueueDashboard(app);
  await mountConsole(app);
  setupApiDocs(app);
  app.enableShutdownHooks();
  boundShutdown(config.worker.shutdownGraceMs, app.get(Logger));
  // Fastify hands the options to net.Server#listen, which takes reusePort on Node 24 (Linux).
  await app.listen({ port: config.port, host: '0.0.0.0', ...(config.http.reusePort ? { reusePort: true } : {}) });
  app.get(Logger).log(`API listening on port ${config.port}`, 'Bootstrap');
  // pm2 (wait_ready) retires the next instance of a rolling restart only once this one serves.
  process.send?.('ready');
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigValidationError) console.error(error.message);
  else console.error('API failed to start:', error);
  process.exit(1);
});
