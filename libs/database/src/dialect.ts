import type { DataSource, QueryRunner } from 'typeorm';

export type SqlDialect = 'postgres' | 'mysql';

/**
 * Column types that differ between the families, for migrations: ids, timestamps with
 * milliseconds (stored as UTC), and JSON.
 */
export function portableColumnTypes(queryRunner: QueryRunner) {
  const postgres = dialectOf(queryRunner) === 'postgres';
  return {
    uuid: postgres ? { type: 'uuid' } : { type: 'char', length: '36' },
    time: postgres ? { type: 'timestamptz', precision: 3 } : { type: 'datetime', precision: 3 },
    json: { type: postgres ? 'jsonb' : 'json' },
  };
}

/** The two SQL families Conveyor speaks; MariaDB counts as MySQL. */
export function dialectOf(source: DataSource | QueryRunner): SqlDialect {
  const dataSource = 'connection' in source ? source.connection : source;
  return dataSource.options.type === 'postgres' ? 'postgres' : 'mysql';
}
