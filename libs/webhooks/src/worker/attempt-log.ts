import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, EntityManager } from 'typeorm';
import { dialectOf } from '@conveyor/database';
import { WebhookAttemptEntity } from '../store/webhook-attempt.entity';
import type { WebhookDeliveryEntity } from '../store/webhook-delivery.entity';

/** Most records in one transaction. */
const MAX_BATCH = 200;

/** The columns a batch of outcomes carries, in parameter order, with their PostgreSQL types. */
const OUTCOME_COLUMNS: ReadonlyArray<[string, string]> = [
  ['id', 'uuid'],
  ['claim', 'uuid'],
  ['status', 'varchar'],
  ['attempts', 'int'],
  ['step', 'int'],
  ['next_attempt_at', 'timestamptz'],
  ['last_status_code', 'int'],
  ['last_error', 'varchar'],
  ['updated_at', 'timestamptz'],
];

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
   * own round. One statement for the whole batch (a join against the records: PostgreSQL a VALUES
   * list, MySQL/MariaDB a UNION of SELECTs), so the transaction holds its row locks for one round
   * trip instead of one per record.
   */
  private async advanceDeliveries(manager: EntityManager, records: AttemptRecord[]): Promise<void> {
    const params = records.flatMap(({ attempt, claim, delivery: d }) => [
      attempt.deliveryId,
      claim,
      d.status,
      d.attempts,
      d.step,
      d.nextAttemptAt,
      d.lastStatusCode,
      d.lastError,
      d.updatedAt,
    ]);
    const sets = OUTCOME_COLUMNS.slice(2).map(([column]) => `${column} = v.${column}`);
    if (dialectOf(this.dataSource) === 'postgres') {
      const width = OUTCOME_COLUMNS.length;
      const tuples = records.map((_, r) => `(${OUTCOME_COLUMNS.map(([, cast], c) => `$${r * width + c + 1}::${cast}`).join(', ')})`);
      await manager.query(
        `UPDATE webhook_deliveries AS d SET claim = NULL, ${sets.join(', ')} ` +
          `FROM (VALUES ${tuples.join(', ')}) AS v(${OUTCOME_COLUMNS.map(([column]) => column).join(', ')}) ` +
          `WHERE d.id = v.id AND d.claim = v.claim`,
        params,
      );
      return;
    }
    const row = `SELECT ${OUTCOME_COLUMNS.map(([column]) => `? AS ${column}`).join(', ')}`;
    await manager.query(
      `UPDATE webhook_deliveries d JOIN (${records.map(() => row).join(' UNION ALL ')}) v ` +
        `ON d.id = v.id AND d.claim = v.claim SET d.claim = NULL, ${sets.map((set) => `d.${set}`).join(', ')}`,
      params,
    );
  }
}
