import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { retryDelayMs } from '../delivery/retry-schedule';
import { sendWebhook, type SendOutcome } from '../delivery/webhook-sender';
import { UrlGuard, WebhookUrlForbidden } from '../security/url-guard';
import { EndpointSecrets } from '../signing/endpoint-secrets';
import { SecretUnreadable } from '../signing/secret-sealer';
import { signedHeaders } from '../signing/webhook-signature';
import { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { WebhookEventEntity } from '../store/webhook-event.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';

export type AttemptResult = 'stale' | 'succeeded' | 'retrying' | 'failed';

const MAX_ERROR = 500;

/**
 * One attempt of one delivery: take it (the claim must still be ours), check the URL again
 * (the SSRF guard resolves afresh and the request goes to the address it checked), sign, send,
 * and record the attempt, the delivery's next step and the endpoint's health in one transaction.
 */
@Injectable()
export class DeliveryAttempts {
  private readonly logger = new Logger(DeliveryAttempts.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly guard: UrlGuard,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
    private readonly secrets: EndpointSecrets,
  ) {}

  /**
   * Makes the attempt a job was queued for. `leaseMs` is renewed when the attempt starts, so
   * the dispatcher does not hand the same delivery to another job while this one sends.
   */
  async attempt(deliveryId: string, claim: string, leaseMs: number): Promise<AttemptResult> {
    const deliveries = this.dataSource.getRepository(WebhookDeliveryEntity);
    const taken = await deliveries
      .createQueryBuilder()
      .update(WebhookDeliveryEntity)
      .set({ nextAttemptAt: new Date(this.clock.now() + leaseMs) })
      .where({ id: deliveryId, claim, status: 'pending' })
      .execute();
    if (!taken.affected) return 'stale';
    const delivery = (await deliveries.findOneBy({ id: deliveryId }))!;
    const [endpoint, event] = await Promise.all([
      this.dataSource.getRepository(WebhookEndpointEntity).findOneBy({ id: delivery.endpointId }),
      this.dataSource.getRepository(WebhookEventEntity).findOneBy({ id: delivery.eventId }),
    ]);
    if (!endpoint || !endpoint.enabled || !event) {
      const why = !endpoint ? 'the endpoint was deleted' : !event ? 'the event is gone (retention)' : 'the endpoint is disabled';
      await this.end(delivery, claim, why);
      return 'failed';
    }
    const startedAt = new Date(this.clock.now());
    const outcome = await this.send(endpoint, event, delivery.url ?? endpoint.url);
    return this.record(delivery, endpoint, claim, startedAt, outcome);
  }

  /** `url`: the endpoint's, or a per-task callback's own (signed with the tenant's callback secret). */
  private async send(endpoint: WebhookEndpointEntity, event: WebhookEventEntity, url: string): Promise<SendOutcome> {
    let target;
    try {
      target = await this.guard.check(url);
    } catch (error) {
      if (!(error instanceof WebhookUrlForbidden)) throw error;
      return { statusCode: null, latencyMs: 0, error: `WEBHOOK_URL_FORBIDDEN: ${error.reason}`, excerpt: null };
    }
    let secrets: string[];
    try {
      secrets = this.secrets.signing(endpoint, this.clock.now());
    } catch (error) {
      if (!(error instanceof SecretUnreadable)) throw error;
      // The operator's to fix (a key missing here); retried on the schedule meanwhile.
      return { statusCode: null, latencyMs: 0, error: `WEBHOOK_SECRET_UNREADABLE: ${error.message}`, excerpt: null };
    }
    // Signed with the wall clock: receivers check the timestamp against theirs.
    const headers = signedHeaders(secrets, event.id, Math.floor(Date.now() / 1000), event.body);
    return sendWebhook(target, headers, event.body, this.config.webhooks.timeoutMs);
  }

  private async record(
    delivery: WebhookDeliveryEntity,
    endpoint: WebhookEndpointEntity,
    claim: string,
    startedAt: Date,
    outcome: SendOutcome,
  ): Promise<AttemptResult> {
    const now = new Date(this.clock.now());
    const ok = outcome.error === null;
    const step = delivery.step + 1;
    const delay = ok ? null : retryDelayMs(step);
    const result: AttemptResult = ok ? 'succeeded' : delay === null ? 'failed' : 'retrying';
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(WebhookAttemptEntity, {
        id: uuidv7(),
        deliveryId: delivery.id,
        attempt: delivery.attempts + 1,
        startedAt,
        statusCode: outcome.statusCode,
        latencyMs: outcome.latencyMs,
        error: outcome.error?.slice(0, 1000) ?? null,
        responseExcerpt: outcome.excerpt,
      });
      // Only if still ours: a redelivery asked for meanwhile starts its own round.
      await manager
        .createQueryBuilder()
        .update(WebhookDeliveryEntity)
        .set({
          status: result === 'retrying' ? 'pending' : result,
          attempts: delivery.attempts + 1,
          step,
          nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
          claim: null,
          lastStatusCode: outcome.statusCode,
          lastError: outcome.error?.slice(0, MAX_ERROR) ?? null,
          updatedAt: now,
        })
        .where({ id: delivery.id, claim })
        .execute();
      await this.endpointHealth(manager, endpoint, ok, now, outcome.error);
    });
    return result;
  }

  /**
   * A success ends the endpoint's failing streak; a failure starts one, and a streak longer than
   * WEBHOOK_DISABLE_AFTER_MS disables the endpoint, saying why.
   */
  private async endpointHealth(manager: EntityManager, endpoint: WebhookEndpointEntity, ok: boolean, now: Date, error: string | null): Promise<void> {
    // Callbacks each have their own URL: one receiver's failures say nothing of the others. A
    // secret this worker cannot open is no fault of the receiver's either.
    if (endpoint.kind === 'callback' || error?.startsWith('WEBHOOK_SECRET_UNREADABLE')) return;
    const endpoints = manager.getRepository(WebhookEndpointEntity);
    if (ok) {
      if (endpoint.failingSince) await endpoints.update({ id: endpoint.id }, { failingSince: null });
      return;
    }
    await endpoints.update({ id: endpoint.id, failingSince: IsNull() }, { failingSince: now });
    const since = endpoint.failingSince ?? now;
    if (now.getTime() - since.getTime() < this.config.webhooks.disableAfterMs) return;
    const reason = `endpoint.disabled: every delivery failed since ${since.toISOString()} (WEBHOOK_DISABLE_AFTER_MS ${this.config.webhooks.disableAfterMs}); last error: ${error ?? 'unknown'}`;
    const disabled = await endpoints.update(
      { id: endpoint.id, enabled: true },
      { enabled: false, disabledReason: reason.slice(0, 500), disabledAt: now, updatedAt: now },
    );
    if (disabled.affected)
      this.logger.warn({ endpointId: endpoint.id, tenantId: endpoint.tenantId, event: 'endpoint.disabled', reason }, 'webhook endpoint disabled');
  }

  /** Ends a delivery that cannot be attempted. */
  private async end(delivery: WebhookDeliveryEntity, claim: string, why: string): Promise<void> {
    const now = new Date(this.clock.now());
    await this.dataSource
      .getRepository(WebhookDeliveryEntity)
      .update({ id: delivery.id, claim }, { status: 'failed', nextAttemptAt: null, claim: null, lastError: why, updatedAt: now });
  }
}
