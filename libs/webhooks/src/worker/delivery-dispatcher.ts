import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { dialectOf } from '@conveyor/database';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { WEBHOOKS_QUEUE, type DeliveryJobData } from '../webhooks.contract';

const BATCH = 200;

/** Whether this process delivers webhooks (WORKER_QUEUES unset, or naming the webhooks queue). */
export const consumesWebhooks = (config: AppConfig) => config.worker.queues === null || config.worker.queues.includes(WEBHOOKS_QUEUE);

/**
 * Moves due deliveries from the ledger to the `webhooks` queue. A delivery is claimed first
 * (a token, and its next attempt pushed one lease ahead) so that of several workers one queues
 * it; if the job never runs (Redis lost it, the worker died), the lease runs out and the
 * delivery is due again. The ledger, not Redis, is what keeps a delivery from being lost.
 */
@Injectable()
export class DeliveryDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryDispatcher.name);
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** How far a claim pushes the next attempt: longer than any attempt can take. */
  readonly leaseMs: number;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectQueue(WEBHOOKS_QUEUE) private readonly queue: Queue<DeliveryJobData>,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {
    this.leaseMs = config.webhooks.timeoutMs + 60_000;
  }

  onApplicationBootstrap(): void {
    if (consumesWebhooks(this.config)) this.schedule(0);
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.dispatchOnce().then(
        (queued) => this.schedule(queued >= BATCH ? 0 : this.config.webhooks.pollIntervalMs),
        (error: unknown) => {
          this.logger.warn({ err: error }, 'dispatching webhook deliveries failed; retrying');
          this.schedule(Math.max(1000, this.config.webhooks.pollIntervalMs));
        },
      );
    }, delay);
  }

  /** Claims up to one batch of due deliveries and queues a job for each; returns how many. */
  async dispatchOnce(): Promise<number> {
    const claim = randomUUID();
    const now = this.clock.now();
    const claimed = await this.claimDue(claim, new Date(now + this.leaseMs), new Date(now));
    if (claimed.length === 0) return 0;
    await this.queue.addBulk(
      claimed.map(({ id, endpointId }) => ({
        name: 'deliver',
        data: { deliveryId: id, endpointId, claim },
        opts: { jobId: `${id}_${claim}`, attempts: 1, removeOnComplete: true, removeOnFail: 1000 },
      })),
    );
    return claimed.length;
  }

  /**
   * Marks up to BATCH due deliveries with `claim` and returns them, skipping rows another
   * transaction holds (another dispatcher's claim, a delivery being inserted or attempted) rather
   * than waiting for them. PostgreSQL: one UPDATE over a SKIP LOCKED subquery.
   *
   * MySQL/MariaDB cannot UPDATE … LIMIT with SKIP LOCKED or return rows from an UPDATE, so it
   * takes them with SELECT … FOR UPDATE SKIP LOCKED, then updates those ids. READ COMMITTED
   * matters there: at InnoDB's default REPEATABLE READ the scan of the due range takes gap
   * locks, which make every new delivery's insert (into that very range) wait for the claim,
   * and the claim in turn wait for any delivery still being inserted or attempted, so a slow
   * transaction anywhere stalled deliveries everywhere (up to the statement timeout, and then
   * a whole lease).
   */
  private async claimDue(claim: string, lease: Date, now: Date): Promise<Array<{ id: string; endpointId: string }>> {
    if (dialectOf(this.dataSource) === 'postgres') {
      const [rows] = await this.dataSource.query<[Array<{ id: string; endpoint_id: string }>, number]>(
        `UPDATE webhook_deliveries SET claim = $1, next_attempt_at = $2, updated_at = $3 WHERE id IN (` +
          `SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $4 ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED) ` +
          `RETURNING id, endpoint_id`,
        [claim, lease, now, now, BATCH],
      );
      return rows.map((r) => ({ id: r.id, endpointId: r.endpoint_id }));
    }
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const rows = await manager.query<Array<{ id: string; endpoint_id: string }>>(
        `SELECT id, endpoint_id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ? FOR UPDATE SKIP LOCKED`,
        [now, BATCH],
      );
      if (rows.length > 0)
        await manager.query(`UPDATE webhook_deliveries SET claim = ?, next_attempt_at = ?, updated_at = ? WHERE id IN (?)`, [
          claim,
          lease,
          now,
          rows.map((r) => r.id),
        ]);
      return rows.map((r) => ({ id: r.id, endpointId: r.endpoint_id }));
    });
  }
}
