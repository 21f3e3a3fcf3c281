import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { Scope } from '@conveyor/http';

/** An API key: only its sha256 is stored, with a short prefix to recognise it in lists. */
@Entity({ name: 'api_keys' })
export class ApiKeyEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 16 })
  prefix: string;

  @Column({ name: 'key_hash', type: 'char', length: 64 })
  keyHash: string;

  @Column({ type: 'json' })
  scopes: Scope[];

  @Column({ type: 'varchar', length: 128, nullable: true })
  name: string | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'revoked_at', type: 'timestamp', precision: 3, nullable: true })
  revokedAt: Date | null;
}
