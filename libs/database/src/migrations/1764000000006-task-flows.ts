import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Flows: `on_failure` is the policy of the edge from a flow node to its parent (`parent_id`),
 * set on every node of a flow but its root; null for a task of its own and for a follow-up.
 * A flow parent waits in status `waiting` until its children settle it. Children are found by
 * (tenant_id, parent_id), the index TaskLineage1764000000004 made.
 */
export class TaskFlows1764000000006 implements MigrationInterface {
  name = 'TaskFlows1764000000006';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'on_failure', type: 'varchar', length: '16', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('tasks', 'on_failure');
  }
}
