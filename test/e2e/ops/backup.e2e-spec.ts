import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { Client } from 'pg';
import { createTestDatabase, migrate, TEST_MYSQL_URL, uniqueName, type TestDatabase } from '@conveyor/testing';
import { ROOT, runCommand } from './support/ops-processes';

const SCRIPT = join(ROOT, 'scripts', 'backup.sh');

/**
 * scripts/backup.sh against the real PostgreSQL and MariaDB: a migrated ledger plus a marker
 * row is dumped, then restored into a fresh database, where both must be back.
 */
describe('scripts/backup.sh', () => {
  const databases: TestDatabase[] = [];
  let dir: string;
  const fresh = async (dialect: 'postgres' | 'mysql') => {
    const database = await createTestDatabase(dialect);
    databases.push(database);
    return database;
  };
  const backup = (env: Record<string, string>) => runCommand('bash', [SCRIPT], { ENV_FILE: '/nonexistent', BACKUP_DIR: dir, ...env });
  const dumpsOf = (database: string) =>
    readdirSync(dir)
      .filter((f) => f.startsWith(`conveyor-${database}-`))
      .sort();

  const pg = async <T>(url: string, work: (client: Client) => Promise<T>) => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  };
  const mysql = async <T>(url: string, work: (connection: Awaited<ReturnType<typeof createConnection>>) => Promise<T>) => {
    const connection = await createConnection({ uri: url });
    try {
      return await work(connection);
    } finally {
      await connection.end();
    }
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'conveyor-backup-'));
  });

  afterAll(async () => {
    for (const database of databases) await database.drop().catch(() => undefined);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('dumps PostgreSQL to a private .pgdump that pg_restore brings back into another database', async () => {
    const source = await fresh('postgres');
    await migrate({ DATABASE_URL: source.url });
    await pg(source.url, (c) => c.query(`CREATE TABLE backup_marker (note text); INSERT INTO backup_marker VALUES ('before the backup')`));

    const result = await backup({ DATABASE_URL: source.url });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const [dump] = dumpsOf(source.config.database);
    expect(dump).toMatch(/^conveyor-conveyor_t_\w+-\d{8}T\d{6}Z\.pgdump$/);
    expect(result.stdout).toContain(join(dir, dump));
    expect(statSync(join(dir, dump)).mode & 0o077).toBe(0);

    const target = await fresh('postgres');
    const restore = await runCommand('pg_restore', ['--no-owner', '--exit-on-error', '-d', target.url, join(dir, dump)], {});
    expect(restore.output).toBe('');
    expect(restore.code).toBe(0);
    const tables = (url: string) =>
      pg(url, async (c) =>
        (await c.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).rows.map((r) => r.table_name),
      );
    expect(await tables(target.url)).toEqual(await tables(source.url));
    expect(await tables(target.url)).toEqual(expect.arrayContaining(['tasks', 'backup_marker']));
    expect(await pg(target.url, async (c) => (await c.query('SELECT note FROM backup_marker')).rows)).toEqual([{ note: 'before the backup' }]);
  });

  it('dumps MariaDB with a password (kept off the command line) to a .sql.gz that restores elsewhere', async () => {
    const source = await fresh('mysql');
    await migrate({ DATABASE_URL: source.url });
    const user = uniqueName('bk').slice(0, 32);
    const password = 'p@ss:w/rd "quoted" \\ 100%';
    await mysql(TEST_MYSQL_URL, async (c) => {
      await c.query(`CREATE USER ?@'%' IDENTIFIED BY ?`, [user, password]);
      await c.query(`GRANT ALL ON \`${source.config.database}\`.* TO ?@'%'`, [user]);
    });
    try {
      await mysql(source.url, async (c) => {
        await c.query('CREATE TABLE backup_marker (note text)');
        await c.query(`INSERT INTO backup_marker VALUES ('before the backup')`);
      });
      const url = new URL(source.url);
      url.username = encodeURIComponent(user);
      url.password = encodeURIComponent(password);
      const result = await backup({ DATABASE_URL: url.toString() });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const [dump] = dumpsOf(source.config.database);
      expect(dump).toMatch(/\.sql\.gz$/);

      const target = await fresh('mysql');
      const server = new URL(TEST_MYSQL_URL);
      const restore = await runCommand(
        'sh',
        [
          '-c',
          `gunzip -c "$1" | mariadb -h "$2" -P "$3" -u root "$4"`,
          'restore',
          join(dir, dump),
          server.hostname,
          server.port || '3306',
          target.config.database,
        ],
        {},
      );
      expect(restore.output).toBe('');
      expect(restore.code).toBe(0);
      const [marker] = await mysql(target.url, (c) => c.query('SELECT note FROM backup_marker'));
      expect(marker).toEqual([{ note: 'before the backup' }]);
      const tables = async (url: string) =>
        ((await mysql(url, (c) => c.query('SHOW TABLES')))[0] as Array<Record<string, string>>).map((r) => Object.values(r)[0]).sort();
      expect(await tables(target.url)).toEqual(await tables(source.url));
      expect(await tables(target.url)).toEqual(expect.arrayContaining(['tasks', 'backup_marker']));
    } finally {
      await mysql(TEST_MYSQL_URL, (c) => c.query(`DROP USER IF EXISTS ?@'%'`, [user]));
    }
  });

  it('keeps the newest BACKUP_KEEP dumps of a database', async () => {
    const source = await fresh('postgres');
    for (let i = 0; i < 3; i++) {
      expect((await backup({ DATABASE_URL: source.url, BACKUP_KEEP: '2' })).code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // names carry the second
    }
    const kept = dumpsOf(source.config.database);
    expect(kept).toHaveLength(2);
  });

  it('fails without leaving a partial file, and refuses a missing configuration', async () => {
    const before = readdirSync(dir).sort();
    const unreachable = await backup({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/conveyor' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/pg_dump of conveyor on 127.0.0.1:1 failed/);
    expect(readdirSync(dir).sort()).toEqual(before);

    const missing = await backup({});
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/set DATABASE_URL/);
  });
});
