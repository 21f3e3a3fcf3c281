import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';

/**
 * One atomic step per request: count the hit in the current window, start the window on the
 * first hit, and once over the limit mark the tracker blocked for `blockDuration`.
 * Returns [hits, window ms left, block ms left].
 */
const INCREMENT = `
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
local blocked = redis.call('PTTL', KEYS[2])
if blocked < 0 and hits > tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  blocked = tonumber(ARGV[3])
end
return {hits, ttl, blocked}
`;

/** Longest a request waits for its rate-limit count before it is let through uncounted. */
const LIMITER_TIMEOUT_MS = 250;

/** Rate-limit counters in Redis, so the limit holds across every API instance. */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage, OnModuleDestroy {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly redis: RedisClient;
  private lastOutageLog = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    // A limiter must not hang requests while Redis is away (commands fail fast) or frozen and
    // not answering (a command gets LIMITER_TIMEOUT_MS, then the request goes on unlimited).
    this.redis = createRedisClient(config.redis, 'producer', { connectionName: 'conveyor:ratelimit', commandTimeout: LIMITER_TIMEOUT_MS });
    this.redis.on('error', () => undefined);
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const base = this.keyOf(throttlerName, key);
    let reply: number[];
    try {
      reply = (await this.redis.eval(INCREMENT, 2, `${base}:hits`, `${base}:block`, ttl, limit, blockDuration || ttl)) as number[];
    } catch (error) {
      this.outage(error);
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
    const [hits, ttlMs, blockMs] = reply;
    return {
      totalHits: hits,
      timeToExpire: Math.max(0, Math.ceil(ttlMs / 1000)),
      isBlocked: blockMs > 0,
      timeToBlockExpire: Math.max(0, Math.ceil(blockMs / 1000)),
    };
  }

  /** Milliseconds the tracker stays blocked, without counting a hit (0: not blocked). */
  async blockedFor(key: string, throttlerName: string): Promise<number> {
    try {
      return Math.max(0, await this.redis.pttl(`${this.keyOf(throttlerName, key)}:block`));
    } catch (error) {
      this.outage(error);
      return 0;
    }
  }

  private keyOf(throttlerName: string, key: string): string {
    return `${this.config.queuePrefix}:conveyor:ratelimit:${throttlerName}:${key}`;
  }

  /**
   * Fail open while Redis is away: ledger reads keep working and an enqueue gets its own
   * 503 QUEUE_UNAVAILABLE, instead of every request failing here with a 500.
   */
  private outage(error: unknown): void {
    if (Date.now() - this.lastOutageLog > 30_000) {
      this.lastOutageLog = Date.now();
      this.logger.warn({ err: error }, 'rate limiter unavailable (Redis); letting requests through');
    }
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
