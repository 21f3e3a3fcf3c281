import type { RedisOptions } from 'bullmq';
import type { RedisConfig } from '@conveyor/config';

/**
 * Connection options for BullMQ clients. Producers fail fast when Redis is away
 * (`enableOfflineQueue: false`), so an enqueue answers 503 instead of hanging; workers use
 * BullMQ's own blocking-connection defaults (it forces `maxRetriesPerRequest: null`).
 */
export function redisConnectionOptions(redis: RedisConfig, role: 'producer' | 'worker'): RedisOptions {
  return {
    host: redis.host,
    port: redis.port,
    db: redis.db,
    ...(redis.username ? { username: redis.username } : {}),
    ...(redis.password ? { password: redis.password } : {}),
    ...(redis.tls ? { tls: {} } : {}),
    ...(role === 'producer' ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2000 } : { maxRetriesPerRequest: null }),
    // Reconnect forever with a capped delay: a Redis restart must not kill the process.
    retryStrategy: (times: number) => Math.min(times * 200, 2000),
  };
}
