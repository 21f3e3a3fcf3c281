import type { DataSource, QueryRunner } from 'typeorm';

export type SqlDialect = 'postgres' | 'mysql';

/** The two SQL families Conveyor speaks; MariaDB counts as MySQL. */
export function dialectOf(source: DataSource | QueryRunner): SqlDialect {
  const dataSource = 'connection' in source ? source.connection : source;
  return dataSource.options.type === 'postgres' ? 'postgres' : 'mysql';
}
