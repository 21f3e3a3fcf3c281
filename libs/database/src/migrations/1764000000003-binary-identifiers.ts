import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialect';

/** Tables whose text MySQL/MariaDB must compare byte for byte, as PostgreSQL does. */
const TABLES = ['tasks', 'api_keys', 'files'];

/**
 * MySQL/MariaDB compare text case-insensitively by default (`utf8mb4_general_ci`), PostgreSQL
 * byte for byte. Keys, tenant ids, type names and tags are identifiers: `abc` and `ABC` are two
 * idempotency keys, and a unique index that thought otherwise answered a second client with a
 * duplicate-key error. Every text column of these tables becomes `utf8mb4_bin`, and so does the
 * tables' default for columns added later. PostgreSQL needs nothing.
 */
export class BinaryIdentifiers1764000000003 implements MigrationInterface {
  name = 'BinaryIdentifiers1764000000003';

  async up(queryRunner: QueryRunner): Promise<void> {
    if (dialectOf(queryRunner) !== 'mysql') return;
    for (const table of TABLES) await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    if (dialectOf(queryRunner) !== 'mysql') return;
    for (const table of TABLES) await queryRunner.query(`ALTER TABLE \`${table}\` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`);
  }
}
