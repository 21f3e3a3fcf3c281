import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '@conveyor/config';
import { MIGRATIONS } from './migrations';

/** Client-side grace past the server's statement timeout before a connection counts as hung. */
const UNANSWERED_GRACE_MS = 1000;

/**
 * A pg client that drops its connection when a query goes unanswered past `query_timeout`.
 * pg only rejects the query and keeps the connection, still waiting for the answer; a frozen
 * server would then run that statement when it wakes (and a transaction left open on it would
 * be reused by the next caller). Closing the socket makes the server abort whatever it had of
 * this session, so a statement the caller gave up on can never commit later.
 */
export class HangSafeClient extends Client {
  query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => unknown)(...args);
    if (result instanceof Promise) {
      result.catch((error: unknown) => {
        if (error instanceof Error && error.message === 'Query read timeout') this.connection.stream.destroy();
      });
    }
    return result as never;
  }
}

/**
 * TypeORM options for either SQL family. Entities are added by the modules that own them
 * (`autoLoadEntities` in Nest, explicit lists in scripts); migrations live here, in one place.
 * Every wait on the database is bounded: getting a connection by `connectTimeoutMs`, a
 * statement by `statementTimeoutMs` (the server cancels it) plus a grace on the client (for a
 * server that stopped answering at all), so an outage turns into quick errors, never hung requests.
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
    return {
      ...common,
      type: 'postgres',
      extra: {
        max: db.poolSize,
        Client: HangSafeClient,
        // pg-pool applies it to opening a connection and to waiting for a free one.
        connectionTimeoutMillis: db.connectTimeoutMs,
        statement_timeout: db.statementTimeoutMs,
        query_timeout: db.statementTimeoutMs + UNANSWERED_GRACE_MS,
        keepAlive: true,
      },
    };
  }
  return {
    ...common,
    type: 'mysql',
    // Dates go to the database as UTC; DATETIME has no zone of its own.
    timezone: 'Z',
    supportBigNumbers: true,
    connectTimeout: db.connectTimeoutMs,
    // mysql2's per-query timeout, measured from when the statement is sent.
    enableQueryTimeout: true,
    maxQueryExecutionTime: db.statementTimeoutMs + UNANSWERED_GRACE_MS,
    extra: { connectionLimit: db.poolSize, enableKeepAlive: true },
  };
}
