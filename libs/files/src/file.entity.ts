import { Column, Entity, PrimaryColumn } from 'typeorm';

export const FILE_KINDS = ['upload', 'output', 'rejects', 'report', 'export'] as const;
export type FileKind = (typeof FILE_KINDS)[number];

/** Metadata of a stored file; the bytes live in the FileStorage under `storageKey`. */
@Entity({ name: 'files' })
export class FileEntity {
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  @Column({ type: 'varchar', length: 16 })
  kind: FileKind;

  /** Display name, sanitised; never used to build a path. */
  @Column({ type: 'varchar', length: 255 })
  name: string;

  @Column({ name: 'content_type', type: 'varchar', length: 128 })
  contentType: string;

  /** Bytes; a string from PostgreSQL's bigint is converted by the transformer. */
  @Column({ type: 'bigint', transformer: { to: (value: number) => value, from: (value: string | number) => Number(value) } })
  size: number;

  @Column({ type: 'char', length: 64 })
  sha256: string;

  @Column({ name: 'storage_key', type: 'varchar', length: 200 })
  storageKey: string;

  /** The task that produced this file (outputs), so retention can remove both together. */
  @Column({ name: 'task_id', type: 'varchar', length: 36, nullable: true })
  taskId: string | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;
}
