import { Column, Entity, PrimaryColumn } from 'typeorm';

/** The outbox: one row per event, written with the change that caused it. */
@Entity({ name: 'webhook_events' })
export class WebhookEventEntity {
  /** `msg_…`, derived from what the event is about (see eventId): a second write of it is a no-op. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 64 })
  type: string;

  @Column({ name: 'task_id', type: 'varchar', length: 36, nullable: true })
  taskId: string | null;

  /** The JSON body exactly as sent and signed. */
  @Column({ type: 'text' })
  body: string;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;
}
