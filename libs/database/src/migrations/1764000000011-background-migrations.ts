import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { dialectOf, portableColumnTypes } from '../dialect';

/**
 * Background migrations (libs/background-migrations): one row of state per migration declared
 * in code, created when it is first started, and one row per committed batch (the checkpoint's
 * history, written in the batch's own transaction). Cursors are kept as text: a key column may
 * be a uuid, a string or an integer.
 *
 * Also `duration_ms` on tasks (finished_at − started_at, filled by the worker's terminal writes
 * and, for older rows, by the `tasks.duration-ms` background migration), nullable so that adding
 * it rewrites nothing, with an index to list a tenant's tasks by run time.
 */
export class BackgroundMigrations1764000000011 implements MigrationInterface {
  name = 'BackgroundMigrations1764000000011';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { time, json } = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'background_migrations',
        columns: [
          { name: 'name', type: 'varchar', length: '128', isPrimary: true },
          { name: 'status', type: 'varchar', length: '16' },
          // Bumped by start, resume, retry and the watch: only steps of the current generation work.
          { name: 'generation', type: 'int' },
          // The last key of the last committed batch; NULL before the first.
          { name: 'checkpoint_key', type: 'varchar', length: '255', isNullable: true },
          { name: 'rows_processed', type: 'bigint' },
          // Counted when the first step runs: the base of percent and ETA, an estimate.
          { name: 'rows_total', type: 'bigint', isNullable: true },
          { name: 'batches', type: 'int' },
          { name: 'failures', type: 'int' },
          // Failed batches since the last one that committed; the migration fails at its limit.
          { name: 'consecutive_failures', type: 'int' },
          { name: 'last_error', ...json, isNullable: true },
          { name: 'started_at', ...time, isNullable: true },
          { name: 'finished_at', ...time, isNullable: true },
          { name: 'paused_at', ...time, isNullable: true },
          // Since the last start or resume: the window rows/s and the ETA are measured over.
          { name: 'segment_started_at', ...time, isNullable: true },
          { name: 'segment_rows', type: 'bigint' },
          { name: 'last_batch_at', ...time, isNullable: true },
          // When the next step of the chain is due; the watch restarts a chain long past it.
          { name: 'next_step_at', ...time, isNullable: true },
          { name: 'created_at', ...time },
          { name: 'updated_at', ...time },
        ],
      }),
    );
    await queryRunner.createTable(
      new Table({
        name: 'background_migration_batches',
        columns: [
          { name: 'migration', type: 'varchar', length: '128', isPrimary: true },
          { name: 'number', type: 'int', isPrimary: true },
          { name: 'cursor_from', type: 'varchar', length: '255', isNullable: true },
          { name: 'cursor_to', type: 'varchar', length: '255' },
          { name: 'row_count', type: 'int' },
          { name: 'started_at', ...time },
          { name: 'finished_at', ...time },
        ],
      }),
    );
    if (dialectOf(queryRunner) === 'mysql') {
      for (const table of ['background_migrations', 'background_migration_batches']) {
        await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      }
    }
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'duration_ms', type: 'bigint', isNullable: true }));
    await queryRunner.createIndex('tasks', new TableIndex({ name: 'ix_tasks_tenant_duration', columnNames: ['tenant_id', 'duration_ms', 'id'] }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('tasks', 'ix_tasks_tenant_duration');
    await queryRunner.dropColumn('tasks', 'duration_ms');
    await queryRunner.dropTable('background_migration_batches');
    await queryRunner.dropTable('background_migrations');
  }
}
