import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { dialectOf, portableColumnTypes } from '../dialect';

/**
 * Webhooks: endpoints per tenant, the event outbox, deliveries (one per event and endpoint)
 * and their attempts. Events are written in the transaction of the task change that causes
 * them; their id is derived from (task, transition, run), so the primary key keeps a re-run
 * from writing a second one, and the unique (event_id, endpoint_id) keeps one delivery each.
 */
export class CreateWebhooks1764000000007 implements MigrationInterface {
  name = 'CreateWebhooks1764000000007';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time, json } = portableColumnTypes(queryRunner);
    const mysql = dialectOf(queryRunner) === 'mysql';
    // An event body up to WEBHOOK_MAX_PAYLOAD_BYTES (MySQL's TEXT stops at 64 KiB).
    const longText = { type: mysql ? 'mediumtext' : 'text' };
    await queryRunner.createTable(
      new Table({
        name: 'webhook_endpoints',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'url', type: 'varchar', length: '2048' },
          { name: 'events', ...json },
          { name: 'filter', ...json, isNullable: true },
          { name: 'description', type: 'varchar', length: '500', isNullable: true },
          { name: 'enabled', type: 'boolean' },
          { name: 'secret', type: 'varchar', length: '128' },
          { name: 'previous_secret', type: 'varchar', length: '128', isNullable: true },
          { name: 'previous_secret_until', ...time, isNullable: true },
          // Events of transitions from this instant on reach it (see WEBHOOK_ACTIVATION_DELAY_MS).
          { name: 'active_from', ...time },
          // Start of the current run of failed attempts; NULL after any success.
          { name: 'failing_since', ...time, isNullable: true },
          { name: 'disabled_reason', type: 'varchar', length: '500', isNullable: true },
          { name: 'disabled_at', ...time, isNullable: true },
          { name: 'created_at', ...time },
          { name: 'updated_at', ...time },
        ],
      }),
    );
    await queryRunner.createIndex('webhook_endpoints', new TableIndex({ name: 'ix_webhook_endpoints_tenant', columnNames: ['tenant_id', 'id'] }));

    await queryRunner.createTable(
      new Table({
        name: 'webhook_events',
        columns: [
          { name: 'id', type: 'varchar', length: '64', isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'type', type: 'varchar', length: '64' },
          { name: 'task_id', ...uuid, isNullable: true },
          // The exact body sent (and signed) on every attempt.
          { name: 'body', ...longText },
          { name: 'created_at', ...time },
        ],
      }),
    );
    await queryRunner.createIndex('webhook_events', new TableIndex({ name: 'ix_webhook_events_created', columnNames: ['created_at'] }));

    await queryRunner.createTable(
      new Table({
        name: 'webhook_deliveries',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'endpoint_id', ...uuid },
          { name: 'event_id', type: 'varchar', length: '64' },
          { name: 'event_type', type: 'varchar', length: '64' },
          { name: 'task_id', ...uuid, isNullable: true },
          // pending | succeeded | failed
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'attempts', type: 'int' },
          // Attempts of the current round (a redelivery starts a new round of the schedule).
          { name: 'step', type: 'int' },
          { name: 'next_attempt_at', ...time, isNullable: true },
          // The dispatcher's claim: the one job allowed to make the next attempt.
          { name: 'claim', ...uuid, isNullable: true },
          { name: 'last_status_code', type: 'int', isNullable: true },
          { name: 'last_error', type: 'varchar', length: '500', isNullable: true },
          { name: 'created_at', ...time },
          { name: 'updated_at', ...time },
        ],
      }),
    );
    await queryRunner.createIndices('webhook_deliveries', [
      new TableIndex({ name: 'ux_webhook_deliveries_event_endpoint', columnNames: ['event_id', 'endpoint_id'], isUnique: true }),
      new TableIndex({ name: 'ix_webhook_deliveries_endpoint', columnNames: ['endpoint_id', 'id'] }),
      new TableIndex({ name: 'ix_webhook_deliveries_due', columnNames: ['status', 'next_attempt_at'] }),
    ]);

    await queryRunner.createTable(
      new Table({
        name: 'webhook_attempts',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'delivery_id', ...uuid },
          { name: 'attempt', type: 'int' },
          { name: 'started_at', ...time },
          { name: 'status_code', type: 'int', isNullable: true },
          { name: 'latency_ms', type: 'int' },
          { name: 'error', type: 'varchar', length: '1000', isNullable: true },
          { name: 'response_excerpt', type: 'text', isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndex('webhook_attempts', new TableIndex({ name: 'ix_webhook_attempts_delivery', columnNames: ['delivery_id', 'attempt'] }));
    if (mysql) {
      for (const table of ['webhook_endpoints', 'webhook_events', 'webhook_deliveries', 'webhook_attempts']) {
        await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      }
    }
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const table of ['webhook_attempts', 'webhook_deliveries', 'webhook_events', 'webhook_endpoints']) await queryRunner.dropTable(table);
  }
}
