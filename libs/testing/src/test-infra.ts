import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { createConnection } from 'mysql2/promise';
import type { DatabaseConfig, RedisConfig } from '@conveyor/config';
import type { SqlDialect } from '@conveyor/database';

/**
 * Shared helpers for integration and e2e tests. Every test run gets its own database and
 * its own BullMQ key prefix, so parallel runs and leftovers never collide.
 */

export const TEST_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEST_MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const DIALECTS: SqlDialect[] = ['postgres', 'mysql'];

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}

export interface TestDatabase {
  config: DatabaseConfig;
  url: string;
  drop(): Promise<void>;
}

/** A fresh, empty database on the real server; `drop()` removes it. Names start with `conveyor_t_`. */
export async function createTestDatabase(dialect: SqlDialect): Promise<TestDatabase> {
  const name = uniqueName('conveyor_t');
  const serverUrl = new URL(dialect === 'postgres' ? TEST_POSTGRES_URL : TEST_MYSQL_URL);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const config: DatabaseConfig = {
    type: dialect,
    url: url.toString(),
    host: url.hostname,
    port: Number(url.port),
    username: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || undefined,
    database: name,
    ssl: false,
    poolSize: 5,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 15_000,
    migrationsRun: false,
  };
  const admin = async (sql: string) => {
    if (dialect === 'postgres') {
      const client = new Client({ connectionString: serverUrl.toString() });
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    } else {
      const connection = await createConnection({ uri: serverUrl.toString() });
      try {
        await connection.query(sql);
      } finally {
        await connection.end();
      }
    }
  };
  await admin(dialect === 'postgres' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  return {
    config,
    url: url.toString(),
    drop: () => admin(dialect === 'postgres' ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)` : `DROP DATABASE IF EXISTS \`${name}\``),
  };
}

export function testRedisConfig(): RedisConfig {
  const url = new URL(TEST_REDIS_URL);
  return { url: TEST_REDIS_URL, host: url.hostname, port: Number(url.port || 6379), db: 0, tls: false };
}

/** A TCP port free right now on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Polls `probe` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Deletes every Redis key under a BullMQ prefix (cleanup after a test run). */
export async function deleteRedisPrefix(prefix: string): Promise<void> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
