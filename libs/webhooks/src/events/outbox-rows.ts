import { createHash } from 'node:crypto';
import { uuidv7 } from 'uuidv7';
import type { WebhookEventBody } from '../webhooks.contract';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';

/**
 * The id of the event about `key` (e.g. "<task>:task.completed:run:3"): the same key always
 * gives the same id, so the outbox's primary key refuses a second event for one transition.
 */
export function eventId(key: string): string {
  return `msg_${createHash('sha256').update(key).digest('base64url').slice(0, 24)}`;
}

/** An outbox row; `body` is the exact text every attempt sends and signs. */
export function eventRow(fields: { id: string; tenantId: string; type: string; taskId: string | null; at: Date; data: unknown }): WebhookEventEntity {
  const body: WebhookEventBody = { id: fields.id, type: fields.type, timestamp: fields.at.toISOString(), data: fields.data };
  return Object.assign(new WebhookEventEntity(), {
    id: fields.id,
    tenantId: fields.tenantId,
    type: fields.type,
    taskId: fields.taskId,
    body: JSON.stringify(body),
    createdAt: fields.at,
  });
}

/** A delivery of `event` to one endpoint (to `url` instead of the endpoint's for a per-task callback), due at once. */
export function deliveryRow(event: WebhookEventEntity, endpointId: string, at: Date, url: string | null = null): WebhookDeliveryEntity {
  return Object.assign(new WebhookDeliveryEntity(), {
    id: uuidv7(),
    tenantId: event.tenantId,
    endpointId,
    url,
    eventId: event.id,
    eventType: event.type,
    taskId: event.taskId,
    status: 'pending' as const,
    attempts: 0,
    step: 0,
    nextAttemptAt: at,
    claim: null,
    lastStatusCode: null,
    lastError: null,
    createdAt: at,
    updatedAt: at,
  });
}
