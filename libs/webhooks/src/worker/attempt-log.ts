import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { dialectOf } from '@conveyor/database';
import { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import type { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';

/** Most records in one transaction. */
const MAX_BATCH = 200;

/** What one attempt leaves in the ledger. */
export interface AttemptRecord {
  attempt: WebhookAttemptEntity;
  /** The delivery's next step, applied only while `claim` is still the delivery's. */
  claim: string;
  delivery: Pick<WebhookDeliveryEntity, 'status' | 'attempts' | 'step' | 'nextAttemptAt' | 'lastStatusCode' | 'lastError' | 'updatedAt'>;
  endpointId: string;
  /** More writes of the same transaction on the endpoint's row (its health), when there are any. */
  also?: (manager: EntityManager) => Promise<void>;
}

interface Waiting {
  record: AttemptRecord;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes attempt outcomes in group commits: attempts that end while a transaction is being
 * written wait for the next one, which takes them all (one multi-row insert of the attempt
 * log, the deliveries' conditional updates, one commit). A caller's promise settles when its
 * record has committed, so a job ends only once its outcome is durable: a worker that dies
 * before leaves the delivery claimed, and it is attempted again after its lease (at least once,
 * as before). A batch that fails is written again record by record, so one bad record fails
 * only its own job.
 */
@Injectable()
export class AttemptLog {
  private queue: Waiting[] = [];
  private writing = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  write(record: AttemptRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      // Attempts ending in the same turn of the event loop share the first transaction.
      if (!this.writing) {
        this.writing = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await this.commit(batch.map((w) => w.record));
        batch.forEach((w) => w.resolve());
      } catch {
        for (const waiting of batch) await this.commit([waiting.record]).then(waiting.resolve, waiting.reject);
      }
    }
    this.writing = false;
  }

  private async commit(records: AttemptRecord[]): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.insert(
        WebhookAttemptEntity,
        records.map((r) => r.attempt),
      );
      await this.advanceDeliveries(manager, records);
      // Endpoint rows last and in one order, so that two workers' batches cannot deadlock on them.
      const endpointWrites = records.filter((r) => r.also).sort((a, b) => (a.endpointId < b.endpointId ? -1 : a.endpointId > b.endpointId ? 1 : 0));
      for (const record of endpointWrites) await record.also!(manager);
    });
  }

  /**
   * Each delivery's next step, only if still ours: a redelivery asked for meanwhile starts its
   * own round. PostgreSQL: one statement per record. MySQL/MariaDB: one statement for the whole
   * batch (a join against the records), so the transaction holds its row locks for one round
   * trip instead of one per record.
   */
  private async advanceDeliveries(manager: EntityManager, records: AttemptRecord[]): Promise<void> {
    const values = ({ attempt, claim, delivery: d }: AttemptRecord) => [
      attempt.deliveryId,
      claim,
      d.status,
      d.attempts,
      d.step,
      d.nextAttemptAt,
      d.lastStatusCode,
      d.lastError,
      d.updatedAt,
    ];
    if (dialectOf(this.dataSource) === 'postgres') {
      for (const record of records)
        await manager.query(
          'UPDATE webhook_deliveries SET claim = NULL, status = $3, attempts = $4, step = $5, next_attempt_at = $6, last_status_code = $7, last_error = $8, updated_at = $9 WHERE id = $1 AND claim = $2',
          values(record),
        );
      return;
    }
    const row =
      'SELECT ? AS id, ? AS claim, ? AS status, ? AS attempts, ? AS step, ? AS next_attempt_at, ? AS last_status_code, ? AS last_error, ? AS updated_at';
    await manager.query(
      `UPDATE webhook_deliveries d JOIN (${records.map(() => row).join(' UNION ALL ')}) v ` +
        `ON d.id = v.id AND d.claim = v.claim ` +
        `SET d.claim = NULL, d.status = v.status, d.attempts = v.attempts, d.step = v.step, d.next_attempt_at = v.next_attempt_at, ` +
        `d.last_status_code = v.last_status_code, d.last_error = v.last_error, d.updated_at = v.updated_at`,
      records.flatMap(values),
    );
  }
}
