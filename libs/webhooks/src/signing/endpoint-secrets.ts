import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { DomainError } from '@conveyor/errors';
import { WebhookEndpointEntity } from '../store/webhook-endpoint.entity';
import { WEBHOOK_CLOCK, type Clock } from '../webhook-clock';
import { SecretKeyMissing, SecretSealer, SecretUnreadable } from './secret-sealer';
import { generateSecret } from './webhook-signature';

/** A secret as the API shows it once, and the endpoint that stores it sealed. */
export interface EndpointWithSecret {
  endpoint: WebhookEndpointEntity;
  secret: string;
}

/** A rotation that lost its race this many times in a row (a busy reseal pass) gives up. */
const ROTATE_TRIES = 3;
/** Opened secrets kept by a process (the endpoints it delivers to most recently). */
const OPENED_CACHE = 1000;

/**
 * The one place endpoint signing secrets are made, sealed, opened and rotated. Plain secrets
 * leave it only to be shown to the tenant (creation, rotation, the callback secret) or to sign
 * an attempt; they are never logged.
 */
@Injectable()
export class EndpointSecrets {
  private readonly openedCache = new Map<string, string>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly sealer: SecretSealer,
    @Inject(WEBHOOK_CLOCK) private readonly clock: Clock,
  ) {}

  /** A new secret for the endpoint `endpointId`: the plain one (shown once) and its sealed form (stored). */
  issue(endpointId: string): { secret: string; sealed: string } {
    const secret = generateSecret();
    return { secret, sealed: this.guarded(() => this.sealer.seal(secret, endpointId)) };
  }

  /** The current secret in the clear (the callback secret, which the tenant may read again). */
  reveal(endpoint: WebhookEndpointEntity): string {
    return this.guarded(() => this.sealer.open(endpoint.sealedSecret, endpoint.id));
  }

  /**
   * The secrets that sign an attempt at `now`: the current one, and the previous one during a
   * rotation's grace period. Throws SecretUnreadable when a key is missing here.
   */
  signing(endpoint: WebhookEndpointEntity, now: number): string[] {
    const secrets = [this.opened(endpoint.sealedSecret, endpoint.id)];
    if (endpoint.sealedPreviousSecret && endpoint.previousSecretUntil && endpoint.previousSecretUntil.getTime() > now)
      secrets.push(this.opened(endpoint.sealedPreviousSecret, endpoint.id));
    return secrets;
  }

  /**
   * Opens a sealed value once per process, not once per attempt (a receiver gets thousands):
   * keyed by the sealed text itself, so a rotation or reseal (new text) is never served stale.
   */
  private opened(sealed: string, endpointId: string): string {
    const key = `${endpointId}|${sealed}`;
    let secret = this.openedCache.get(key);
    if (secret === undefined) {
      secret = this.sealer.open(sealed, endpointId);
      if (this.openedCache.size >= OPENED_CACHE) this.openedCache.delete(this.openedCache.keys().next().value!);
      this.openedCache.set(key, secret);
    }
    return secret;
  }

  /**
   * A new secret; the current one keeps signing beside it for WEBHOOK_SECRET_GRACE_MS, sealed
   * again under the current key. A compare-and-set on the stored secret: a concurrent rotation
   * or reseal is re-read instead of overwritten (two rotations must not both hand out a secret).
   */
  async rotate(load: () => Promise<WebhookEndpointEntity>): Promise<EndpointWithSecret> {
    const endpoints = this.dataSource.getRepository(WebhookEndpointEntity);
    for (let tries = 1; ; tries++) {
      const row = await load();
      const now = this.clock.now();
      const { secret, sealed } = this.issue(row.id);
      const changes = {
        sealedSecret: sealed,
        sealedPreviousSecret: this.guarded(() => this.sealer.seal(this.sealer.open(row.sealedSecret, row.id), row.id)),
        previousSecretUntil: new Date(now + this.config.webhooks.secretGraceMs),
        updatedAt: new Date(now),
      };
      const result = await endpoints.update({ id: row.id, tenantId: row.tenantId, sealedSecret: row.sealedSecret }, changes);
      if (result.affected) return { endpoint: Object.assign(row, changes), secret };
      if (tries >= ROTATE_TRIES) throw DomainError.conflict('WEBHOOK_SECRET_CONFLICT', 'The secret changed meanwhile; try again');
    }
  }

  /** Key trouble is the operator's to fix: a clear 503, never a secret or a stack in the answer. */
  private guarded<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (error instanceof SecretKeyMissing)
        throw DomainError.unavailable('WEBHOOK_SECRET_KEY_MISSING', 'Webhook secrets cannot be stored: the server has no WEBHOOK_SECRET_KEY');
      if (error instanceof SecretUnreadable)
        throw DomainError.unavailable('WEBHOOK_SECRET_UNREADABLE', `The stored webhook secret cannot be read here: ${error.message}`);
      throw error;
    }
  }
}
