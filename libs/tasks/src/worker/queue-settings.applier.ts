import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Worker } from 'bullmq';
import { APP_CONFIG, concurrencyRangeOf, type AppConfig } from '@conveyor/config';
import { createRedisClient, type RedisClient } from '@conveyor/queue';
import { queueSettingsChannel, SETTINGS_REFRESH_MS, type StoredQueueSettings } from '../queue-settings/queue-settings';
import { QueueSettingsStore } from '../queue-settings/queue-settings.store';
import { ConcurrencyAutoscaler } from './autoscale/concurrency-autoscaler';

/** Longest shutdown waits for this process's reports to be withdrawn. */
const WITHDRAW_WAIT_MS = 1000;

/**
 * Applies the stored settings of each consumed queue to this process's BullMQ workers while
 * they run: on a message of the settings channel (at once), every SETTINGS_REFRESH_MS and after
 * the subscriber reconnects (a missed message converges), then reports what it applied. A
 * lowered concurrency lets running tasks finish and takes no new one until below it. Which
 * concurrency applies (a stored one, else the configured value or autoscaled range) is the
 * ConcurrencyAutoscaler's call.
 */
@Injectable()
export class QueueSettingsApplier {
  private readonly logger = new Logger(QueueSettingsApplier.name);
  private workers: readonly Worker[] = [];
  private subscriber?: RedisClient;
  private timer?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: QueueSettingsStore,
    private readonly autoscaler: ConcurrencyAutoscaler,
  ) {}

  /**
   * The concurrency a worker starts with: the stored one, else the configured one (a range's
   * min; the autoscaler takes it from there). Redis away: the configured one, the refresh converges.
   */
  async startingConcurrency(queue: string): Promise<number> {
    const configured = concurrencyRangeOf(this.config.worker, queue).min;
    try {
      return (await this.store.read(queue)).concurrency ?? configured;
    } catch (error) {
      this.logger.warn({ err: error, queue }, 'could not read queue settings; starting with the configured concurrency');
      return configured;
    }
  }

  /** Starts following the settings of these running workers' queues. */
  async attach(workers: readonly Worker[]): Promise<void> {
    this.workers = workers;
    if (workers.length === 0) return;
    this.subscriber = createRedisClient(this.config.redis, 'worker', { connectionName: 'conveyor:queue-settings-listener' });
    this.subscriber.on('error', (error: Error) => this.logger.warn({ err: error }, 'queue settings listener: redis error'));
    this.subscriber.on('message', (_channel: string, queue: string) => void this.refresh(queue));
    // After a reconnect ioredis subscribes again; what changed meanwhile is read at once.
    this.subscriber.on('ready', () => void this.refreshAll());
    await this.subscriber.subscribe(queueSettingsChannel(this.config.queuePrefix));
    await this.refreshAll();
    this.timer = setInterval(() => void this.refreshAll(), SETTINGS_REFRESH_MS);
    this.timer.unref();
  }

  /**
   * Stops following and withdraws this process's reports, waiting at most WITHDRAW_WAIT_MS: with
   * Redis away, shutdown goes on and the reports simply go stale.
   */
  async detach(): Promise<void> {
    clearInterval(this.timer);
    this.subscriber?.disconnect();
    const workers = this.workers;
    this.workers = [];
    const withdrawn = Promise.all(workers.map((worker) => this.store.withdraw(worker.name, this.config.worker.id).catch(() => undefined)));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([withdrawn, new Promise((resolve) => (timer = setTimeout(resolve, WITHDRAW_WAIT_MS)))]);
    clearTimeout(timer);
  }

  private async refreshAll(): Promise<void> {
    await Promise.all(this.workers.map((worker) => this.refresh(worker.name)));
  }

  private async refresh(queue: string): Promise<void> {
    const worker = this.workers.find((w) => w.name === queue);
    if (!worker || worker.closing) return;
    try {
      const stored = await this.store.read(queue);
      this.apply(worker, stored);
      // The API stores a limit, then hands it to BullMQ; if it stopped in between, this finishes it.
      if (await this.store.syncRateLimit(queue, stored.rateLimit)) this.logger.log({ queue, rateLimit: stored.rateLimit }, 'queue rate limit applied');
      await this.store.report(queue, {
        workerId: this.config.worker.id,
        concurrency: worker.concurrency,
        rateLimit: await this.store.effectiveRateLimit(queue),
        version: stored.version,
        reportedAt: new Date().toISOString(),
      });
    } catch (error) {
      this.logger.warn({ err: error, queue }, 'could not refresh queue settings; retrying on the next refresh');
    }
  }

  private apply(worker: Worker, stored: StoredQueueSettings): void {
    const concurrency = this.autoscaler.settle(worker, stored.concurrency);
    if (worker.concurrency !== concurrency) {
      this.logger.log({ queue: worker.name, from: worker.concurrency, to: concurrency, version: stored.version }, 'queue concurrency changed');
      worker.concurrency = concurrency;
    }
  }
}
