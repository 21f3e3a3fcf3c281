import { TableColumn, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Client-chosen task ids: `client_id` on tasks (the `id` given on enqueue), unique per tenant.
 * A column of its own rather than the primary key: the ledger's id stays a UUIDv7 (time-ordered
 * paging, the BullMQ job id, unique across tenants), and a client may use any name it likes.
 * Nullable: existing rows have none. On MySQL/MariaDB the column takes the table's binary
 * collation (see BinaryIdentifiers1764000000003), so `A-1` and `a-1` are two ids everywhere.
 */
export class TaskClientIds1764000000015 implements MigrationInterface {
  name = 'TaskClientIds1764000000015';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'client_id', type: 'varchar', length: '128', isNullable: true }));
    await queryRunner.createIndex('tasks', new TableIndex({ name: 'ux_tasks_tenant_client_id', columnNames: ['tenant_id', 'client_id'], isUnique: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropIndex('tasks', 'ux_tasks_tenant_client_id');
    await queryRunner.dropColumn('tasks', 'client_id');
  }
}
