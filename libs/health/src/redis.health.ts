import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';

/** Pings Redis on a connection of its own, so a busy queue connection cannot mask an outage. */
@Injectable()
export class RedisHealthIndicator implements OnModuleDestroy {
  private readonly redis: RedisClient;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly health: HealthIndicatorService,
  ) {
    this.redis = createRedisClient(config.redis, 'producer', { lazyConnect: true, connectionName: 'conveyor:health' });
    this.redis.on('error', () => undefined); // reported through the check, not as an unhandled event
  }

  async pingCheck(key: string, timeoutMs = 1500) {
    const indicator = this.health.check(key);
    try {
      if (this.redis.status === 'wait') await this.redis.connect();
      let timer: NodeJS.Timeout | undefined;
      const reply: string = await Promise.race([
        this.redis.ping(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
      ]).finally(() => clearTimeout(timer));
      return reply === 'PONG' ? indicator.up() : indicator.down({ message: `unexpected reply ${reply}` });
    } catch (error) {
      return indicator.down({ message: error instanceof Error ? error.message : String(error) });
    }
  }

  onModuleDestroy(): void {
    this.redis.disconnect();
  }
}
