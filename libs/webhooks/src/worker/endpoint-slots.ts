import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from '@conveyor/queue';

/** Takes a slot if fewer than the limit are held; expired holds (a dead worker's) are dropped first. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/**
 * The per-endpoint concurrency limit, across every worker: a sorted set of holders per
 * endpoint in Redis, each with an expiry, so a worker killed mid-request frees its slot after
 * the hold time instead of never. One slow receiver so holds at most
 * WEBHOOK_ENDPOINT_CONCURRENCY delivery slots; the others keep flowing.
 */
@Injectable()
export class EndpointSlots implements OnApplicationShutdown {
  private readonly redis: Redis;
  private readonly holdMs: number;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // Commands wait for a (re)connection a little, like the BullMQ worker that gave the job.
    this.redis = new Redis({ ...redisConnectionOptions(config.redis, 'worker'), maxRetriesPerRequest: 2 });
    this.holdMs = config.webhooks.timeoutMs + 30_000;
  }

  private key(endpointId: string): string {
    return `${this.config.queuePrefix}:webhooks:slots:${endpointId}`;
  }

  /** A release function, or null when the endpoint is at its limit. */
  async acquire(endpointId: string): Promise<(() => Promise<void>) | null> {
    const holder = randomUUID();
    const taken = await this.redis.eval(ACQUIRE, 1, this.key(endpointId), Date.now(), this.holdMs, this.config.webhooks.endpointConcurrency, holder);
    if (taken !== 1) return null;
    return async () => {
      await this.redis.zrem(this.key(endpointId), holder).catch(() => undefined);
    };
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
