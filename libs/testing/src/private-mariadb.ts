import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { asServerUser, processTree, serverDataDir, type PrivateDatabaseServer } from './private-postgres';
import { freePort, waitFor } from './test-infra';

const DATABASE = 'conveyor';

async function accepts(port: number): Promise<boolean> {
  try {
    const connection = await createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    await connection.query(`CREATE DATABASE IF NOT EXISTS \`${DATABASE}\` CHARACTER SET utf8mb4`);
    await connection.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * A throwaway MariaDB server (mariadb-install-db into a temp directory) on a free port, for
 * outage tests that stop or freeze the database; the machine's shared server is never touched.
 * One process: `pause` freezes it whole.
 */
export async function startPrivateMariaDb(): Promise<PrivateDatabaseServer> {
  const port = await freePort();
  const dataDir = serverDataDir('conveyor-mariadb-', 'mysql');
  const init = spawnSync('mariadb-install-db', ['--user=mysql', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal', '--skip-test-db'], {
    encoding: 'utf8',
  });
  if (init.status !== 0) throw new Error(`mariadb-install-db failed: ${init.stderr || init.stdout}`);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const signal = (name: NodeJS.Signals) => {
    for (const pid of child?.pid ? processTree(child.pid) : []) {
      try {
        process.kill(pid, name);
      } catch {
        // exited meanwhile
      }
    }
  };
  const server: PrivateDatabaseServer = {
    port,
    url: `mysql://root@127.0.0.1:${port}/${DATABASE}`,
    async start() {
      if (child) throw new Error('private mariadb is already running');
      const [command, args] = asServerUser('mysql', '/usr/sbin/mariadbd', [
        '--no-defaults',
        `--datadir=${dataDir}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${join(dataDir, 'mariadb.sock')}`,
        '--innodb-buffer-pool-size=16M',
        '--skip-log-bin',
      ]);
      const started = spawn(command, args, { stdio: 'ignore' });
      child = started;
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === started) child = undefined;
      });
      await waitFor(() => accepts(port), { timeoutMs: 30_000, intervalMs: 200, what: `private mariadb on port ${port}` });
    },
    async stop() {
      if (!child) return;
      signal('SIGCONT');
      signal('SIGTERM');
      await exited;
      child = undefined;
    },
    pause() {
      if (!child) throw new Error('private mariadb is not running');
      signal('SIGSTOP');
    },
    resume() {
      signal('SIGCONT');
    },
    async destroy() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
