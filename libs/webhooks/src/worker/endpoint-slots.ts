import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';

/** Takes a slot if fewer than the limit are held; expired holds (a dead worker's) are dropped first. */
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** How long a job waits for a slot this process holds to be handed over before it is sent back for a moment. */
const HANDOVER_WAIT_MS = 500;

type Release = () => Promise<void>;

/**
 * The per-endpoint concurrency limit, across every worker: a sorted set of holders per
 * endpoint in Redis, each with an expiry, so a worker killed mid-request frees its slot after
 * the hold time instead of never. One slow receiver so holds at most
 * WEBHOOK_ENDPOINT_CONCURRENCY delivery slots; the others keep flowing.
 *
 * When the endpoint is full and this process itself holds some of its slots, a job waits a
 * little for one of them instead of being sent back at once: the finishing attempt hands its
 * slot over (its expiry renewed), one Redis command instead of a release and a new take, and
 * no round through the delayed set. At most WEBHOOK_ENDPOINT_CONCURRENCY jobs wait per endpoint
 * and none longer than HANDOVER_WAIT_MS, so a slow receiver cannot tie up the worker's
 * concurrency with waiting jobs.
 */
@Injectable()
export class EndpointSlots implements OnApplicationShutdown {
  private readonly redis: RedisClient;
  private readonly holdMs: number;
  /** Slots this process holds, per endpoint. */
  private readonly held = new Map<string, number>();
  /** Jobs of this process waiting for a handover, per endpoint, oldest first. */
  private readonly waiting = new Map<string, Array<(holder: string) => void>>();

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // Commands wait for a (re)connection a little, like the BullMQ worker that gave the job.
    this.redis = createRedisClient(config.redis, 'worker', { maxRetriesPerRequest: 2 });
    this.holdMs = config.webhooks.timeoutMs + 30_000;
  }

  private key(endpointId: string): string {
    return `${this.config.queuePrefix}:webhooks:slots:${endpointId}`;
  }

  /** A release function, or null when the endpoint is at its limit. */
  async acquire(endpointId: string): Promise<Release | null> {
    const holder = randomUUID();
    const taken = await this.redis.eval(ACQUIRE, 1, this.key(endpointId), Date.now(), this.holdMs, this.config.webhooks.endpointConcurrency, holder);
    if (taken === 1) return this.holding(endpointId, holder);
    const queue = this.waiting.get(endpointId) ?? [];
    if (!this.held.get(endpointId) || queue.length >= this.config.webhooks.endpointConcurrency) return null;
    const handed = await new Promise<string | null>((resolve) => {
      const take = (slot: string) => {
        clearTimeout(timer);
        resolve(slot);
      };
      const timer = setTimeout(() => {
        queue.splice(queue.indexOf(take), 1);
        if (queue.length === 0) this.waiting.delete(endpointId);
        resolve(null);
      }, HANDOVER_WAIT_MS);
      queue.push(take);
      this.waiting.set(endpointId, queue);
    });
    return handed === null ? null : this.holding(endpointId, handed);
  }

  private holding(endpointId: string, holder: string): Release {
    this.held.set(endpointId, (this.held.get(endpointId) ?? 0) + 1);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      const left = this.held.get(endpointId)! - 1;
      if (left > 0) this.held.set(endpointId, left);
      else this.held.delete(endpointId);
      const queue = this.waiting.get(endpointId);
      const next = queue?.shift();
      if (queue?.length === 0) this.waiting.delete(endpointId);
      if (next) {
        // Renewed first: the next attempt may take a whole timeout from now.
        await this.redis.zadd(this.key(endpointId), 'XX', Date.now() + this.holdMs, holder).catch(() => undefined);
        next(holder);
        return;
      }
      await this.redis.zrem(this.key(endpointId), holder).catch(() => undefined);
    };
  }

  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
