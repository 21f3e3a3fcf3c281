import { Column, Entity, PrimaryColumn } from 'typeorm';

/** Which of a tenant's tasks an endpoint hears of, beyond the event types. */
export interface EndpointFilter {
  /** Task types (exact); empty or absent: any. */
  taskTypes?: string[];
  /** At least one of these tags; empty or absent: any. */
  tags?: string[];
}

/**
 * `endpoint`: a receiver the tenant registered. `callback`: the tenant's one callback endpoint
 * (see callback-endpoints.service.ts): it signs per-task callbacks, keeps their log and subscribes to
 * nothing.
 */
export type EndpointKind = 'endpoint' | 'callback';

/** A tenant's webhook receiver. */
@Entity({ name: 'webhook_endpoints' })
export class WebhookEndpointEntity {
  /** UUIDv7. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 16, default: 'endpoint' })
  kind: EndpointKind;

  @Column({ type: 'varchar', length: 2048 })
  url: string;

  /** Event types or patterns (`task.completed`, `task.*`, `*`). */
  @Column({ type: 'json' })
  events: string[];

  @Column({ type: 'json', nullable: true })
  filter: EndpointFilter | null;

  @Column({ type: 'varchar', length: 500, nullable: true })
  description: string | null;

  @Column({ type: 'boolean' })
  enabled: boolean;

  /**
   * The signing secret (`whsec_` + base64 of the key) sealed by SecretSealer: never the secret
   * itself, except legacy plain rows. Opened only to sign, or to show the tenant once.
   */
  @Column({ name: 'secret', type: 'varchar', length: 255 })
  sealedSecret: string;

  /** The secret before the last rotation, sealed likewise; signs beside it until previousSecretUntil. */
  @Column({ name: 'previous_secret', type: 'varchar', length: 255, nullable: true })
  sealedPreviousSecret: string | null;

  @Column({ name: 'previous_secret_until', type: 'timestamp', precision: 3, nullable: true })
  previousSecretUntil: Date | null;

  @Column({ name: 'active_from', type: 'timestamp', precision: 3 })
  activeFrom: Date;

  @Column({ name: 'failing_since', type: 'timestamp', precision: 3, nullable: true })
  failingSince: Date | null;

  @Column({ name: 'disabled_reason', type: 'varchar', length: 500, nullable: true })
  disabledReason: string | null;

  @Column({ name: 'disabled_at', type: 'timestamp', precision: 3, nullable: true })
  disabledAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamp', precision: 3 })
  updatedAt: Date;
}
