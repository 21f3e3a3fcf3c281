import { TableColumn, type MigrationInterface, type QueryRunner } from 'typeorm';

/**
 * Per-task callbacks: `callback_url` on tasks (the URL of `callback: {url}`), a `kind` on webhook
 * endpoints (`endpoint`, or `callback`: one per tenant, holding the secret callbacks are signed
 * with and hearing no subscription), and a `url` on deliveries (a callback's own target, in place
 * of its endpoint's). All nullable or defaulted: existing rows keep their meaning.
 */
export class TaskCallbacks1764000000010 implements MigrationInterface {
  name = 'TaskCallbacks1764000000010';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.addColumn('tasks', new TableColumn({ name: 'callback_url', type: 'varchar', length: '2048', isNullable: true }));
    await queryRunner.addColumn('webhook_endpoints', new TableColumn({ name: 'kind', type: 'varchar', length: '16', default: "'endpoint'" }));
    await queryRunner.addColumn('webhook_deliveries', new TableColumn({ name: 'url', type: 'varchar', length: '2048', isNullable: true }));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropColumn('webhook_deliveries', 'url');
    await queryRunner.dropColumn('webhook_endpoints', 'kind');
    await queryRunner.dropColumn('tasks', 'callback_url');
  }
}
