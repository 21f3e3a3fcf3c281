import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { redisConnectionOptions } from '@conveyor/queue';

/** Long enough for a slow statement; the holder renews it, so a long run keeps it. */
const DEFAULT_TTL_MS = 30_000;

/** Deletes or extends the key only while it still holds our token: nobody frees another's lock. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;

export type ExclusiveRun<T> = { ran: true; result: T } | { ran: false; heldBy: string | null };

/**
 * A Redis lock (`SET key token NX PX ttl`) that lets one process at a time, across all
 * workers, run a maintenance job. The holder renews it every third of its TTL; if a renewal
 * finds the lock gone or taken (Redis lost it, or the process stalled past the TTL), the
 * job's signal fires so it stops between batches instead of running alongside another
 * holder. A holder that dies simply lets the TTL run out.
 */
@Injectable()
export class MaintenanceLock implements OnApplicationShutdown {
  private readonly logger = new Logger(MaintenanceLock.name);
  private readonly redis: Redis;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.redis = new Redis({ ...redisConnectionOptions(config.redis, 'producer'), lazyConnect: true, connectionName: 'conveyor:maintenance' });
    this.redis.on('error', () => undefined); // a failed command rejects; the job's caller logs it
  }

  /** Under the deployment's QUEUE_PREFIX; no BullMQ key has this shape (queue names do not start with "~"). */
  key(name: string): string {
    return `${this.config.queuePrefix}:~maintenance-lock:${name}`;
  }

  /**
   * Runs `job` unless another process holds the lock `name`. The job's signal fires when the
   * lock is lost or when the caller's own `signal` (e.g. shutdown) fires.
   */
  async runExclusive<T>(
    name: string,
    job: (signal: AbortSignal) => Promise<T>,
    { ttlMs = DEFAULT_TTL_MS, signal }: { ttlMs?: number; signal?: AbortSignal } = {},
  ): Promise<ExclusiveRun<T>> {
    if (this.redis.status === 'wait') await this.redis.connect();
    const key = this.key(name);
    const token = `${this.config.worker.id}:${randomUUID()}`;
    if ((await this.redis.set(key, token, 'PX', ttlMs, 'NX')) !== 'OK') {
      return { ran: false, heldBy: await this.redis.get(key).catch(() => null) };
    }
    const lost = new AbortController();
    const renewal = setInterval(
      () => {
        this.redis.eval(RENEW, 1, key, token, ttlMs).then(
          (renewed) => {
            if (renewed === 1) return;
            this.logger.warn({ lock: key }, 'maintenance lock lost; stopping the job');
            lost.abort(new Error(`maintenance lock ${key} lost`));
          },
          // A Redis blip: try again next time; the TTL still covers two more renewals.
          (error: unknown) => this.logger.warn({ err: error, lock: key }, 'could not renew the maintenance lock'),
        );
      },
      Math.max(100, Math.floor(ttlMs / 3)),
    );
    try {
      return { ran: true, result: await job(signal ? AbortSignal.any([lost.signal, signal]) : lost.signal) };
    } finally {
      clearInterval(renewal);
      await this.redis.eval(RELEASE, 1, key, token).catch((error: unknown) => {
        this.logger.warn({ err: error, lock: key }, 'could not release the maintenance lock; it expires by itself');
      });
    }
  }

  /** After `beforeApplicationShutdown`, where the scheduler waits for a run to release its lock. */
  onApplicationShutdown(): void {
    this.redis.disconnect();
  }
}
