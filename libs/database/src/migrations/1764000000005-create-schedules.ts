import { Table, TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { dialectOf, portableColumnTypes } from '../dialect';

/**
 * Schedules (cron or every-N-ms task templates) and the link from a task to the tick that made
 * it. The unique index on tasks (schedule_id, schedule_tick) is the exactly-once guard: however
 * many processes fire the same tick, the database keeps one row. Ordinary tasks have NULL in
 * both columns, which neither family counts as a duplicate.
 */
export class CreateSchedules1764000000005 implements MigrationInterface {
  name = 'CreateSchedules1764000000005';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time, json } = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'schedules',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          // A code-declared schedule's id ("<task type>:<id>"); NULL for one made through the API.
          { name: 'key', type: 'varchar', length: '200', isNullable: true },
          { name: 'cron', type: 'varchar', length: '128', isNullable: true },
          { name: 'every_ms', type: 'bigint', isNullable: true },
          { name: 'timezone', type: 'varchar', length: '64' },
          { name: 'task', ...json },
          { name: 'overlap', type: 'varchar', length: '16' },
          { name: 'missed', type: 'varchar', length: '16' },
          { name: 'catch_up_limit', type: 'int' },
          { name: 'start_at', ...time, isNullable: true },
          { name: 'end_at', ...time, isNullable: true },
          { name: 'enabled', type: 'boolean' },
          { name: 'paused', type: 'boolean' },
          // NULL once the schedule has no tick left (past end_at).
          { name: 'next_run_at', ...time, isNullable: true },
          { name: 'last_tick_at', ...time, isNullable: true },
          { name: 'created_at', ...time },
          { name: 'updated_at', ...time },
        ],
      }),
    );
    await queryRunner.createIndices('schedules', [
      new TableIndex({ name: 'ix_schedules_tenant', columnNames: ['tenant_id', 'id'] }),
      new TableIndex({ name: 'ix_schedules_next_run', columnNames: ['next_run_at'] }),
      new TableIndex({ name: 'ux_schedules_tenant_key', columnNames: ['tenant_id', 'key'], isUnique: true }),
    ]);
    if (dialectOf(queryRunner) === 'mysql') await queryRunner.query('ALTER TABLE `schedules` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin');

    await queryRunner.addColumns('tasks', [
      new TableColumn({ name: 'schedule_id', ...uuid, isNullable: true }),
      // The tick's nominal time (not when it fired): the same value in every process.
      new TableColumn({ name: 'schedule_tick', ...time, isNullable: true }),
    ]);
    await queryRunner.createIndices('tasks', [
      new TableIndex({ name: 'ux_tasks_schedule_tick', columnNames: ['schedule_id', 'schedule_tick'], isUnique: true }),
      // A schedule's runs, newest first, per tenant (GET /v1/schedules/:id, GET /v1/tasks?scheduleId=).
      new TableIndex({ name: 'ix_tasks_tenant_schedule_id', columnNames: ['tenant_id', 'schedule_id', 'id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('tasks', 'ix_tasks_tenant_schedule_id');
    await queryRunner.dropIndex('tasks', 'ux_tasks_schedule_tick');
    await queryRunner.dropColumns('tasks', ['schedule_tick', 'schedule_id']);
    await queryRunner.dropTable('schedules');
  }
}
