import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { portableColumnTypes } from '../dialect';

/** The task ledger. One migration for PostgreSQL and MySQL/MariaDB; only column types differ. */
export class CreateTasks1764000000000 implements MigrationInterface {
  name = 'CreateTasks1764000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time, json } = portableColumnTypes(queryRunner);

    await queryRunner.createTable(
      new Table({
        name: 'tasks',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'type', type: 'varchar', length: '128' },
          { name: 'queue', type: 'varchar', length: '64' },
          { name: 'status', type: 'varchar', length: '16' },
          { name: 'priority', type: 'smallint' },
          { name: 'payload', ...json },
          { name: 'result', ...json, isNullable: true },
          { name: 'error', ...json, isNullable: true },
          { name: 'progress', ...json, isNullable: true },
          { name: 'attempts', type: 'int', default: 0 },
          { name: 'max_attempts', type: 'int' },
          // Attempts one run may use; a manual retry grants them again.
          { name: 'attempt_budget', type: 'int' },
          { name: 'timeout_ms', type: 'int' },
          { name: 'idempotency_key', type: 'varchar', length: '255', isNullable: true },
          // sha256 of the request that used the key: a reuse with another body is refused.
          { name: 'idempotency_hash', type: 'char', length: '64', isNullable: true },
          { name: 'tags', ...json, isNullable: true },
          { name: 'created_at', ...time },
          { name: 'updated_at', ...time },
          { name: 'scheduled_for', ...time, isNullable: true },
          { name: 'expires_at', ...time, isNullable: true },
          { name: 'started_at', ...time, isNullable: true },
          { name: 'finished_at', ...time, isNullable: true },
          { name: 'worker_id', type: 'varchar', length: '128', isNullable: true },
        ],
      }),
    );
    // Listing is always per tenant, newest first (UUIDv7 ids sort by creation time).
    await queryRunner.createIndices('tasks', [
      new TableIndex({ name: 'ix_tasks_tenant_id', columnNames: ['tenant_id', 'id'] }),
      new TableIndex({ name: 'ix_tasks_tenant_status_id', columnNames: ['tenant_id', 'status', 'id'] }),
      new TableIndex({ name: 'ix_tasks_tenant_type_id', columnNames: ['tenant_id', 'type', 'id'] }),
      new TableIndex({ name: 'ux_tasks_tenant_idempotency', columnNames: ['tenant_id', 'idempotency_key'], isUnique: true }),
      // Retention and the reconciler scan by status and age.
      new TableIndex({ name: 'ix_tasks_status_finished', columnNames: ['status', 'finished_at'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('tasks');
  }
}
