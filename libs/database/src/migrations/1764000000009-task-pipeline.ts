import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';
import { portableColumnTypes } from '../dialect';

/**
 * `pipeline` on tasks: for a task of a pipeline (`then` steps), the input it was handed and the
 * steps still to run after it. Nullable, read only with its row: no index.
 */
export class TaskPipeline1764000000009 implements MigrationInterface {
  name = 'TaskPipeline1764000000009';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { json } = portableColumnTypes(queryRunner);
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'pipeline', ...json, isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('tasks', 'pipeline');
  }
}
