import { Column, Entity, PrimaryColumn } from 'typeorm';

/** One HTTP request of a delivery, as the delivery log shows it. */
@Entity({ name: 'webhook_attempts' })
export class WebhookAttemptEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'delivery_id', type: 'varchar', length: 36 })
  deliveryId: string;

  /** 1-based, across all rounds of the delivery. */
  @Column({ type: 'int' })
  attempt: number;

  @Column({ name: 'started_at', type: 'timestamp', precision: 3 })
  startedAt: Date;

  /** The receiver's status; null when no answer came (refused, timeout, forbidden address). */
  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  @Column({ name: 'latency_ms', type: 'int' })
  latencyMs: number;

  @Column({ type: 'varchar', length: 1000, nullable: true })
  error: string | null;

  /** The first bytes of the answer's body (see RESPONSE_EXCERPT_BYTES). */
  @Column({ name: 'response_excerpt', type: 'text', nullable: true })
  responseExcerpt: string | null;
}
