import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * `trace_id` on tasks: the OpenTelemetry trace a task belongs to (32 hex digits), so an operator
 * goes from a task to its trace. Nullable: tasks created with tracing off, and every existing
 * row, have none.
 */
export class TaskTraceId1764000000014 implements MigrationInterface {
  name = 'TaskTraceId1764000000014';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'trace_id', type: 'varchar', length: '32', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('tasks', 'trace_id');
  }
}
