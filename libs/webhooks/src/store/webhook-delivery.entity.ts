import { Column, Entity, PrimaryColumn } from 'typeorm';

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** One event on its way to one endpoint. */
@Entity({ name: 'webhook_deliveries' })
export class WebhookDeliveryEntity {
  /** UUIDv7: newest first by id, and the paging cursor. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ name: 'endpoint_id', type: 'varchar', length: 36 })
  endpointId: string;

  /** A per-task callback's URL, called instead of its endpoint's (the tenant's callback endpoint); null for an endpoint's delivery. */
  @Column({ type: 'varchar', length: 2048, nullable: true })
  url: string | null;

  @Column({ name: 'event_id', type: 'varchar', length: 64 })
  eventId: string;

  @Column({ name: 'event_type', type: 'varchar', length: 64 })
  eventType: string;

  @Column({ name: 'task_id', type: 'varchar', length: 36, nullable: true })
  taskId: string | null;

  @Column({ type: 'varchar', length: 16 })
  status: DeliveryStatus;

  /** Attempts made, all rounds. */
  @Column({ type: 'int' })
  attempts: number;

  /** Attempts of the current round: the position in the retry schedule. */
  @Column({ type: 'int' })
  step: number;

  @Column({ name: 'next_attempt_at', type: 'timestamp', precision: 3, nullable: true })
  nextAttemptAt: Date | null;

  @Column({ type: 'varchar', length: 36, nullable: true })
  claim: string | null;

  @Column({ name: 'last_status_code', type: 'int', nullable: true })
  lastStatusCode: number | null;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError: string | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamp', precision: 3 })
  updatedAt: Date;
}
