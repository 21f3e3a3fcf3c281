import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@conveyor/config';
import { MIGRATIONS } from './migrations';

/**
 * TypeORM options for either SQL family. Entities are added by the modules that own them
 * (`autoLoadEntities` in Nest, explicit lists in scripts); migrations live here, in one place.
 */
export function buildDataSourceOptions(db: DatabaseConfig, entities: DataSourceOptions['entities'] = []): DataSourceOptions {
  const common = {
    entities,
    migrations: MIGRATIONS,
    migrationsTableName: 'conveyor_migrations',
    synchronize: false,
    logging: false,
    host: db.host,
    port: db.port,
    username: db.username,
    password: db.password,
    database: db.database,
    ssl: db.ssl ? { rejectUnauthorized: false } : undefined,
  } as const;
  if (db.type === 'postgres') {
    return { ...common, type: 'postgres', extra: { max: db.poolSize } };
  }
  return {
    ...common,
    type: 'mysql',
    // Dates go to the database as UTC; DATETIME has no zone of its own.
    timezone: 'Z',
    supportBigNumbers: true,
    extra: { connectionLimit: db.poolSize },
  };
}
