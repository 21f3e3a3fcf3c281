import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, LessThan, type DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { consumesWebhooks } from './delivery-dispatcher';

const BATCH = 500;
const FINISHED = ['succeeded', 'failed'] as const;

export interface WebhookPurgeReport {
  deliveries: number;
  events: number;
}

/**
 * The delivery log's retention, as for tasks: finished deliveries (with their attempts) last
 * changed more than TASK_TTL_SECONDS ago, and events no delivery refers to any more, are deleted
 * every RETENTION_INTERVAL_MS by each worker that delivers webhooks, 500 per statement. Every
 * delete re-checks its condition, so two workers purging at once only share the work. Pending
 * deliveries stay whatever their age: they are still owed.
 */
@Injectable()
export class WebhookRetention implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookRetention.name);
  private timer: NodeJS.Timeout | undefined;
  private readonly stopping = new AbortController();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.maintenance.retentionIntervalMs;
    if (every <= 0 || !consumesWebhooks(this.config)) return;
    this.timer = setInterval(
      () => void this.purgeOnce().catch((error: unknown) => this.logger.error({ err: error }, 'webhook retention failed; next run retries')),
      every,
    );
    this.timer.unref();
  }

  /** Before the connections close: a purge under way stops after its current batch. */
  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
    this.stopping.abort();
  }

  /** One purge; `before` overrides now − TASK_TTL_SECONDS (tests). Stops between batches at shutdown. */
  async purgeOnce(before = new Date(this.clock.now() - this.config.tasks.ttlSeconds * 1000)): Promise<WebhookPurgeReport> {
    const signal = this.stopping.signal;
    const deliveries = this.dataSource.getRepository(WebhookDeliveryEntity);
    const events = this.dataSource.getRepository(WebhookEventEntity);
    let deletedDeliveries = 0;
    let deletedEvents = 0;
    for (;;) {
      if (signal.aborted) break;
      const rows = await deliveries.find({ select: { id: true }, where: { status: In([...FINISHED]), updatedAt: LessThan(before) }, take: BATCH });
      if (rows.length === 0) break;
      const ids = rows.map((row) => row.id);
      await this.dataSource.transaction(async (manager) => {
        await manager.delete(WebhookAttemptEntity, { deliveryId: In(ids) });
        // Re-checked: a delivery redelivered meanwhile is pending again and stays.
        const result = await manager.delete(WebhookDeliveryEntity, { id: In(ids), status: In([...FINISHED]), updatedAt: LessThan(before) });
        deletedDeliveries += result.affected ?? 0;
      });
      if (rows.length < BATCH) break;
    }
    for (;;) {
      if (signal.aborted) break;
      const orphans = await events
        .createQueryBuilder('e')
        .select('e.id', 'id')
        .where('e.created_at < :before', { before })
        .andWhere('NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)')
        .limit(BATCH)
        .getRawMany<{ id: string }>();
      if (orphans.length === 0) break;
      const result = await events
        .createQueryBuilder()
        .delete()
        .where({ id: In(orphans.map((row) => row.id)) })
        .andWhere('NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)')
        .execute();
      deletedEvents += result.affected ?? 0;
      if (orphans.length < BATCH) break;
    }
    if (deletedDeliveries + deletedEvents > 0)
      this.logger.log({ deliveries: deletedDeliveries, events: deletedEvents, before: before.toISOString() }, 'webhook retention purge done');
    return { deliveries: deletedDeliveries, events: deletedEvents };
  }
}
