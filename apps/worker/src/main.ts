import 'reflect-metadata';
import './start-tracing';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigValidationError, loadAppConfig } from '@conveyor/config';
import { boundShutdown, compactHeapWhenIdle, stopAndExit, waitForDependencies } from '@conveyor/health';
import { bootLogger } from '@conveyor/observability';
import { RECYCLE_EXIT_CODE, WorkerRecycler } from '@conveyor/tasks/worker';
import { WorkerModule } from './worker.module';

/**
 * The worker: an application context (no HTTP app) holding only processors, plus its small
 * health/metrics server. SIGTERM stops fetching, lets running tasks finish within
 * SHUTDOWN_GRACE_MS, then exits; Nest re-raises the signal, so a graceful stop exits 143.
 * Recycling (WORKER_MAX_TASKS, WORKER_MAX_RSS) stops it the same way and exits RECYCLE_EXIT_CODE (75).
 */
async function bootstrap(): Promise<void> {
  process.env.CONVEYOR_SERVICE ??= 'conveyor-worker';
  const config = loadAppConfig(); // .env came in with ./start-tracing; fail fast, before any connection
  await waitForDependencies(config, bootLogger(config));
  const app = await NestFactory.createApplicationContext(WorkerModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  boundShutdown(config.worker.shutdownGraceMs, app.get(Logger));
  compactHeapWhenIdle(config.idleCompactAfterMs, app.get(Logger));
  // A supervisor restarts the worker on RECYCLE_EXIT_CODE (and on any exit under pm2 or Kubernetes).
  app.get(WorkerRecycler).onRecycle(() => stopAndExit(() => app.close(), config.worker.shutdownGraceMs, app.get(Logger), RECYCLE_EXIT_CODE));
  app.get(Logger).log('worker started', 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigValidationError) console.error(error.message);
  else console.error('worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
