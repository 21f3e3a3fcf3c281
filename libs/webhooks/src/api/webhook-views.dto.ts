import type { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import type { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import type { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import type { WebhookEventEntity } from '../store/webhook-event.entity';

const iso = (date: Date | null) => (date ? date.toISOString() : null);

export class EndpointFilterView {
  taskTypes?: string[];
  tags?: string[];
}

/** An endpoint as the API shows it (never its secret). */
export class WebhookEndpointView {
  id: string;
  url: string;
  events: string[];
  filter: EndpointFilterView | null;
  description: string | null;
  enabled: boolean;
  /** Events of transitions from this instant on reach the endpoint (a few seconds after creation). */
  activeFrom: string;
  /** Start of the current run of failed attempts; null when the last attempt succeeded. */
  failingSince: string | null;
  /** Why it was disabled automatically (`endpoint.disabled: …`); null otherwise. */
  disabledReason: string | null;
  disabledAt: string | null;
  /** Until when the previous secret still signs after a rotation; null when none does. */
  previousSecretValidUntil: string | null;
  createdAt: string;
  updatedAt: string;
}

/** The answer of a creation: the endpoint and its signing secret, shown this once. */
export class WebhookEndpointCreatedView extends WebhookEndpointView {
  /** `whsec_` + base64: verify deliveries with it (Standard Webhooks). Not shown again. */
  secret: string;
}

export class WebhookEndpointListView {
  endpoints: WebhookEndpointView[];
  nextCursor: string | null;
}

/** The answer of a rotation: the new secret, shown this once; the old one signs too until `previousSecretValidUntil`. */
export class RotatedSecretView {
  secret: string;
  previousSecretValidUntil: string;
}

/** The tenant's callback signing secret (`GET /v1/webhooks/callbacks`). */
export class CallbackSecretView {
  /** `whsec_` + base64: verify per-task callbacks with it (Standard Webhooks). */
  secret: string;
  /** Until when the previous secret still signs beside it after a rotation; null when none does. */
  previousSecretValidUntil: string | null;
  /** The callback endpoint: its log is `GET /v1/webhooks/endpoints/<endpointId>/deliveries`. */
  endpointId: string;
}

export class WebhookDeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  taskId: string | null;
  /** pending (being attempted or waiting for the next attempt), succeeded, failed (schedule used up). */
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: string;
  updatedAt: string;
}

export class WebhookAttemptView {
  attempt: number;
  startedAt: string;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** The first 4 KiB of the answer's body. */
  responseExcerpt: string | null;
}

export class WebhookDeliveryDetailView extends WebhookDeliveryView {
  /** The event body exactly as sent and signed (`{id, type, timestamp, data}`). */
  event: Record<string, unknown> | null;
  attemptLog: WebhookAttemptView[];
}

export class WebhookDeliveryListView {
  deliveries: WebhookDeliveryView[];
  nextCursor: string | null;
}

export class RedeliveredView {
  redelivered: number;
}

export function toEndpointView(endpoint: WebhookEndpointEntity, now: number): WebhookEndpointView {
  const graceLeft = endpoint.previousSecretUntil && endpoint.previousSecretUntil.getTime() > now;
  return {
    id: endpoint.id,
    url: endpoint.url,
    events: endpoint.events,
    filter: endpoint.filter,
    description: endpoint.description,
    enabled: endpoint.enabled,
    activeFrom: endpoint.activeFrom.toISOString(),
    failingSince: iso(endpoint.failingSince),
    disabledReason: endpoint.disabledReason,
    disabledAt: iso(endpoint.disabledAt),
    previousSecretValidUntil: graceLeft ? iso(endpoint.previousSecretUntil) : null,
    createdAt: endpoint.createdAt.toISOString(),
    updatedAt: endpoint.updatedAt.toISOString(),
  };
}

export function toDeliveryView(delivery: WebhookDeliveryEntity): WebhookDeliveryView {
  return {
    id: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    taskId: delivery.taskId,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: delivery.status === 'pending' ? iso(delivery.nextAttemptAt) : null,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: delivery.createdAt.toISOString(),
    updatedAt: delivery.updatedAt.toISOString(),
  };
}

export function toDeliveryDetailView(
  delivery: WebhookDeliveryEntity,
  event: WebhookEventEntity | null,
  attempts: WebhookAttemptEntity[],
): WebhookDeliveryDetailView {
  return {
    ...toDeliveryView(delivery),
    event: event ? (JSON.parse(event.body) as Record<string, unknown>) : null,
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      startedAt: a.startedAt.toISOString(),
      statusCode: a.statusCode,
      latencyMs: a.latencyMs,
      error: a.error,
      responseExcerpt: a.responseExcerpt,
    })),
  };
}
