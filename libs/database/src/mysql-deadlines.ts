import type { DataSource } from 'typeorm';

/** The parts of a mysql2 pool and its connections this file touches. */
interface PooledConnection {
  query: (...args: unknown[]) => unknown;
  release(): void;
  destroy(): void;
}
interface Mysql2Pool {
  getConnection(callback: (error: Error | null, connection?: PooledConnection) => void): void;
  on(event: 'connection', listener: (connection: PooledConnection) => void): void;
  /** mysql2's own list of the pool's connections (a ring queue). */
  _allConnections?: { toArray(): PooledConnection[] };
}

const HARDENED = Symbol('conveyor.hardened');

/** A connection drops itself when a query times out, instead of going back to the pool still waiting. */
function dropOnTimeout(connection: PooledConnection & { [HARDENED]?: true }): void {
  if (connection[HARDENED]) return;
  connection[HARDENED] = true;
  const query = connection.query.bind(connection);
  connection.query = (...args: unknown[]) => {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (error: (Error & { code?: string }) | null, ...rest: unknown[]) => void;
      args[last] = (error: (Error & { code?: string }) | null, ...rest: unknown[]) => {
        if (error?.code === 'PROTOCOL_SEQUENCE_TIMEOUT') connection.destroy();
        callback(error, ...rest);
      };
    }
    return query(...args);
  };
}

/**
 * The bounds mysql2 lacks, given to TypeORM's MySQL/MariaDB pool (PostgreSQL gets them from
 * pg, see HangSafeClient):
 * - waiting for a pooled connection ends after `acquireTimeoutMs` with an error the API maps to
 *   503 (mysql2 queues such waits for ever);
 * - a connection whose query timed out is destroyed, not handed back to the pool: mysql2 keeps
 *   it waiting for the answer, the next user's statements would queue behind it with no timer
 *   of their own, and whatever it sent could still run on a server that wakes up. Destroying it
 *   makes the server roll back the open transaction when it sees the connection gone.
 */
export function boundMysqlPool(dataSource: DataSource, acquireTimeoutMs: number): void {
  const pool = (dataSource.driver as unknown as { pool?: Mysql2Pool }).pool;
  if (!pool) return;
  for (const connection of pool._allConnections?.toArray() ?? []) dropOnTimeout(connection);
  pool.on('connection', dropOnTimeout);
  const getConnection = pool.getConnection.bind(pool);
  pool.getConnection = (callback) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      callback(Object.assign(new Error('timeout exceeded when trying to connect'), { code: 'ETIMEDOUT', syscall: 'connect' }));
    }, acquireTimeoutMs);
    getConnection((error, connection) => {
      if (settled) {
        // The caller gave up: a connection that turns up late goes straight back.
        connection?.release();
        return;
      }
      settled = true;
      clearTimeout(timer);
      callback(error, connection);
    });
  };
}
