import { Table, TableIndex, type MigrationInterface, type QueryRunner } from 'typeorm';
import { portableColumnTypes } from '../dialect';

/** API keys: only a sha256 of each key is stored, with a short prefix to recognise it. */
export class CreateApiKeys1764000000001 implements MigrationInterface {
  name = 'CreateApiKeys1764000000001';

  async up(queryRunner: QueryRunner): Promise<void> {
    const { uuid, time, json } = portableColumnTypes(queryRunner);
    await queryRunner.createTable(
      new Table({
        name: 'api_keys',
        columns: [
          { name: 'id', ...uuid, isPrimary: true },
          { name: 'tenant_id', type: 'varchar', length: '64' },
          { name: 'prefix', type: 'varchar', length: '16' },
          { name: 'key_hash', type: 'char', length: '64' },
          { name: 'scopes', ...json },
          { name: 'name', type: 'varchar', length: '128', isNullable: true },
          { name: 'created_at', ...time },
          { name: 'revoked_at', ...time, isNullable: true },
        ],
      }),
    );
    await queryRunner.createIndices('api_keys', [
      new TableIndex({ name: 'ux_api_keys_hash', columnNames: ['key_hash'], isUnique: true }),
      new TableIndex({ name: 'ix_api_keys_tenant', columnNames: ['tenant_id'] }),
    ]);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.dropTable('api_keys');
  }
}
