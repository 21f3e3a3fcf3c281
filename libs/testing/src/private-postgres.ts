import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, waitFor } from './test-infra';

/** A throwaway database server of a test's own, which the test may stop or freeze. */
export interface PrivateDatabaseServer {
  readonly port: number;
  /** A database on the private server, as a DATABASE_URL. */
  readonly url: string;
  /** (Re)starts the server on the same port and data directory. */
  start(): Promise<void>;
  /** Shuts it down and waits for the exit. */
  stop(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and go unanswered. */
  pause(): void;
  /** Thaws it (SIGCONT): it reads and runs whatever was sent while it was frozen. */
  resume(): void;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

/** The newest PostgreSQL server binaries installed from Debian's packages. */
function serverBinaries(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))) : [];
  if (versions.length === 0) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)');
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0], 'bin');
}

/** Database servers refuse to run as root: as root, the server runs as its own system user. */
export function asServerUser(user: string, command: string, args: string[]): [string, string[]] {
  return userInfo().uid === 0 ? ['runuser', ['-u', user, '--', command, ...args]] : [command, args];
}

/** A fresh temporary data directory, owned by `user` when running as root. */
export function serverDataDir(prefix: string, user: string): string {
  const dataDir = mkdtempSync(join(tmpdir(), prefix));
  if (userInfo().uid === 0) {
    const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    chownSync(dataDir, Number(uid.stdout), Number(gid.stdout));
  }
  return dataDir;
}

/** `root` and all its descendants, parents first. */
export function processTree(root: number): number[] {
  const table = spawnSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' }).stdout.trim().split('\n');
  const children = new Map<number, number[]>();
  for (const line of table) {
    const [pid, ppid] = line.trim().split(/\s+/).map(Number);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree = [root];
  for (let i = 0; i < tree.length; i += 1) tree.push(...(children.get(tree[i]) ?? []));
  return tree;
}

function accepts(url: string): Promise<boolean> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  return client.connect().then(
    () => client.end().then(() => true),
    () => false,
  );
}

/**
 * A throwaway PostgreSQL server (initdb into a temp directory) on a free port, for outage
 * tests that stop or freeze the database: the machine's shared server must never be touched.
 * `pause` freezes the server and every backend process it has forked.
 */
export async function startPrivatePostgres(): Promise<PrivateDatabaseServer> {
  const bin = serverBinaries();
  const port = await freePort();
  const dataDir = serverDataDir('conveyor-pg-', 'postgres');
  const [initCommand, initArgs] = asServerUser('postgres', join(bin, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const init = spawnSync(initCommand, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  // Backends call setsid(), so the server is signalled as a process tree, not a group.
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!child?.pid) return;
    for (const pid of processTree(child.pid)) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  };
  const server: PrivateDatabaseServer = {
    port,
    url,
    async start() {
      if (child) throw new Error('private postgres is already running');
      const [command, args] = asServerUser('postgres', join(bin, 'postgres'), [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        `unix_socket_directories=${dataDir}`,
        '-c',
        'fsync=off',
        '-c',
        'full_page_writes=off',
        '-c',
        'synchronous_commit=off',
      ]);
      const started = spawn(command, args, { stdio: 'ignore' });
      child = started;
      exited = new Promise((resolve) => started.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === started) child = undefined;
      });
      await waitFor(() => accepts(url), { timeoutMs: 20_000, intervalMs: 100, what: `private postgres on port ${port}` });
    },
    async stop() {
      if (!child) return;
      signalGroup('SIGCONT');
      // SIGINT to the postmaster alone (not runuser): PostgreSQL's fast shutdown.
      // Under runuser the postmaster is its child; without it, the child itself.
      const pid = child.pid!;
      const postmaster = userInfo().uid === 0 ? processTree(pid)[1] : pid;
      process.kill(postmaster ?? pid, 'SIGINT');
      await exited;
      child = undefined;
    },
    pause() {
      if (!child) throw new Error('private postgres is not running');
      signalGroup('SIGSTOP');
    },
    resume() {
      signalGroup('SIGCONT');
    },
    async destroy() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await server.start();
  return server;
}
