import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { uuidv7 } from 'uuidv7';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { dialectOf } from '@conveyor/database';
import { retryDelayMs } from '../delivery/retry-schedule';
import { TargetAgents } from '../delivery/target-agents';
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
import { AttemptLog } from './attempt-log';

export type AttemptResult = 'stale' | 'succeeded' | 'retrying' | 'failed';

const MAX_ERROR = 500;

/** What an attempt needs, read in one query; the endpoint or the event may be gone. */
interface AttemptSubject {
  delivery: Pick<WebhookDeliveryEntity, 'id' | 'endpointId' | 'eventId' | 'url' | 'attempts' | 'step'>;
  endpoint: WebhookEndpointEntity | null;
  event: Pick<WebhookEventEntity, 'id' | 'body'> | null;
}

interface SubjectRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  url: string | null;
  attempts: number;
  step: number;
  e_id: string | null;
  e_tenant_id: string;
  e_kind: WebhookEndpointEntity['kind'];
  e_url: string;
  e_enabled: boolean | number;
  e_secret: string;
  e_previous_secret: string | null;
  e_previous_secret_until: Date | null;
  e_failing_since: Date | null;
  v_id: string | null;
  v_body: string;
}

function subjectOf(row: SubjectRow): AttemptSubject {
  const delivery = { id: row.id, endpointId: row.endpoint_id, eventId: row.event_id, url: row.url, attempts: Number(row.attempts), step: Number(row.step) };
  const endpoint =
    row.e_id === null
      ? null
      : Object.assign(new WebhookEndpointEntity(), {
          id: row.e_id,
          tenantId: row.e_tenant_id,
          kind: row.e_kind,
          url: row.e_url,
          enabled: row.e_enabled === true || Number(row.e_enabled) === 1,
          sealedSecret: row.e_secret,
          sealedPreviousSecret: row.e_previous_secret,
          previousSecretUntil: row.e_previous_secret_until === null ? null : new Date(row.e_previous_secret_until),
          failingSince: row.e_failing_since === null ? null : new Date(row.e_failing_since),
        });
  return { delivery, endpoint, event: row.v_id === null ? null : { id: row.v_id, body: row.v_body } };
}

/**
 * One attempt of one delivery: take it (the claim must still be ours), read it with its
 * endpoint and event, check the URL again (the SSRF guard resolves afresh and the request goes
 * to the address it checked, over a kept-alive connection to that address when there is one),
 * sign, send, and record the attempt, the delivery's next step and the endpoint's health in one
 * transaction (shared with the attempts ending meanwhile, see AttemptLog).
 */
@Injectable()
export class DeliveryAttempts implements OnApplicationShutdown {
  private readonly logger = new Logger(DeliveryAttempts.name);
  private readonly agents = new TargetAgents();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly guard: UrlGuard,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
    private readonly secrets: EndpointSecrets,
    private readonly log: AttemptLog,
  ) {}

  onApplicationShutdown(): void {
    this.agents.destroy();
  }

  /**
   * Makes the attempt a job was queued for. `leaseMs` is renewed when the attempt starts, so
   * the dispatcher does not hand the same delivery to another job while this one sends.
   */
  async attempt(deliveryId: string, claim: string, leaseMs: number): Promise<AttemptResult> {
    const subject = await this.take(deliveryId, claim, new Date(this.clock.now() + leaseMs));
    if (!subject) return 'stale';
    const { delivery, endpoint, event } = subject;
    if (!endpoint || !endpoint.enabled || !event) {
      const why = !endpoint ? 'the endpoint was deleted' : !event ? 'the event is gone (retention)' : 'the endpoint is disabled';
      await this.end(delivery.id, claim, why);
      return 'failed';
    }
    const startedAt = new Date(this.clock.now());
    const outcome = await this.send(endpoint, event, delivery.url ?? endpoint.url);
    return this.record(delivery, endpoint, claim, startedAt, outcome);
  }

  /**
   * Renews the lease if the claim is still ours and reads the delivery with its endpoint and
   * event: one statement on PostgreSQL (an UPDATE … RETURNING joined in a CTE), two on MySQL.
   * Null when the claim is no longer ours.
   */
  private async take(deliveryId: string, claim: string, lease: Date): Promise<AttemptSubject | null> {
    const join =
      `SELECT d.id, d.endpoint_id, d.event_id, d.url, d.attempts, d.step, ` +
      `e.id AS e_id, e.tenant_id AS e_tenant_id, e.kind AS e_kind, e.url AS e_url, e.enabled AS e_enabled, e.secret AS e_secret, ` +
      `e.previous_secret AS e_previous_secret, e.previous_secret_until AS e_previous_secret_until, e.failing_since AS e_failing_since, ` +
      `v.id AS v_id, v.body AS v_body `;
    const joins = `LEFT JOIN webhook_endpoints e ON e.id = d.endpoint_id LEFT JOIN webhook_events v ON v.id = d.event_id`;
    if (dialectOf(this.dataSource) === 'postgres') {
      const rows = await this.dataSource.query<SubjectRow[]>(
        `WITH d AS (UPDATE webhook_deliveries SET next_attempt_at = $1 WHERE id = $2 AND claim = $3 AND status = 'pending' ` +
          `RETURNING id, endpoint_id, event_id, url, attempts, step) ${join}FROM d ${joins}`,
        [lease, deliveryId, claim],
      );
      return rows.length === 0 ? null : subjectOf(rows[0]);
    }
    const taken = await this.dataSource.query<{ affectedRows: number }>(
      `UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ? AND claim = ? AND status = 'pending'`,
      [lease, deliveryId, claim],
    );
    if (!taken.affectedRows) return null;
    const rows = await this.dataSource.query<SubjectRow[]>(`${join}FROM webhook_deliveries d ${joins} WHERE d.id = ?`, [deliveryId]);
    return subjectOf(rows[0]);
  }

  /** `url`: the endpoint's, or a per-task callback's own (signed with the tenant's callback secret). */
  private async send(endpoint: WebhookEndpointEntity, event: AttemptSubject['event'] & object, url: string): Promise<SendOutcome> {
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
    return sendWebhook(target, headers, event.body, this.config.webhooks.timeoutMs, this.agents.agentFor(target));
  }

  private async record(
    delivery: AttemptSubject['delivery'],
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
    await this.log.write({
      attempt: Object.assign(new WebhookAttemptEntity(), {
        id: uuidv7(),
        deliveryId: delivery.id,
        attempt: delivery.attempts + 1,
        startedAt,
        statusCode: outcome.statusCode,
        latencyMs: outcome.latencyMs,
        error: outcome.error?.slice(0, 1000) ?? null,
        responseExcerpt: outcome.excerpt,
      }),
      claim,
      endpointId: endpoint.id,
      delivery: {
        status: result === 'retrying' ? 'pending' : result,
        attempts: delivery.attempts + 1,
        step,
        nextAttemptAt: delay === null ? null : new Date(now.getTime() + delay),
        lastStatusCode: outcome.statusCode,
        lastError: outcome.error?.slice(0, MAX_ERROR) ?? null,
        updatedAt: now,
      },
      also: this.endpointHealth(endpoint, ok, now, outcome.error),
    });
    return result;
  }

  /**
   * A success ends the endpoint's failing streak; a failure starts one, and a streak longer than
   * WEBHOOK_DISABLE_AFTER_MS disables the endpoint, saying why. Undefined when nothing changes
   * (a success on a healthy endpoint, the common case: no write at all).
   */
  private endpointHealth(
    endpoint: WebhookEndpointEntity,
    ok: boolean,
    now: Date,
    error: string | null,
  ): ((manager: EntityManager) => Promise<void>) | undefined {
    // Callbacks each have their own URL: one receiver's failures say nothing of the others. A
    // secret this worker cannot open is no fault of the receiver's either.
    if (endpoint.kind === 'callback' || error?.startsWith('WEBHOOK_SECRET_UNREADABLE')) return undefined;
    if (ok)
      return endpoint.failingSince
        ? (manager) =>
            manager
              .getRepository(WebhookEndpointEntity)
              .update({ id: endpoint.id }, { failingSince: null })
              .then(() => undefined)
        : undefined;
    return async (manager) => {
      const endpoints = manager.getRepository(WebhookEndpointEntity);
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
    };
  }

  /** Ends a delivery that cannot be attempted. */
  private async end(deliveryId: string, claim: string, why: string): Promise<void> {
    const now = new Date(this.clock.now());
    await this.dataSource
      .getRepository(WebhookDeliveryEntity)
      .update({ id: deliveryId, claim }, { status: 'failed', nextAttemptAt: null, claim: null, lastError: why, updatedAt: now });
  }
}
