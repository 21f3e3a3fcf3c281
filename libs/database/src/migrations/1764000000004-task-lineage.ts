import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { portableColumnTypes } from '../dialect';

/**
 * Where a task comes from: `parent_id` (the task whose handler created it as a follow-up) and
 * `root_id` (the first task of the chain). Both are listed per tenant, newest first, so each
 * gets an index led by the tenant, like the other list filters.
 */
export class TaskLineage1764000000004 implements MigrationInterface {
  name = 'TaskLineage1764000000004';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid } = portableColumnTypes(queryRunner);
    await queryRunner.addColumns('tasks', [
      new TableColumn({ name: 'parent_id', ...uuid, isNullable: true }),
      new TableColumn({ name: 'root_id', ...uuid, isNullable: true }),
    ]);
    await queryRunner.createIndices('tasks', [
      new TableIndex({ name: 'ix_tasks_tenant_parent_id', columnNames: ['tenant_id', 'parent_id', 'id'] }),
      new TableIndex({ name: 'ix_tasks_tenant_root_id', columnNames: ['tenant_id', 'root_id', 'id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('tasks', 'ix_tasks_tenant_root_id');
    await queryRunner.dropIndex('tasks', 'ix_tasks_tenant_parent_id');
    await queryRunner.dropColumns('tasks', ['root_id', 'parent_id']);
  }
}
