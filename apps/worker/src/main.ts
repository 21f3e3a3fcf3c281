import 'reflect-metadata';
import './load-env';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigValidationError, loadAppConfig, loadEnvFile } from '@conveyor/config';
import { waitForDependencies } from '@conveyor/health';
import { bootLogger } from '@conveyor/observability';
import { WorkerModule } from './worker.module';

/**
 * The worker: an application context (no HTTP app) holding only processors, plus its small
 * health/metrics server. SIGTERM stops fetching, lets running tasks finish within
 * SHUTDOWN_GRACE_MS, then exits; Nest re-raises the signal, so a graceful stop exits 143.
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
  app.get(Logger).log('worker started', 'Bootstrap');
}

/** Time the shutdown may take past the grace period: closing connections, flushing the ledger. */
const SHUTDOWN_MARGIN_MS = 10_000;

/**
 * A stop signal ends the process within SHUTDOWN_GRACE_MS + 10 s whatever happens: with Redis
 * unreachable, closing a BullMQ worker or a subscriber connection waits for a server that is not
 * there, and a worker that never exits blocks a deploy until it is killed. Tasks it still held
 * are taken over by another worker once their locks expire, as after a crash.
 */
function boundShutdown(graceMs: number, logger: Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      setTimeout(() => {
        logger.error(
          { graceMs, marginMs: SHUTDOWN_MARGIN_MS },
          'shutdown did not finish in time (Redis or the database unreachable?); exiting anyway',
          'Bootstrap',
        );
        process.exit(1);
      }, graceMs + SHUTDOWN_MARGIN_MS).unref();
    });
  }
}

bootstrap().catch((error: unknown) => {
  if (error instanceof ConfigValidationError) console.error(error.message);
  else console.error('worker failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
