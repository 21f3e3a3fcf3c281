import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitFor } from '@conveyor/testing';

const run = promisify(execFile);

/**
 * Private Redis Cluster and Sentinel deployments for the scale-out tests: redis-server child
 * processes on free loopback ports, in a temporary directory, never persisted, all removed by
 * stop(). The machine's shared Redis is never touched.
 */

/** One redis-server (or sentinel) child process. */
export interface RedisNodeProcess {
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** SIGKILL: no shutdown, no failover handshake, like a lost machine. */
  kill(): Promise<void>;
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 60_000 });
  return stdout.trim();
}

async function spawnRedis(port: number, dir: string, extra: string[]): Promise<RedisNodeProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(async () => (await redisCli(port, 'PING').catch(() => '')) === 'PONG', { timeoutMs: 15_000, what: `redis on port ${port}` });
  return {
    port,
    child,
    exited,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

async function stopAll(nodes: RedisNodeProcess[], dir: string): Promise<void> {
  await Promise.all(nodes.map((node) => node.kill()));
  rmSync(dir, { recursive: true, force: true });
}

export interface RedisClusterDeployment {
  nodes: RedisNodeProcess[];
  /** REDIS_CLUSTER_NODES for the apps. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A three-master Redis Cluster (no replicas) made with `redis-cli --cluster create`. Each node's
 * bus port is allocated too (`--cluster-port`), since port + 10000 may not be free or valid.
 */
export async function startRedisCluster(masters = 3): Promise<RedisClusterDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-cluster-'));
  const nodes: RedisNodeProcess[] = [];
  try {
    for (let i = 0; i < masters; i += 1) {
      const [port, busPort] = [await freePort(), await freePort()];
      const nodeDir = mkdtempSync(join(dir, 'node-'));
      nodes.push(
        await spawnRedis(port, nodeDir, ['--cluster-enabled', 'yes', '--cluster-port', String(busPort), '--cluster-config-file', join(nodeDir, 'nodes.conf')]),
      );
    }
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 60_000,
    });
    await waitFor(
      async () => (await Promise.all(nodes.map((node) => redisCli(node.port, 'CLUSTER', 'INFO')))).every((info) => info.includes('cluster_state:ok')),
      {
        timeoutMs: 30_000,
        what: 'cluster_state:ok on every node',
      },
    );
  } catch (error) {
    await stopAll(nodes, dir);
    throw error;
  }
  return {
    nodes,
    env: { REDIS_CLUSTER_NODES: nodes.map((node) => `127.0.0.1:${node.port}`).join(',') },
    stop: () => stopAll(nodes, dir),
  };
}

export interface RedisSentinelDeployment {
  master: RedisNodeProcess;
  replica: RedisNodeProcess;
  sentinels: RedisNodeProcess[];
  masterName: string;
  /** REDIS_SENTINELS and REDIS_SENTINEL_NAME for the apps. */
  env: Record<string, string>;
  /** The port of the server the sentinels call master now. */
  currentMasterPort(): Promise<number>;
  /**
   * Closes the master's connections to its replicas (CLIENT KILL TYPE replica): with the replica
   * frozen (SIGSTOP) it cannot reconnect, so what the master accepts from then on never reaches it.
   */
  cutReplication(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One master, one replica, three sentinels (quorum 2) watching them with short timeouts, so a
 * killed master is replaced within a few seconds.
 */
export async function startRedisSentinel(options: { downAfterMs?: number } = {}): Promise<RedisSentinelDeployment> {
  const dir = mkdtempSync(join(tmpdir(), 'conveyor-sentinel-'));
  const masterName = 'conveyor-test';
  const all: RedisNodeProcess[] = [];
  try {
    const master = await spawnRedis(await freePort(), mkdtempSync(join(dir, 'master-')), []);
    all.push(master);
    const replica = await spawnRedis(await freePort(), mkdtempSync(join(dir, 'replica-')), ['--replicaof', '127.0.0.1', String(master.port)]);
    all.push(replica);
    await waitFor(async () => (await redisCli(replica.port, 'INFO', 'replication')).includes('master_link_status:up'), {
      timeoutMs: 30_000,
      what: 'the replica in sync',
    });
    const sentinels: RedisNodeProcess[] = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const sentinelDir = mkdtempSync(join(dir, 'sentinel-'));
      // A sentinel rewrites its config file, so each gets one of its own (sentinel mode needs a file).
      const config = join(sentinelDir, 'sentinel.conf');
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${sentinelDir}`,
        `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${masterName} 10000`,
        `sentinel parallel-syncs ${masterName} 1`,
      ];
      writeFileSync(config, `${lines.join('\n')}\n`);
      const child = spawn('redis-server', [config, '--sentinel'], { stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const sentinel: RedisNodeProcess = {
        port,
        child,
        exited,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      };
      all.push(sentinel);
      sentinels.push(sentinel);
    }
    const currentMasterPort = async () => Number((await redisCli(sentinels[0].port, 'SENTINEL', 'get-master-addr-by-name', masterName)).split('\n')[1]);
    // Every sentinel knows the master, the replica and the two other sentinels before the test starts.
    await waitFor(
      async () => {
        for (const sentinel of sentinels) {
          const info = await redisCli(sentinel.port, 'SENTINEL', 'master', masterName);
          const field = (name: string) => Number(info.split('\n')[info.split('\n').indexOf(name) + 1]);
          if (field('num-slaves') < 1 || field('num-other-sentinels') < 2) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: 'sentinels that know each other and the replica' },
    );
    return {
      master,
      replica,
      sentinels,
      masterName,
      env: { REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), REDIS_SENTINEL_NAME: masterName },
      currentMasterPort,
      cutReplication: async () => void (await redisCli(master.port, 'CLIENT', 'KILL', 'TYPE', 'replica')),
      stop: () => stopAll(all, dir),
    };
  } catch (error) {
    await stopAll(all, dir);
    throw error;
  }
}
