import type { RedisOptions } from 'bullmq';
import type { RedisConfig } from '@conveyor/config';

/**
 * Longest a producer-role command waits for Redis's answer. A frozen Redis (paused, swapping,
 * stuck in a long script) would otherwise hold every caller forever: a cancel, `GET /v1/queues`,
 * the dashboard. Past it the call fails as an `unknown` outcome (see redisFailureOf).
 */
export const PRODUCER_COMMAND_TIMEOUT_MS = 5000;

/**
 * Connection options for BullMQ clients. Producers fail fast when Redis is away
 * (`enableOfflineQueue: false`), so an enqueue answers 503 instead of hanging, and give up on an
 * unanswered command after PRODUCER_COMMAND_TIMEOUT_MS; workers use BullMQ's own
 * blocking-connection defaults (it forces `maxRetriesPerRequest: null`).
 */
export function redisConnectionOptions(redis: RedisConfig, role: 'producer' | 'worker'): RedisOptions {
  return {
    host: redis.host,
    port: redis.port,
    db: redis.db,
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tls ? { tls: {} } : {}),
    ...(role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000, commandTimeout: PRODUCER_COMMAND_TIMEOUT_MS }
      : { maxRetriesPerRequest: null }),
    // Reconnect forever with a capped delay: a Redis restart must not kill the process.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}
