import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import type { AppConfig } from '@conveyor/config';
import { buildDataSourceOptions } from '@conveyor/database';
import { createRedisClient } from '@conveyor/queue';

type Log = (message: string, fields?: Record<string, unknown>) => void;

async function databaseAnswers(config: AppConfig): Promise<void> {
  const dataSource = new DataSource({ ...buildDataSourceOptions(config.database), migrations: [] });
  await dataSource.initialize();
  try {
    await dataSource.query('SELECT 1');
  } finally {
    await dataSource.destroy();
  }
}

async function redisAnswers(config: AppConfig): Promise<void> {
  const redis = createRedisClient(config.redis, 'producer', { lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits, with capped exponential backoff, until the database and Redis answer, so a process
 * started before its dependencies (compose, a rolling restart, a node reboot) waits instead of
 * crash-looping. Gives up after STARTUP_TIMEOUT_MS with the last error of each.
 */
export async function waitForDependencies(config: AppConfig, log: Log, timeoutMs = config.startupTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const checks: Array<[string, () => Promise<void>]> = [
    ['database', () => databaseAnswers(config)],
    ['redis', () => redisAnswers(config)],
  ];
  for (const [name, check] of checks) {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await check();
        if (attempt > 1) log(`${name} is reachable`, { dependency: name, attempts: attempt });
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (Date.now() >= deadline) {
          throw new Error(`${name} did not answer within STARTUP_TIMEOUT_MS (${timeoutMs} ms): ${message}`, { cause: error });
        }
        const delay = Math.min(200 * 2 ** Math.min(attempt, 5), 5000, Math.max(0, deadline - Date.now()));
        log(`waiting for ${name}`, { dependency: name, attempt, retryInMs: delay, error: message });
        await sleep(delay);
      }
    }
  }
}
