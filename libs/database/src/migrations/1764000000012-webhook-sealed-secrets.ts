import type { MigrationInterface, QueryRunner } from 'typeorm';
import { dialectOf } from '../dialect';

/**
 * Webhook signing secrets are stored sealed (AES-256-GCM envelopes, about 120 characters), so
 * their columns widen from 128 to 255. Existing plain secrets stay as they are and remain
 * readable: the key lives in the apps' configuration, not here, and the worker seals them at
 * its next start (see the webhooks lib's SecretResealer). On MySQL/MariaDB the columns keep
 * their byte-wise collation.
 */
export class WebhookSealedSecrets1764000000012 implements MigrationInterface {
  name = 'WebhookSealedSecrets1764000000012';

  async up(queryRunner: QueryRunner): Promise<void> {
    await this.width(queryRunner, 255);
  }

  /** Only while every stored value fits again (plain secrets, i.e. before any was sealed). */
  async down(queryRunner: QueryRunner): Promise<void> {
    await this.width(queryRunner, 128);
  }

  private async width(queryRunner: QueryRunner, length: number): Promise<void> {
    if (dialectOf(queryRunner) === 'postgres') {
      await queryRunner.query(
        `ALTER TABLE webhook_endpoints ALTER COLUMN secret TYPE varchar(${length}), ALTER COLUMN previous_secret TYPE varchar(${length})`,
      );
      return;
    }
    await queryRunner.query(
      `ALTER TABLE \`webhook_endpoints\` MODIFY \`secret\` varchar(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, ` +
        `MODIFY \`previous_secret\` varchar(${length}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL`,
    );
  }
}
