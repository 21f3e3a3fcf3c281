import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { TaskTypeRegistry } from '@conveyor/tasks';
import { deliveryRow, eventId, eventRow } from '../events/outbox-rows';
import { SubscriptionCache } from '../events/subscription-cache';
import { UrlGuard, WebhookUrlForbidden } from '../security/url-guard';
import { EndpointSecrets, type EndpointWithSecret } from '../signing/endpoint-secrets';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEndpointEntity, type EndpointFilter } from '../store/webhook-endpoint.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { EVENT_TYPES } from '../webhooks.contract';

export interface EndpointInput {
  url?: string;
  events?: string[];
  filter?: EndpointFilter | null;
  description?: string | null;
  enabled?: boolean;
}

export const endpointNotFound = () => DomainError.notFound('WEBHOOK_ENDPOINT_NOT_FOUND', 'No such webhook endpoint');

/** A subscription pattern is an event type, a family wildcard of known types (`task.*`), or `*`. */
function unknownPatterns(patterns: string[], known: readonly string[]): string[] {
  return patterns.filter(
    (pattern) => pattern !== '*' && !known.includes(pattern) && !(pattern.endsWith('.*') && known.some((type) => type.startsWith(pattern.slice(0, -1)))),
  );
}

/** Endpoints of a tenant: create, change, remove, rotate the secret, send a test ping. */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly guard: UrlGuard,
    private readonly subscriptions: SubscriptionCache,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
    private readonly registry: TaskTypeRegistry,
    private readonly secrets: EndpointSecrets,
  ) {}

  /** This lib's event types and those the registered task types declare. */
  eventTypes(): string[] {
    return [...EVENT_TYPES, ...this.registry.completedEventTypes()];
  }

  private get endpoints() {
    return this.dataSource.getRepository(WebhookEndpointEntity);
  }

  /** The new endpoint and its secret in the clear (shown to the tenant this once; stored sealed). */
  async create(tenantId: string, input: EndpointInput & { url: string; events: string[] }): Promise<EndpointWithSecret> {
    await this.validate(input);
    const now = new Date(this.clock.now());
    const id = uuidv7();
    const { secret, sealed } = this.secrets.issue(id);
    const row = Object.assign(new WebhookEndpointEntity(), {
      id,
      tenantId,
      kind: 'endpoint',
      url: input.url,
      events: [...new Set(input.events)],
      filter: input.filter ?? null,
      description: input.description ?? null,
      enabled: input.enabled ?? true,
      sealedSecret: sealed,
      sealedPreviousSecret: null,
      previousSecretUntil: null,
      activeFrom: this.activation(now),
      failingSince: null,
      disabledReason: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    } satisfies WebhookEndpointEntity);
    await this.endpoints.insert(row);
    await this.changed();
    return { endpoint: row, secret };
  }

  async get(tenantId: string, id: string): Promise<WebhookEndpointEntity> {
    // The tenant's callback endpoint is reached through /v1/webhooks/callbacks only.
    const row = await this.endpoints.findOneBy({ tenantId, id, kind: 'endpoint' });
    if (!row) throw endpointNotFound();
    return row;
  }

  list(tenantId: string, limit: number, before?: string): Promise<WebhookEndpointEntity[]> {
    const query = this.endpoints
      .createQueryBuilder('e')
      .where('e.tenantId = :tenantId AND e.kind = :kind', { tenantId, kind: 'endpoint' })
      .orderBy('e.id', 'DESC')
      .limit(limit);
    if (before) query.andWhere('e.id < :before', { before });
    return query.getMany();
  }

  /**
   * Applies a change. Re-enabling an endpoint clears its failure record and starts it afresh
   * (active after the activation delay, like a new one). A change of events or filter reaches
   * every worker within WEBHOOK_ACTIVATION_DELAY_MS.
   */
  async update(tenantId: string, id: string, input: EndpointInput): Promise<WebhookEndpointEntity> {
    const row = await this.get(tenantId, id);
    await this.validate(input);
    const now = new Date(this.clock.now());
    const changes: Partial<WebhookEndpointEntity> = { updatedAt: now };
    if (input.url !== undefined) changes.url = input.url;
    if (input.events !== undefined) changes.events = [...new Set(input.events)];
    if (input.filter !== undefined) changes.filter = input.filter;
    if (input.description !== undefined) changes.description = input.description;
    if (input.enabled !== undefined && input.enabled !== row.enabled) {
      changes.enabled = input.enabled;
      if (input.enabled) Object.assign(changes, { activeFrom: this.activation(now), failingSince: null, disabledReason: null, disabledAt: null });
    }
    await this.endpoints.update({ tenantId, id }, changes);
    await this.changed();
    return Object.assign(row, changes);
  }

  async remove(tenantId: string, id: string): Promise<void> {
    const result = await this.endpoints.delete({ tenantId, id, kind: 'endpoint' });
    if (!result.affected) throw endpointNotFound();
    await this.changed();
  }

  /** A new secret (in the clear, shown once); the previous one keeps signing beside it for WEBHOOK_SECRET_GRACE_MS. */
  rotateSecret(tenantId: string, id: string): Promise<EndpointWithSecret> {
    return this.secrets.rotate(() => this.get(tenantId, id));
  }

  /** Sends a `ping` event to this endpoint only, through the ordinary delivery path (log, retries). */
  async sendTest(tenantId: string, id: string): Promise<WebhookDeliveryEntity> {
    const endpoint = await this.get(tenantId, id);
    if (!endpoint.enabled) throw DomainError.conflict('WEBHOOK_ENDPOINT_DISABLED', 'The endpoint is disabled; enable it first');
    const at = new Date(this.clock.now());
    const event = eventRow({ id: eventId(`ping:${uuidv7()}`), tenantId, type: 'ping', taskId: null, at, data: { endpointId: id, message: 'ping' } });
    const delivery = deliveryRow(event, id, at);
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(WebhookEventEntity, event);
      await manager.insert(WebhookDeliveryEntity, delivery);
    });
    return delivery;
  }

  private activation(now: Date): Date {
    return new Date(now.getTime() + this.config.webhooks.activationDelayMs);
  }

  /** Refuses bad patterns and forbidden URLs (the SSRF guard resolves the host now, and again at every delivery). */
  private async validate(input: EndpointInput): Promise<void> {
    if (input.events) {
      const known = this.eventTypes();
      const unknown = unknownPatterns(input.events, known);
      if (unknown.length > 0) {
        throw DomainError.invalid('UNKNOWN_EVENT_TYPE', `Unknown event types: ${unknown.join(', ')}`, [
          { field: 'events', message: `known: ${known.join(', ')}, a family wildcard such as task.*, or *` },
        ]);
      }
    }
    if (input.url !== undefined) {
      try {
        await this.guard.check(input.url);
      } catch (error) {
        if (error instanceof WebhookUrlForbidden)
          throw DomainError.invalid('WEBHOOK_URL_FORBIDDEN', `The URL is not allowed: ${error.reason}`, [{ field: 'url', message: error.reason }]);
        throw error;
      }
    }
  }

  /** This process sees its own change at once; other processes within the activation delay. */
  private async changed(): Promise<void> {
    await this.subscriptions.refresh().catch(() => undefined);
  }
}
