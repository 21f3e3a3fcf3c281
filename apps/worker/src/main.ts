import 'reflect-metadata';
import './start-tracing';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';
import { boundShutdown, compactHeapWhenIdle, SHUTDOWN_MARGIN_MS, waitForDependencies } from '@conveyor/health';
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
  loadEnvFile();
  process.env.CONVEYOR_SERVICE ??= 'conveyor-worker';
  const config = loadAppConfig(); // fail fast, before any connection is opened
  await waitForDependencies(config, bootLogger(config));
  const app = await NestFactory.createApplicationContext(WorkerModule, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  boundShutdown(config.worker.shutdownGraceMs, app.get(Logger));
  compactHeapWhenIdle(config.idleCompactAfterMs, app.get(Logger));
  app.get(WorkerRecycler).onRecycle(() => {
    // Bounded like a signal's stop; a supervisor restarts on this code either way.
    setTimeout(() => process.exit(RECYCLE_EXIT_CODE), config.worker.shutdownGraceMs + SHUTDOWN_MARGIN_MS).unref();
    void app.close().then(
      () => process.exit(RECYCLE_EXIT_CODE),
      () => process.exit(RECYCLE_EXIT_CODE),
    );
  });
  app.get(Logger).log('worker started', 'Bootstrap');
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigValidationError) console.error(error.message);
  else console.error('worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
