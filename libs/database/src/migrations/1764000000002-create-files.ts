import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { portableColumnTypes } from '../dialect';

/** Metadata of stored files (uploads and task outputs); the bytes live in the file storage. */
export class CreateFiles1764000000002 implements MigrationInterface {
  name = 'CreateFiles1764000000002';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time } = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'files',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'kind', type: 'varchar', length: '16' },
          { name: 'name', type: 'varchar', length: '255' },
          { name: 'content_type', type: 'varchar', length: '128' },
          { name: 'size', type: 'bigint' },
          { name: 'sha256', type: 'char', length: '64' },
          { name: 'storage_key', type: 'varchar', length: '200' },
          { name: 'task_id', ...uuid, isNullable: true },
          { name: 'created_at', ...time },
        ],
      }),
    );
    await queryRunner.createIndices('files', [
      new TableIndex({ name: 'ix_files_tenant', columnNames: ['tenant_id', 'id'] }),
      new TableIndex({ name: 'ix_files_task', columnNames: ['task_id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('files');
  }
}
