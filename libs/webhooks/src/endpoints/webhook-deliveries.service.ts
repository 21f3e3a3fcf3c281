import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, type DataSource } from 'typeorm';
import { DomainError } from '@conveyor/errors';
import { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import { WebhookDeliveryEntity, type DeliveryStatus } from '../store/webhook-delivery.entity';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { endpointNotFound } from './webhook-endpoints.service';

export const deliveryNotFound = () => DomainError.notFound('WEBHOOK_DELIVERY_NOT_FOUND', 'No such webhook delivery');

export interface DeliveryFilter {
  status?: DeliveryStatus;
  eventType?: string;
  taskId?: string;
  before?: string;
  limit: number;
}

/** The delivery log of a tenant: list, detail with attempts, redelivery. */
@Injectable()
export class WebhookDeliveriesService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  private get deliveries() {
    return this.dataSource.getRepository(WebhookDeliveryEntity);
  }

  /** An endpoint's deliveries, newest first (keyset paging on the time-ordered id). */
  async list(tenantId: string, endpointId: string, filter: DeliveryFilter): Promise<WebhookDeliveryEntity[]> {
    await this.requireEndpoint(tenantId, endpointId);
    const query = this.deliveries
      .createQueryBuilder('d')
      .where('d.endpointId = :endpointId AND d.tenantId = :tenantId', { endpointId, tenantId })
      .orderBy('d.id', 'DESC')
      .limit(filter.limit);
    if (filter.status) query.andWhere('d.status = :status', { status: filter.status });
    if (filter.eventType) query.andWhere('d.eventType = :eventType', { eventType: filter.eventType });
    if (filter.taskId) query.andWhere('d.taskId = :taskId', { taskId: filter.taskId });
    if (filter.before) query.andWhere('d.id < :before', { before: filter.before });
    return query.getMany();
  }

  async get(tenantId: string, id: string): Promise<{ delivery: WebhookDeliveryEntity; event: WebhookEventEntity | null; attempts: WebhookAttemptEntity[] }> {
    const delivery = await this.deliveries.findOneBy({ tenantId, id });
    if (!delivery) throw deliveryNotFound();
    const [event, attempts] = await Promise.all([
      this.dataSource.getRepository(WebhookEventEntity).findOneBy({ id: delivery.eventId }),
      this.dataSource.getRepository(WebhookAttemptEntity).find({ where: { deliveryId: id }, order: { attempt: 'ASC' } }),
    ]);
    return { delivery, event, attempts };
  }

  /** Sends a finished delivery again: a new round of the retry schedule, starting now. */
  async redeliver(tenantId: string, id: string): Promise<WebhookDeliveryEntity> {
    const delivery = await this.deliveries.findOneBy({ tenantId, id });
    if (!delivery) throw deliveryNotFound();
    const changed = await this.restart({ tenantId, id: [id], statuses: ['succeeded', 'failed'] });
    if (changed === 0) throw DomainError.conflict('WEBHOOK_DELIVERY_PENDING', 'The delivery is still under way');
    return (await this.deliveries.findOneBy({ tenantId, id }))!;
  }

  /** Sends again every failed delivery of an endpoint created at or after `since`; returns how many. */
  async redeliverFailed(tenantId: string, endpointId: string, since: Date): Promise<number> {
    await this.requireEndpoint(tenantId, endpointId);
    return this.restart({ tenantId, endpointId, statuses: ['failed'], since });
  }

  private async restart(where: { tenantId: string; id?: string[]; endpointId?: string; statuses: DeliveryStatus[]; since?: Date }): Promise<number> {
    const now = new Date(this.clock.now());
    const query = this.deliveries
      .createQueryBuilder()
      .update(WebhookDeliveryEntity)
      .set({ status: 'pending', step: 0, nextAttemptAt: now, claim: null, updatedAt: now })
      .where({ tenantId: where.tenantId, status: In(where.statuses) });
    if (where.id) query.andWhere({ id: In(where.id) });
    if (where.endpointId) query.andWhere({ endpointId: where.endpointId });
    if (where.since) query.andWhere('created_at >= :since', { since: where.since });
    return (await query.execute()).affected ?? 0;
  }

  private async requireEndpoint(tenantId: string, id: string): Promise<void> {
    if (!(await this.dataSource.getRepository(WebhookEndpointEntity).existsBy({ tenantId, id }))) throw endpointNotFound();
  }
}
