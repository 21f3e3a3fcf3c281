import 'reflect-metadata';
import './start-tracing';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { ConfigValidationError, loadAppConfig } from '@conveyor/config';
import { runMigrations } from '@conveyor/database';
import { boundShutdown, compactHeapWhenIdle, waitForDependencies } from '@conveyor/health';
import { bootLogger } from '@conveyor/observability';
import { apiAdapter, configureApiApp } from './api-app';
import { ApiModule } from './api.module';

async function bootstrap(): Promise<void> {
  process.env.CONVEYOR_SERVICE ??= 'conveyor-api';
  const config = loadAppConfig(); // .env came in with ./start-tracing
  await waitForDependencies(config, bootLogger(config));
  if (config.database.migrationsRun) await runMigrations(config.database);

  const app = await NestFactory.create<NestFastifyApplication>(ApiModule, apiAdapter(config), { bufferLogs: true });
  await configureApiApp(app, config);
  app.enableShutdownHooks();
  boundShutdown(config.worker.shutdownGraceMs, app.get(Logger));
  compactHeapWhenIdle(config.idleCompactAfterMs, app.get(Logger));
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
