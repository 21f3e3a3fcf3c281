import { createHash } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { TaskCallbackGuard } from '@conveyor/tasks';
import { UrlGuard, WebhookUrlForbidden } from '../security/url-guard';
import { EndpointSecrets, type EndpointWithSecret } from '../signing/endpoint-secrets';
import { insertIgnoringDuplicates } from '../store/insert-ignoring-duplicates';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';

/**
 * The id of a tenant's callback endpoint: derived from the tenant (a UUID of version 8, the
 * custom kind), so every process names the same row without a query and the primary key keeps
 * it one per tenant however many processes create it at once.
 */
export function callbackEndpointId(tenantId: string): string {
  const hex = createHash('sha256').update(`conveyor:callback-endpoint:${tenantId}`).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Per-task callbacks (`callback: {url}` on a task) are signed with one secret per tenant, held
 * by the tenant's callback endpoint: a row of kind `callback` that subscribes to nothing, is
 * never disabled for failures (each callback has its own URL), and whose id carries the
 * callbacks' delivery log. The tenant reads and rotates its secret (`/v1/webhooks/callbacks`),
 * so it can verify a callback before the first one arrives. Also the tasks lib's callback guard:
 * a callback URL passes the SSRF guard when the task is accepted, like an endpoint's.
 */
@Injectable()
export class CallbackEndpoints implements TaskCallbackGuard {
  /** Tenants whose callback endpoint this process has seen: a task with a callback then costs no write. */
  private readonly known = new Set<string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly guard: UrlGuard,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
    private readonly secrets: EndpointSecrets,
  ) {}

  async check(tenantId: string, url: string): Promise<string | null> {
    try {
      await this.guard.check(url);
    } catch (error) {
      if (error instanceof WebhookUrlForbidden) return error.reason;
      throw error;
    }
    await this.ensure(tenantId);
    return null;
  }

  /** Creates the tenant's callback endpoint unless it exists (a concurrent creation keeps the first). */
  async ensure(tenantId: string): Promise<string> {
    const id = callbackEndpointId(tenantId);
    if (this.known.has(tenantId)) return id;
    const now = new Date(this.clock.now());
    const row = Object.assign(new WebhookEndpointEntity(), {
      id,
      tenantId,
      kind: 'callback' as const,
      url: '',
      events: [],
      filter: null,
      description: 'per-task callbacks',
      enabled: true,
      sealedSecret: this.secrets.issue(id).sealed,
      sealedPreviousSecret: null,
      previousSecretUntil: null,
      activeFrom: now,
      failingSince: null,
      disabledReason: null,
      disabledAt: null,
      createdAt: now,
      updatedAt: now,
    } satisfies WebhookEndpointEntity);
    await insertIgnoringDuplicates(this.dataSource.manager, WebhookEndpointEntity, [row]);
    this.known.add(tenantId);
    return id;
  }

  /** The tenant's callback endpoint (made on first use) and its secret in the clear. */
  async get(tenantId: string): Promise<EndpointWithSecret> {
    const endpoint = await this.load(tenantId);
    return { endpoint, secret: this.secrets.reveal(endpoint) };
  }

  /** A new callback secret; the previous one keeps signing beside it for WEBHOOK_SECRET_GRACE_MS. */
  rotateSecret(tenantId: string): Promise<EndpointWithSecret> {
    return this.secrets.rotate(() => this.load(tenantId));
  }

  private async load(tenantId: string): Promise<WebhookEndpointEntity> {
    const id = await this.ensure(tenantId);
    return this.dataSource.getRepository(WebhookEndpointEntity).findOneByOrFail({ id, tenantId });
  }
}
